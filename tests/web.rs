//! The web app over three in-process nodes sharing one database: sessions
//! that work on every node, an event created on one node's API and answered
//! on the others, the pages with their "Add interval" button, CSRF, every
//! bad input the API refuses, and escaping. Each test runs on SQLite, and
//! on the other backends the environment names (see `events::storage`).
//!
//! Requests go over real HTTP with `convene_web::client::HttpClient`, one
//! client per user; `set_addr` moves a user to another node with their
//! cookies, as a load balancer would.

use std::net::SocketAddr;
use std::time::Duration;

use convene_web::client::{HttpClient, HttpResponse};
use serde_json::{Value, json};

use crate::events::{now, unique};
use crate::util::{TestCluster, eventually};

/// Three web nodes A, B, C on `backend`; their HTTP addresses.
async fn cluster(backend: &str) -> Option<(TestCluster, [SocketAddr; 3])> {
    let c = crate::events::cluster(backend).await?;
    let addr = |id: &str| c.node(id).http_addr().expect("a web front");
    let addrs = [addr("A"), addr("B"), addr("C")];
    Some((c, addrs))
}

on_every_backend!(
    sessions_work_on_every_node,
    an_event_created_on_one_node_is_answered_on_the_others,
    the_api_refuses_bad_input_with_json_errors,
    the_pages_create_and_answer_an_event,
    forms_without_the_right_csrf_token_are_refused,
);

const PASSWORD: &str = "correct horse";

/// Registers and logs in `name` over the API of the node at `addr`.
pub(crate) async fn api_user(addr: SocketAddr, name: &str, zone: &str) -> HttpClient {
    let mut client = HttpClient::new(addr);
    let r = client
        .post_json(
            "/api/register",
            &json!({"username": name, "password": PASSWORD, "time_zone": zone}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let r = client
        .post_json(
            "/api/login",
            &json!({"username": name, "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client
}

/// Registers `name` over the pages (GET the form for its CSRF token, POST
/// it); the client is then logged in.
async fn page_user(addr: SocketAddr, name: &str, zone: &str) -> HttpClient {
    let mut client = HttpClient::new(addr);
    let form = client.get("/register").await.unwrap();
    let csrf = csrf_of(&form.text());
    let r = client
        .post_form(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", name),
                ("password", PASSWORD),
                ("time_zone", zone),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.location()),
        (303, Some("/events")),
        "{}",
        r.text()
    );
    client
}

/// The hidden `csrf` field's value in a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

fn error_of(r: &HttpResponse) -> String {
    r.json().unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn rfc3339(seconds: i64) -> String {
    convene_events::zone::format_rfc3339(seconds)
}

fn interval(start: &str, end: &str) -> Value {
    json!([{ "start": start, "end": end }])
}

async fn create(client: &mut HttpClient, body: Value) -> String {
    let r = client.post_json("/api/events", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    r.json().unwrap()["id"].as_str().unwrap().to_string()
}

pub(crate) async fn wait_final(client: &mut HttpClient, id: &str) -> Value {
    let what = format!("event {id} to be final");
    let client = tokio::sync::Mutex::new(client);
    eventually(Duration::from_secs(20), &what, || async {
        let r = client
            .lock()
            .await
            .get(&format!("/api/events/{id}"))
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let event: Value = r.json().unwrap();
        if event["state"] == "final" {
            Ok(event)
        } else {
            Err(event)
        }
    })
    .await
}

async fn sessions_work_on_every_node(backend: &str) {
    let Some((c, [a, b, cc])) = cluster(backend).await else {
        return;
    };
    let name = format!("sam-{}", unique());
    // Registered on A, logged in on B, used on C.
    let mut sam = HttpClient::new(a);
    let r = sam
        .post_json(
            "/api/register",
            &json!({"username": name, "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    sam.set_addr(b);
    let wrong = sam
        .post_json(
            "/api/login",
            &json!({"username": name, "password": "not the password"}),
        )
        .await
        .unwrap();
    let nobody = sam
        .post_json(
            "/api/login",
            &json!({"username": format!("no-{name}"), "password": PASSWORD}),
        )
        .await
        .unwrap();
    for r in [&wrong, &nobody] {
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json().unwrap(),
            json!({"error": "wrong user name or password"})
        );
    }
    let r = sam
        .post_json(
            "/api/login",
            &json!({"username": name, "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.json().unwrap()),
        (200, json!({"username": name}))
    );
    let token = sam.cookie("convene_session").unwrap().to_string();
    for addr in [a, b, cc] {
        sam.set_addr(addr);
        let r = sam.get("/api/events").await.unwrap();
        assert_eq!(r.status, 200, "on {addr}: {}", r.text());
        let page = sam.get("/events").await.unwrap();
        assert_eq!(page.status, 200);
        assert!(page.text().contains(&format!("Log out {name}")));
    }
    // Logging out on C ends the session on A and B at once.
    sam.set_addr(cc);
    let r = sam.post_json("/api/logout", &json!({})).await.unwrap();
    assert_eq!(r.status, 200);
    sam.set_cookie("convene_session", Some(&token));
    for addr in [a, b, cc] {
        sam.set_addr(addr);
        assert_eq!(
            sam.get("/api/events").await.unwrap().status,
            401,
            "on {addr}"
        );
        let r = sam.get("/events").await.unwrap();
        assert_eq!(
            (r.status, r.location()),
            (303, Some("/login?next=%2Fevents"))
        );
    }
    c.stop().await;
}

async fn an_event_created_on_one_node_is_answered_on_the_others(backend: &str) {
    let Some((c, [a, b, cc])) = cluster(backend).await else {
        return;
    };
    let tag = unique();
    let (ann, ben, cat) = (
        format!("ann-{tag}"),
        format!("ben-{tag}"),
        format!("cat-{tag}"),
    );
    let mut ann_c = api_user(a, &ann, "Europe/Rome").await;
    let mut ben_c = api_user(b, &ben, "America/New_York").await;
    let mut cat_c = api_user(cc, &cat, "Asia/Tokyo").await;

    let deadline = now() + 4;
    let id = create(
        &mut ann_c,
        json!({
            "name": "Retro",
            "description": "Sprint 12",
            "participants": [ben, cat],
            "deadline": rfc3339(deadline),
            "constraints": interval("2030-03-04T08:00:00Z", "2030-03-04T12:00:00Z"),
        }),
    )
    .await;
    let submit = |intervals: Value| json!({ "constraints": intervals });
    let path = format!("/api/events/{id}/constraints");
    let r = ben_c
        .post_json(
            &path,
            &submit(interval(
                "2030-03-04T04:00:00-05:00",
                "2030-03-04T06:30:00-05:00",
            )),
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.json().unwrap()), (200, json!({"ok": true})));
    let r = cat_c
        .post_json(
            &path,
            &submit(json!([
                {"start": "2030-03-04T18:00:00+09:00", "end": "2030-03-04T20:00:00+09:00"},
                {"start": "2030-03-04T11:00:00Z", "end": "2030-03-04T13:00:00Z"},
            ])),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    // Everyone reads the same event from any node.
    for (client, addr) in [(&mut ann_c, cc), (&mut ben_c, a), (&mut cat_c, b)] {
        client.set_addr(addr);
        let event = client
            .get(&format!("/api/events/{id}"))
            .await
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(event["state"], "open");
        assert_eq!(event["result"], Value::Null);
        assert_eq!(event["creator"], ann.as_str());
        assert!(["A", "B", "C"].contains(&event["leader"].as_str().unwrap()));
        assert_eq!(
            event["participants"],
            json!([
                {"name": ann, "answered": true},
                {"name": ben, "answered": true},
                {"name": cat, "answered": true},
            ])
        );
        assert_eq!(event["deadline"], rfc3339(deadline));
    }

    // Ann 08-12, Ben 09-11:30, Cat 09-11 and 11-13 (merged: 09-13).
    let event = wait_final(&mut ben_c, &id).await;
    assert_eq!(
        event["result"],
        interval("2030-03-04T09:00:00Z", "2030-03-04T11:30:00Z")
    );
    let r = cat_c
        .post_json(
            &path,
            &submit(interval("2030-03-04T09:00:00Z", "2030-03-04T10:00:00Z")),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 409);
    assert!(
        error_of(&r).contains("deadline has passed"),
        "{}",
        error_of(&r)
    );
    let list = cat_c.get("/api/events").await.unwrap().json().unwrap();
    let line = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == id.as_str())
        .expect("the event in cat's list")
        .clone();
    assert_eq!(line["state"], "final");
    assert_eq!(line["answered"], true);
    assert_eq!(line["result"], event["result"]);

    // The pages show the result on each viewer's clock.
    for (client, needle) in [
        (&mut ann_c, "Mon 4 Mar 2030, 10:00 – 12:30 (CET)"),
        (&mut ben_c, "Mon 4 Mar 2030, 04:00 – 06:30 (EST)"),
        (&mut cat_c, "Mon 4 Mar 2030, 18:00 – 20:30 (JST)"),
    ] {
        let page = client.get(&format!("/events/{id}")).await.unwrap().text();
        assert!(page.contains(needle), "{needle} not in {page}");
        let list = client.get("/events").await.unwrap().text();
        assert!(list.contains(needle));
    }
    c.stop().await;
}

async fn the_api_refuses_bad_input_with_json_errors(backend: &str) {
    let Some((c, [a, b, _])) = cluster(backend).await else {
        return;
    };
    let tag = unique();
    let (dan, eli, fay) = (
        format!("dan-{tag}"),
        format!("eli-{tag}"),
        format!("fay-{tag}"),
    );
    let mut dan_c = api_user(a, &dan, "UTC").await;
    let _eli_c = api_user(b, &eli, "UTC").await;
    let mut fay_c = api_user(b, &fay, "UTC").await;

    // Accounts.
    let mut anon = HttpClient::new(b);
    let r = anon
        .post_json(
            "/api/register",
            &json!({"username": dan, "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 409);
    for body in [
        json!({"username": "has space", "password": PASSWORD}),
        json!({"username": format!("x-{tag}"), "password": "short"}),
        json!({"username": format!("x-{tag}"), "password": PASSWORD, "time_zone": "Nowhere/City"}),
        json!({"username": format!("x-{tag}")}),
    ] {
        let r = anon.post_json("/api/register", &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}");
        assert!(!error_of(&r).is_empty());
    }
    // Not logged in.
    assert_eq!(anon.get("/api/events").await.unwrap().status, 401);
    let r = anon.post_json("/api/events", &json!({})).await.unwrap();
    assert_eq!(r.status, 401);

    // Content type, syntax, fields, types, size.
    let json_type = [("content-type", "application/json")];
    let r = dan_c
        .request(
            "POST",
            "/api/events",
            &[("content-type", "text/plain")],
            b"{}",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 415);
    let r = dan_c
        .request(
            "POST",
            "/api/events",
            &[("content-type", "application/x-www-form-urlencoded")],
            b"name=x",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 415);
    assert!(r.json().is_ok(), "refusals are JSON");
    for (body, needle) in [
        (&b"{\"name\": "[..], "EOF while parsing"),
        (
            br#"{"participants": [], "deadline": "2030-01-01T00:00:00Z"}"#,
            "missing field `name`",
        ),
        (
            br#"{"name": [], "participants": [], "deadline": "2030-01-01T00:00:00Z"}"#,
            "invalid type",
        ),
    ] {
        let r = dan_c
            .request("POST", "/api/events", &json_type, body)
            .await
            .unwrap();
        assert_eq!(r.status, 400);
        assert!(error_of(&r).contains(needle), "{}", error_of(&r));
    }
    let big = vec![b' '; (1 << 20) + 1];
    let r = dan_c
        .request("POST", "/api/events", &json_type, &big)
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    assert!(!error_of(&r).is_empty());

    // The event's own rules.
    let event = |participants: Value, deadline: String, constraints: Value| json!({"name": "Q", "participants": participants, "deadline": deadline, "constraints": constraints});
    let ghost = format!("ghost-{tag}");
    for (body, needle) in [
        (
            event(json!([eli, ghost]), rfc3339(now() + 60), json!([])),
            format!("no user is called \"{ghost}\""),
        ),
        (
            event(json!([eli]), rfc3339(now() - 60), json!([])),
            "the deadline must be in the future".into(),
        ),
        (
            event(json!([eli]), "next week".into(), json!([])),
            "not an RFC 3339 time".into(),
        ),
        (
            event(
                json!([eli]),
                rfc3339(now() + 60),
                interval("2030-01-01T10:00:00Z", "2030-01-01T09:00:00Z"),
            ),
            "each interval must end after it starts".into(),
        ),
    ] {
        let r = dan_c.post_json("/api/events", &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}");
        assert!(error_of(&r).contains(&needle), "{}", error_of(&r));
    }

    // Submissions: unknown event, stranger, bad interval, after the deadline.
    let ok = interval("2030-01-01T09:00:00Z", "2030-01-01T10:00:00Z");
    let r = dan_c
        .post_json(
            "/api/events/abcdefghjk/constraints",
            &json!({"constraints": ok}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 404);
    assert_eq!(
        dan_c.get("/api/events/abcdefghjk").await.unwrap().status,
        404
    );
    let deadline = now() + 3;
    let id = create(
        &mut dan_c,
        event(json!([eli]), rfc3339(deadline), ok.clone()),
    )
    .await;
    let path = format!("/api/events/{id}/constraints");
    let r = fay_c
        .post_json(&path, &json!({"constraints": ok}))
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        error_of(&r),
        format!("\"{fay}\" is not invited to this event")
    );
    assert_eq!(
        fay_c
            .get(&format!("/api/events/{id}"))
            .await
            .unwrap()
            .status,
        403
    );
    let r = dan_c
        .post_json(
            &path,
            &json!({"constraints": interval("2030-01-01T09:00:00Z", "2030-01-01T09:00:00Z")}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(error_of(&r).contains("each interval must end after it starts"));
    wait_final(&mut dan_c, &id).await;
    let r = dan_c
        .post_json(&path, &json!({"constraints": ok}))
        .await
        .unwrap();
    assert_eq!(r.status, 409);
    c.stop().await;
}

async fn the_pages_create_and_answer_an_event(backend: &str) {
    let Some((c, [a, b, cc])) = cluster(backend).await else {
        return;
    };
    let tag = unique();
    let (gil, hal) = (format!("gil-{tag}"), format!("hal-{tag}"));
    let mut gil_c = page_user(a, &gil, "Europe/Rome").await;
    let mut hal_c = page_user(b, &hal, "America/New_York").await;

    // Gil fills the form on B, adds a row, then creates the event.
    gil_c.set_addr(b);
    let form = gil_c.get("/events/new").await.unwrap();
    assert_eq!(form.status, 200);
    let csrf = csrf_of(&form.text());
    let name = "<script>alert('x')</script> & co";
    let deadline_local = {
        // Four seconds ahead, as Rome's wall clock, to the second.
        let rome = convene_events::zone::Zone::named("Europe/Rome").unwrap();
        let at = now() + 4;
        let minute = rome.to_local_input(at);
        format!("{minute}:{:02}", at % 60)
    };
    let typed = [
        ("csrf", csrf.as_str()),
        ("name", name),
        ("description", "Line one\nLine <two>"),
        ("participants", hal.as_str()),
        ("deadline", deadline_local.as_str()),
        ("start", "2030-05-06T15:00"),
        ("end", "2030-05-06T18:00"),
    ];
    let mut add = typed.to_vec();
    add.push(("action", "add"));
    let r = gil_c.post_form("/events/new", &add).await.unwrap();
    assert_eq!(r.status, 200);
    let page = r.text();
    assert_eq!(page.matches("name=\"start\"").count(), 2, "one more row");
    assert!(page.contains("value=\"2030-05-06T15:00\""), "rows kept");
    assert!(
        page.contains(&format!(">{hal}</textarea>")),
        "participants kept"
    );
    assert!(!page.contains("<script>alert"), "escaped");
    let mut create = typed.to_vec();
    create.extend([
        ("start", "2030-05-06T20:00"),
        ("end", "2030-05-06T21:00"),
        ("action", "create"),
    ]);
    let r = gil_c.post_form("/events/new", &create).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.location().unwrap().to_string();
    let id = location.strip_prefix("/events/").unwrap().to_string();

    // Hal answers on C through the page: "Add interval", then send.
    hal_c.set_addr(cc);
    let page = hal_c.get(&location).await.unwrap();
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; co"));
    assert!(!text.contains("<script>alert"));
    assert!(text.contains("Line &lt;two&gt;"));
    let csrf = csrf_of(&text);
    let action = format!("{location}/availability");
    let first = [
        ("csrf", csrf.as_str()),
        ("start", "2030-05-06T10:00"),
        ("end", "2030-05-06T11:00"),
    ];
    let mut add = first.to_vec();
    add.push(("action", "add"));
    let r = hal_c.post_form(&action, &add).await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text().matches("name=\"start\"").count(), 2);
    let mut send = first.to_vec();
    // 14:30-15:30 in New York is 20:30-21:30 in Rome: overlaps Gil's second row.
    send.extend([
        ("start", "2030-05-06T14:30"),
        ("end", "2030-05-06T15:30"),
        ("action", "submit"),
    ]);
    let r = hal_c.post_form(&action, &send).await.unwrap();
    assert_eq!(
        (r.status, r.location()),
        (303, Some(format!("{location}?added=1").as_str()))
    );
    let text = hal_c
        .get(&format!("{location}?added=1"))
        .await
        .unwrap()
        .text();
    assert!(text.contains("Your availability was added."));

    // At the deadline: Gil 15-18 and 20-21 Rome; Hal 10-11 and 14:30-15:30
    // New York, that is 16-17 and 20:30-21:30 Rome.
    let event = wait_final(&mut hal_c, &id).await;
    assert_eq!(
        event["result"],
        json!([
            {"start": "2030-05-06T14:00:00Z", "end": "2030-05-06T15:00:00Z"},
            {"start": "2030-05-06T18:30:00Z", "end": "2030-05-06T19:00:00Z"},
        ])
    );
    gil_c.set_addr(cc);
    let text = gil_c.get(&location).await.unwrap().text();
    assert!(
        text.contains("Mon 6 May 2030, 16:00 – 17:00 (CEST)"),
        "{text}"
    );
    assert!(text.contains("Mon 6 May 2030, 20:30 – 21:00 (CEST)"));
    let list = gil_c.get("/events").await.unwrap().text();
    assert!(
        list.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; co")
            && !list.contains("<script>alert")
    );
    c.stop().await;
}

async fn forms_without_the_right_csrf_token_are_refused(backend: &str) {
    let Some((c, [a, b, _])) = cluster(backend).await else {
        return;
    };
    let tag = unique();
    let ivy = format!("ivy-{tag}");
    // An anonymous form without the double-submit cookie (a forged form).
    let mut forger = HttpClient::new(a);
    let r = forger
        .post_form(
            "/register",
            &[
                ("csrf", &"0".repeat(64)),
                ("username", &ivy),
                ("password", PASSWORD),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(r.text().contains("not sent from this site"));
    let r = forger
        .post_json(
            "/api/login",
            &json!({"username": ivy, "password": PASSWORD}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "the forged registration made no account");

    // A logged-in form with another session's token.
    let mut ivy_c = page_user(a, &ivy, "UTC").await;
    let mut other = page_user(b, &format!("jan-{tag}"), "UTC").await;
    let others_token = csrf_of(&other.get("/events").await.unwrap().text());
    let r = ivy_c
        .post_form(
            "/events/new",
            &[
                ("csrf", &others_token),
                ("name", "X"),
                ("deadline", "2030-01-01T10:00"),
                ("action", "create"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(r.text().contains("not sent from this site"));
    let list = ivy_c.get("/api/events").await.unwrap().json().unwrap();
    assert_eq!(list["events"], json!([]), "nothing was created");
    let r = ivy_c
        .post_form("/logout", &[("csrf", &others_token)])
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(
        ivy_c.get("/api/events").await.unwrap().status,
        200,
        "still logged in"
    );
    // Its own token works (the same on every node: it is the session's).
    ivy_c.set_addr(b);
    let own = csrf_of(&ivy_c.get("/events").await.unwrap().text());
    let r = ivy_c.post_form("/logout", &[("csrf", &own)]).await.unwrap();
    assert_eq!((r.status, r.location()), (303, Some("/login")));
    c.stop().await;
}

/// The cluster file's `[limits]` reach each node's web front (SQLite
/// only: the limits do not touch the database): a login flood from one
/// address meets `logins_per_minute_per_ip`, with `Retry-After`, and an
/// event beyond `participants_per_event` is refused with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_files_limits_reach_the_web_front() {
    let tail = format!(
        "{}[limits]\nlogins_per_minute_per_ip = 3\nparticipants_per_event = 2\n",
        crate::util::FAST_ELECTION
    );
    let mut c = TestCluster::bind_full(&[crate::util::web("A")], "", &tail).await;
    c.start_node("A").await;
    let addr = c.node("A").http_addr().expect("a web front");
    let (ann, bob) = (format!("ann-{}", unique()), format!("bob-{}", unique()));
    api_user(addr, &bob, "UTC").await;
    // The helper logged bob in: one attempt; ann's makes two.
    let mut ann_client = api_user(addr, &ann, "UTC").await;
    let r = ann_client
        .post_json(
            "/api/events",
            &json!({"name": "Three", "participants": [bob, "x"], "deadline": rfc3339(now() + 600)}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(
        error_of(&r),
        "an event may have at most 2 participants, you included; this one has 3"
    );
    let login = json!({"username": ann, "password": PASSWORD});
    let r = ann_client.post_json("/api/login", &login).await.unwrap();
    assert_eq!(r.status, 200, "the third attempt in the minute");
    let r = ann_client.post_json("/api/login", &login).await.unwrap();
    assert_eq!(r.status, 429, "{}", r.text());
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    c.stop().await;
}
