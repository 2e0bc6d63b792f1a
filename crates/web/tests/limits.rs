//! What one stranger cannot do to the web app: guess passwords at full
//! speed (per address, per account), register without end, queue password
//! hashes without bound, create huge or countless events; and "my events"
//! comes in pages. One node over the in-memory database, real HTTP over
//! loopback; clients that must be "other addresses" connect from
//! 127.0.0.x, each its own loopback address on Linux.

mod support;

use std::collections::HashSet;
use std::net::IpAddr;

use convene_web::client::{HttpClient, HttpResponse};
use serde_json::{Value, json};
use support::{TestNode, csrf_of, error_of, from_now, limits_with};

const PASSWORD: &str = "password1";

fn from(node: &TestNode, last_octet: u8) -> HttpClient {
    let local: IpAddr = [127, 0, 0, last_octet].into();
    node.client().from_address(local)
}

async fn api_login(client: &mut HttpClient, name: &str, password: &str) -> HttpResponse {
    client
        .post_json(
            "/api/login",
            &json!({"username": name, "password": password}),
        )
        .await
        .unwrap()
}

async fn api_register(client: &mut HttpClient, name: &str) -> HttpResponse {
    client
        .post_json(
            "/api/register",
            &json!({"username": name, "password": PASSWORD}),
        )
        .await
        .unwrap()
}

/// The login page's form POSTed with its own CSRF token.
async fn page_login(client: &mut HttpClient, name: &str, password: &str) -> HttpResponse {
    let form = client.get("/login").await.unwrap();
    let csrf = csrf_of(&form.text());
    client
        .post_form(
            "/login",
            &[("csrf", &csrf), ("username", name), ("password", password)],
        )
        .await
        .unwrap()
}

/// `Retry-After` as a number of seconds (it must be one).
fn retry_after(r: &HttpResponse) -> u64 {
    let value = r.header("retry-after").expect("a Retry-After header");
    value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After: {value}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_from_one_address_is_refused_even_with_the_right_password() {
    let node = TestNode::start_with(&limits_with(&[("logins_per_minute_per_ip", 5)])).await;
    let mut owner = node.client();
    assert_eq!(api_register(&mut owner, "alice").await.status, 201);

    let mut guesser = node.client();
    for i in 0..5 {
        let r = api_login(&mut guesser, "alice", &format!("guess{i}xx")).await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // The sixth attempt in the minute, with the right password: refused
    // all the same, before any password is checked.
    let r = api_login(&mut guesser, "alice", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!((1..=60).contains(&retry_after(&r)), "{:?}", r.headers);
    assert!(
        error_of(&r).starts_with("too many login attempts from your address; try again in"),
        "{}",
        r.text()
    );
    assert!(guesser.cookie("convene_session").is_none());
    // Other accounts from the same address too.
    let r = api_login(&mut guesser, "bob", PASSWORD).await;
    assert_eq!(r.status, 429);
    // Claiming to be someone else changes nothing: no proxy is trusted.
    let r = forwarded_login(&mut guesser, "203.0.113.9", "alice").await;
    assert_eq!(r.status, 429, "{}", r.text());

    // The login page shows the form again with the reason.
    let r = page_login(&mut guesser, "alice", PASSWORD).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    let page = r.text();
    assert!(
        page.contains("Too many login attempts from your address"),
        "{page}"
    );
    assert!(page.contains("action=\"/login\"") && page.contains("value=\"alice\""));

    // Another address is not limited by this one's flood.
    let mut elsewhere = from(&node, 2);
    let r = api_login(&mut elsewhere, "alice", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    node.stop().await;
}

/// `POST /api/login` saying `X-Forwarded-For: forwarded`.
async fn forwarded_login(client: &mut HttpClient, forwarded: &str, name: &str) -> HttpResponse {
    let body = serde_json::to_vec(&json!({"username": name, "password": PASSWORD})).unwrap();
    let headers = [
        ("content-type", "application/json"),
        ("x-forwarded-for", forwarded),
    ];
    client
        .request("POST", "/api/login", &headers, &body)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance() {
    let limits = limits_with(&[("logins_per_minute_per_ip", 2)]);
    let node = TestNode::start_with(&format!("{limits}trusted_proxies = [\"127.0.0.1\"]\n")).await;
    assert_eq!(api_register(&mut node.client(), "alice").await.status, 201);
    // The "proxy" (this test, on 127.0.0.1) forwards two clients.
    let mut proxy = node.client();
    for _ in 0..2 {
        let r = forwarded_login(&mut proxy, "203.0.113.1", "alice").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = forwarded_login(&mut proxy, "203.0.113.1", "alice").await;
    assert_eq!(r.status, 429, "{}", r.text());
    // What a client writes to the left of the proxy's entry is ignored.
    let r = forwarded_login(&mut proxy, "198.51.100.1, 203.0.113.1", "alice").await;
    assert_eq!(r.status, 429, "{}", r.text());
    let r = forwarded_login(&mut proxy, "203.0.113.2", "alice").await;
    assert_eq!(r.status, 200, "{}", r.text());
    // A peer that is not the proxy is counted by its own address.
    let mut direct = from(&node, 2);
    for _ in 0..2 {
        let r = forwarded_login(&mut direct, "203.0.113.3", "alice").await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let r = forwarded_login(&mut direct, "203.0.113.4", "alice").await;
    assert_eq!(r.status, 429, "{}", r.text());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_at_one_account_from_many_addresses_are_limited_per_account() {
    let node = TestNode::start_with(&limits_with(&[("logins_per_minute_per_account", 3)])).await;
    assert_eq!(api_register(&mut node.client(), "alice").await.status, 201);
    assert_eq!(api_register(&mut node.client(), "bob").await.status, 201);
    for octet in 2..5 {
        let r = api_login(&mut from(&node, octet), "alice", "wrong-guess").await;
        assert_eq!(r.status, 401, "{}", r.text());
    }
    // A fourth address, the right password: the account is resting.
    let mut fourth = from(&node, 5);
    let r = api_login(&mut fourth, "alice", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.text());
    assert!((1..=60).contains(&retry_after(&r)));
    assert!(error_of(&r).starts_with("too many login attempts for this account"));
    // A name nobody has is limited the same way: no hint of which exist.
    for octet in 6..9 {
        let r = api_login(&mut from(&node, octet), "nobody", "wrong-guess").await;
        assert_eq!(r.status, 401);
    }
    let r = api_login(&mut from(&node, 9), "nobody", "wrong-guess").await;
    assert_eq!(r.status, 429);
    assert!(error_of(&r).starts_with("too many login attempts for this account"));
    // Other accounts are not held back.
    let r = api_login(&mut fourth, "bob", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_flood_from_one_address_is_refused() {
    let node = TestNode::start_with(&limits_with(&[("registrations_per_hour_per_ip", 3)])).await;
    let mut flood = node.client();
    for i in 0..3 {
        let r = api_register(&mut flood, &format!("bot{i}")).await;
        assert_eq!(r.status, 201, "{}", r.text());
    }
    let r = api_register(&mut flood, "bot3").await;
    assert_eq!(r.status, 429, "{}", r.text());
    // A third of an hour until the next may be made.
    assert!((1..=1200).contains(&retry_after(&r)), "{:?}", r.headers);
    assert!(error_of(&r).starts_with("too many accounts registered from your address"));
    assert!(node.db.stored_user("bot3").is_none());

    // The register page: the form again, with the reason.
    let form = flood.get("/register").await.unwrap();
    let csrf = csrf_of(&form.text());
    let r = flood
        .post_form(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "bot4"),
                ("password", PASSWORD),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_some());
    assert!(
        r.text()
            .contains("Too many accounts registered from your address")
    );
    assert!(r.text().contains("action=\"/register\""));
    assert!(node.db.stored_user("bot4").is_none());

    let r = api_register(&mut from(&node, 2), "person").await;
    assert_eq!(r.status, 201, "{}", r.text());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_password_queue_answers_503_at_once() {
    let node = TestNode::start_with(&limits_with(&[("password_hash_queue", 1)])).await;
    assert_eq!(api_register(&mut node.client(), "alice").await.status, 201);
    // Forty logins at once: a hash per core runs, one waits, and the rest
    // find the queue full.
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let mut client = node.client();
        tasks.push(tokio::spawn(async move {
            api_login(&mut client, "alice", PASSWORD).await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        let r = task.await.unwrap();
        if r.status == 503 {
            assert_eq!(retry_after(&r), 1);
            assert_eq!(
                error_of(&r),
                "the server is busy checking other passwords; try again in a moment"
            );
        }
        statuses.push(r.status);
    }
    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(statuses.contains(&200), "{statuses:?}");
    // Once the queue has drained, logins work again.
    let r = api_login(&mut node.client(), "alice", PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text());
    node.stop().await;
}

/// The ids of `who`'s events, through the API, all pages.
async fn listed_ids(client: &mut HttpClient) -> Vec<String> {
    let (ids, _) = walk_api(client, 100).await;
    ids
}

/// Follows `next` from the first page of `GET /api/events?limit=size`;
/// the ids in order, and how many pages.
async fn walk_api(client: &mut HttpClient, size: usize) -> (Vec<String>, usize) {
    let mut ids = Vec::new();
    let mut path = format!("/api/events?limit={size}");
    let mut pages = 0;
    loop {
        let r = client.get(&path).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let page = r.json().unwrap();
        pages += 1;
        let events = page["events"].as_array().unwrap();
        assert!(events.len() <= size);
        ids.extend(events.iter().map(|e| e["id"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/events?limit={size}&after={next}"),
            None => return (ids, pages),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_beyond_the_caps_are_refused_and_leave_nothing() {
    let node = TestNode::start_with(&limits_with(&[
        ("participants_per_event", 3),
        ("open_events_per_user", 2),
    ]))
    .await;
    let mut alice = node.user("alice").await;
    for name in ["bob", "cy", "dee"] {
        node.user(name).await;
    }
    let event = |name: &str, participants: &[&str]| json!({"name": name, "participants": participants, "deadline": from_now(3600)});

    // Four people, alice included: one too many.
    let r = alice
        .post_json("/api/events", &event("Big", &["bob", "cy", "dee"]))
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        error_of(&r),
        "an event may have at most 3 participants, you included; this one has 4"
    );
    assert!(listed_ids(&mut alice).await.is_empty());
    // Three, alice named again among them, is fine.
    for name in ["One", "Two"] {
        let r = alice
            .post_json("/api/events", &event(name, &["alice", "bob", "cy"]))
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
    }
    // A third open event: refused, nothing stored.
    let r = alice
        .post_json("/api/events", &event("Three", &["bob"]))
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        error_of(&r).starts_with(
            "you have 2 events whose deadline has not passed, and one person may have at most 2;"
        ),
        "{}",
        r.text()
    );
    assert_eq!(listed_ids(&mut alice).await.len(), 2);

    // The page says so on the form, with what was typed.
    let form = alice.get("/events/new").await.unwrap();
    let csrf = csrf_of(&form.text());
    let r = alice
        .post_form(
            "/events/new",
            &[
                ("csrf", &csrf),
                ("name", "Three again"),
                ("participants", "bob"),
                ("deadline", "2099-01-01T10:00"),
                ("action", "create"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 409);
    assert!(
        r.text()
            .contains("You have 2 events whose deadline has not passed"),
        "{}",
        r.text()
    );
    assert!(r.text().contains("value=\"Three again\""));
    assert_eq!(listed_ids(&mut alice).await.len(), 2);

    // Invitations do not count against bob: he may create his own.
    let mut bob = HttpClient::new(node.addr);
    assert_eq!(api_login(&mut bob, "bob", PASSWORD).await.status, 200);
    let r = bob
        .post_json("/api/events", &event("Bob's", &["alice"]))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(listed_ids(&mut alice).await.len(), 3);
    node.stop().await;
}

/// Creates `n` events for `client` whose deadlines repeat (so ties on the
/// deadline are paged too); their ids in list order (latest deadline
/// first, then by id).
async fn make_events(client: &mut HttpClient, n: usize) -> Vec<String> {
    let mut made: Vec<(i64, String)> = Vec::new();
    let base = support::now() + 86_400;
    for i in 0..n {
        let deadline = base + (i % 7) as i64 * 60;
        let body = json!({
            "name": format!("Event {i}"),
            "participants": [],
            "deadline": convene_events::zone::format_rfc3339(deadline),
        });
        let r = client.post_json("/api/events", &body).await.unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        made.push((deadline, r.json().unwrap()["id"].as_str().unwrap().into()));
    }
    made.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    made.into_iter().map(|(_, id)| id).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_events_in_pages_each_event_once() {
    let node = TestNode::start().await;
    let mut alice = node.user("alice").await;
    let expected = make_events(&mut alice, 23).await;

    let (ids, pages) = walk_api(&mut alice, 5).await;
    assert_eq!(ids, expected, "every event once, in order");
    assert_eq!(pages, 5);
    // Without `limit`, a page holds at most 50.
    let first = alice.get("/api/events").await.unwrap().json().unwrap();
    assert_eq!(first["events"].as_array().unwrap().len(), 23);
    assert_eq!(first["next"], Value::Null);
    assert_eq!(first["previous"], Value::Null);

    // Back from the last page to the first with `previous`.
    let mut page = alice
        .get("/api/events?limit=5")
        .await
        .unwrap()
        .json()
        .unwrap();
    while let Some(next) = page["next"].as_str().map(str::to_string) {
        let r = alice
            .get(&format!("/api/events?limit=5&after={next}"))
            .await;
        page = r.unwrap().json().unwrap();
    }
    let mut back: Vec<String> = Vec::new();
    loop {
        let ids = page["events"].as_array().unwrap().iter();
        let ids: Vec<String> = ids.map(|e| e["id"].as_str().unwrap().into()).collect();
        back.splice(0..0, ids);
        let Some(previous) = page["previous"].as_str() else {
            break;
        };
        let r = alice
            .get(&format!("/api/events?limit=5&before={previous}"))
            .await
            .unwrap();
        page = r.json().unwrap();
    }
    // The first page reached going back is full, so the pages back may
    // overlap it; every event is there, in order.
    let mut seen = HashSet::new();
    back.retain(|id| seen.insert(id.clone()));
    assert_eq!(back, expected);

    // A page after a place keeps its events when new ones come before it.
    let r = alice
        .get("/api/events?limit=5")
        .await
        .unwrap()
        .json()
        .unwrap();
    let next = r["next"].as_str().unwrap().to_string();
    let second = format!("/api/events?limit=5&after={next}");
    let before = alice.get(&second).await.unwrap().json().unwrap();
    let later = json!({"name": "Later", "participants": [], "deadline": from_now(30 * 86_400)});
    assert_eq!(
        alice.post_json("/api/events", &later).await.unwrap().status,
        201
    );
    let after = alice.get(&second).await.unwrap().json().unwrap();
    assert_eq!(before["events"], after["events"]);

    // Bad pages are JSON errors.
    for bad in [
        "after=nowhere",
        "limit=0",
        "limit=1000",
        "after=1.abcdefghjk&before=1.abcdefghjk",
    ] {
        let r = alice.get(&format!("/api/events?{bad}")).await.unwrap();
        assert_eq!(r.status, 400, "{bad}");
        assert!(!error_of(&r).is_empty(), "{bad}");
    }
    node.stop().await;
}

/// The `href` of the link marked `rel` in a page.
fn link(page: &str, rel: &str) -> Option<String> {
    let marker = format!("rel=\"{rel}\" href=\"");
    let at = page.find(&marker)? + marker.len();
    Some(page[at..at + page[at..].find('"')?].replace("&amp;", "&"))
}

/// The event ids a "my events" page links to, in order.
fn page_ids(page: &str) -> Vec<String> {
    page.split("href=\"/events/")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .filter(|id| id != "new")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn my_events_page_has_next_and_previous_links() {
    let node = TestNode::start().await;
    let mut alice = node.user("alice").await;
    let expected = make_events(&mut alice, 120).await;

    let mut seen = Vec::new();
    let mut path = "/events".to_string();
    let mut pages = Vec::new();
    loop {
        let r = alice.get(&path).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        let ids = page_ids(&text);
        assert!(ids.len() <= 50);
        seen.extend(ids);
        pages.push(text.clone());
        match link(&text, "next") {
            Some(next) => path = next,
            None => break,
        }
    }
    assert_eq!(seen, expected, "every event once, in order");
    assert_eq!(pages.len(), 3);
    assert!(link(&pages[0], "prev").is_none());
    assert!(link(&pages[2], "prev").is_some());
    // "Previous" from the last page shows the second one again.
    let back = alice.get(&link(&pages[2], "prev").unwrap()).await.unwrap();
    assert_eq!(page_ids(&back.text()), expected[50..100]);
    // From the second, the first.
    let back = alice
        .get(&link(&back.text(), "prev").unwrap())
        .await
        .unwrap();
    assert_eq!(page_ids(&back.text()), expected[..50]);
    assert!(link(&back.text(), "prev").is_none());

    let r = alice.get("/events?after=garbage").await.unwrap();
    assert_eq!(r.status, 400);
    node.stop().await;
}
