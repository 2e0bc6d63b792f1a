//! Meet over HTTP with real nodes on loopback: `/api/meet/common` gives the
//! answer the seed's client gets from a main node, unknown and unreachable
//! users are named, a meeting is registered only inside the common time,
//! strangers get 401, and the `/meet` page shows and registers the same.
//!
//! M is a main node with a web front (it answers from its own main role);
//! W has a web front but is no main node, so it asks M over the client
//! protocol, as `convene meet` would.

use std::net::SocketAddr;
use std::time::Duration;

use convene_meet::protocol::Reply;
use convene_web::client::{HttpClient, HttpResponse};
use serde_json::{Value, json};

use crate::util::{
    NodeSpec, SPEC_A, SPEC_B, TestCluster, backend, eventually, raw_exchange, ready, register,
};

const CLUSTER: [NodeSpec; 4] = [
    NodeSpec {
        main: true,
        web: true,
        ..crate::util::plain("M")
    },
    crate::util::web("W"),
    backend("A", SPEC_A),
    backend("B", SPEC_B),
];

/// The cluster, once M knows both backends' users.
async fn cluster() -> TestCluster {
    let c = TestCluster::start(&CLUSTER).await;
    eventually(
        Duration::from_secs(10),
        "M to know A's and B's users",
        || {
            let known = c.node("M").meet().known_users();
            async move { ready(known >= 5, format!("it knows {known}")) }
        },
    )
    .await;
    c
}

fn web(c: &TestCluster, id: &str) -> SocketAddr {
    c.node(id).http_addr().unwrap()
}

fn main_client(c: &TestCluster) -> SocketAddr {
    c.cluster.node("M").unwrap().client_addr().unwrap()
}

/// `name`, registered and logged in over the API (the session cookie).
async fn account(web: SocketAddr, name: &str) -> HttpClient {
    register(web, name).await;
    logged_in(web, name).await
}

async fn logged_in(web: SocketAddr, name: &str) -> HttpClient {
    let mut client = HttpClient::new(web);
    let body = json!({"username": name, "password": "password1"});
    let r = client.post_json("/api/login", &body).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    client
}

fn error_of(r: &HttpResponse) -> String {
    r.json().unwrap()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

async fn common(client: &mut HttpClient, users: &str) -> HttpResponse {
    client
        .get(&format!("/api/meet/common?users={users}"))
        .await
        .unwrap()
}

async fn meeting(client: &mut HttpClient, body: Value) -> HttpResponse {
    client.post_json("/api/meet/meetings", &body).await.unwrap()
}

/// The seed protocol's answer to `query <names>` at M, as the API's JSON
/// would write it.
async fn seed(c: &TestCluster, names: &[&str]) -> Value {
    let line = format!("query {}\n", names.join(" "));
    let reply = raw_exchange(main_client(c), line.as_bytes()).await;
    match Reply::parse(&reply[0]).unwrap() {
        Reply::Result {
            missing,
            found,
            slots,
        } => json!({
            "users": found,
            "unknown": missing,
            "unreachable": [],
            "reasons": [],
            "common": slots.map(|s| s.iter().map(|i| [i.start(), i.end()]).collect::<Vec<_>>()),
        }),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_common_time_is_what_the_seed_protocol_gives() {
    let c = cluster().await;
    let mut at_m = account(web(&c, "M"), "ada").await;
    let mut at_w = logged_in(web(&c, "W"), "ada").await;
    let queries: [&[&str]; 6] = [
        // The spec's example: luis does not exist.
        &["eliana", "theodore", "luis", "bob", "alice", "amy"],
        &["eliana", "alice"],
        &["theodore"],
        &["luis", "ghost"],
        // The strict rule: theodore [17,20] and alice [10,24] meet in
        // [17,20]; eliana ends at 18, so [17,18] is left.
        &["alice", "eliana", "theodore"],
        // Asked twice, counted once.
        &["amy", "amy"],
    ];
    for names in queries {
        let expected = seed(&c, names).await;
        for client in [&mut at_m, &mut at_w] {
            let r = common(client, &names.join(",")).await;
            assert_eq!(r.status, 200, "{}", r.text());
            assert_eq!(r.json().unwrap(), expected, "{names:?}");
        }
    }
    // Spelled out once, as a reader would check it.
    let r = common(&mut at_m, "eliana,theodore,luis,bob,alice,amy").await;
    assert_eq!(
        r.json().unwrap(),
        json!({
            "users": ["eliana", "theodore", "bob", "alice", "amy"],
            "unknown": ["luis"],
            "unreachable": [],
            "reasons": [],
            "common": [[2, 3], [17, 18]],
        })
    );
    let r = common(&mut at_w, "luis,ghost").await;
    assert_eq!(r.json().unwrap()["common"], Value::Null);
    assert_eq!(r.json().unwrap()["unknown"], json!(["luis", "ghost"]));
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_401_and_bad_queries_get_400() {
    let c = cluster().await;
    let mut stranger = HttpClient::new(web(&c, "M"));
    let r = common(&mut stranger, "eliana").await;
    assert_eq!(r.status, 401);
    assert!(!error_of(&r).is_empty());
    let r = meeting(
        &mut stranger,
        json!({"users": ["eliana"], "interval": [1, 2]}),
    )
    .await;
    assert_eq!(r.status, 401);
    // The page sends a stranger to log in.
    let r = stranger.get("/meet").await.unwrap();
    assert_eq!(r.status, 303);

    let mut ada = account(web(&c, "M"), "ada").await;
    for (path, words) in [
        ("/api/meet/common", "users"),
        ("/api/meet/common?", "users"),
        ("/api/meet/common?users=", "at least one username"),
        ("/api/meet/common?users=Bob", "lowercase"),
        (
            "/api/meet/common?users=eliana&day=1",
            "unknown query parameter",
        ),
        (
            "/api/meet/common?users=a,b,c,d,e,f,g,h,i,j,k",
            "at most 10 usernames",
        ),
        (
            "/api/meet/common?users=eliana%3Bdrop",
            "not a valid username",
        ),
    ] {
        let r = ada.get(path).await.unwrap();
        assert_eq!(r.status, 400, "{path}: {}", r.text());
        assert!(error_of(&r).contains(words), "{path}: {}", error_of(&r));
    }
    for (body, words) in [
        (json!({"users": ["eliana"], "interval": [5, 5]}), "[5,5]"),
        (json!({"users": ["eliana"], "interval": [6, 5]}), "[6,5]"),
        (
            json!({"users": ["eliana"], "interval": [-1, 5]}),
            "invalid JSON",
        ),
        (json!({"users": ["eliana"]}), "interval"),
        (
            json!({"users": [], "interval": [1, 2]}),
            "at least one username",
        ),
        (json!({"users": ["Eli"], "interval": [1, 2]}), "lowercase"),
        (
            json!({"users": ["eliana"], "interval": [1, 2], "room": 1}),
            "unknown field",
        ),
    ] {
        let r = meeting(&mut ada, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(error_of(&r).contains(words), "{body}: {}", error_of(&r));
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_is_registered_only_inside_the_common_time() {
    let c = cluster().await;
    let mut ada = account(web(&c, "M"), "ada").await;
    let users = json!(["eliana", "theodore", "bob", "alice", "amy"]);

    // [2,4] overlaps [[2,3],[17,18]] but lies inside neither: refused.
    let r = meeting(&mut ada, json!({"users": users, "interval": [2, 4]})).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(
        error_of(&r).contains("[2,4] is not inside the common free time [[2,3],[17,18]]"),
        "{}",
        error_of(&r)
    );
    // A user that does not exist: 404, nothing registered.
    let r = meeting(
        &mut ada,
        json!({"users": ["eliana", "luis"], "interval": [2, 3]}),
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(error_of(&r), "luis do not exist");

    // Inside: registered for everyone, as the seed's backends record it.
    let r = meeting(&mut ada, json!({"users": users, "interval": [17, 18]})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json().unwrap(),
        json!({"users": users, "interval": [17, 18]})
    );
    c.wait_for_line(
        "A",
        "Register a meeting at [17,18] and update the availability for the following users:",
    )
    .await;
    let r = common(&mut ada, "eliana,theodore,bob,alice,amy").await;
    assert_eq!(r.json().unwrap()["common"], json!([[2, 3]]));
    assert_eq!(
        seed(&c, &["eliana", "theodore", "bob", "alice", "amy"]).await["common"],
        json!([[2, 3]])
    );
    // The same time again is no longer common time.
    let r = meeting(&mut ada, json!({"users": users, "interval": [17, 18]})).await;
    assert_eq!(r.status, 409, "{}", r.text());

    // Through W, which asks M over the client protocol: a sub-range.
    let mut at_w = logged_in(web(&c, "W"), "ada").await;
    let r = meeting(&mut at_w, json!({"users": ["alice"], "interval": [11, 12]})).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = common(&mut at_w, "alice").await;
    // alice was [[1,3],[10,24]]; [17,18] and now [11,12] are taken.
    assert_eq!(
        r.json().unwrap()["common"],
        json!([[1, 3], [10, 11], [12, 17], [18, 24]])
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_backend_makes_its_users_unreachable() {
    let mut c = cluster().await;
    let mut ada = account(web(&c, "M"), "ada").await;
    let mut at_w = logged_in(web(&c, "W"), "ada").await;
    c.stop_node("B").await;

    let expected = json!({
        "users": ["eliana"],
        "unknown": ["luis"],
        "unreachable": ["bob", "amy"],
        "reasons": [{"users": ["bob", "amy"], "reason": "Server B did not answer"}],
        "common": null,
    });
    for client in [&mut ada, &mut at_w] {
        let r = common(client, "eliana,bob,luis,amy").await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json().unwrap(), expected);
        // A's users still work.
        let r = common(client, "eliana,alice").await;
        assert_eq!(r.json().unwrap()["common"], json!([[1, 3], [12, 18]]));
        // A meeting with B's users: 503, nothing registered.
        let r = meeting(
            client,
            json!({"users": ["eliana", "bob"], "interval": [2, 3]}),
        )
        .await;
        assert_eq!(r.status, 503, "{}", r.text());
        assert!(
            error_of(&r).contains("bob unreachable (Server B did not answer)"),
            "{}",
            error_of(&r)
        );
    }
    let r = common(&mut ada, "eliana").await;
    assert_eq!(r.json().unwrap()["common"], json!([[1, 5], [12, 18]]));
    c.stop().await;
}

/// The hidden `csrf` field's value in a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_meet_page_lists_users_shows_the_common_time_and_registers() {
    let c = cluster().await;
    let mut ada = account(web(&c, "M"), "ada").await;
    let r = ada.get("/meet").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    for words in [
        "<a href=\"/meet\">Meet</a>",
        "Choose users",
        "type=\"checkbox\" name=\"users\" value=\"eliana\"",
        "type=\"checkbox\" name=\"users\" value=\"amy\"",
        "<label",
        "Find common time",
    ] {
        assert!(page.contains(words), "no {words:?} in the page");
    }

    // Two checkboxes and a typed name (one that does not exist).
    let r = ada
        .get("/meet?users=eliana&users=theodore&more=luis")
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    for words in [
        "luis do not exist.",
        "Time intervals that work for eliana, theodore:",
        "<li>[2,5]</li>",
        "<li>[17,18]</li>",
        "Register a meeting",
        "checked",
    ] {
        assert!(page.contains(words), "no {words:?} in the page");
    }
    let csrf = csrf_of(&page);

    // Outside the common time: the page again, with the reason.
    let outside = [
        ("csrf", csrf.as_str()),
        ("users", "eliana,theodore"),
        ("start", "5"),
        ("end", "6"),
    ];
    let r = ada.post_form("/meet", &outside).await.unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("role=\"alert\""));
    assert!(r.text().contains("is not inside the common free time"));
    // Without the token: refused.
    let r = ada
        .post_form(
            "/meet",
            &[
                ("csrf", "wrong"),
                ("users", "eliana"),
                ("start", "2"),
                ("end", "3"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);

    // Inside: back to the result, which no longer has that time.
    let inside = [
        ("csrf", csrf.as_str()),
        ("users", "eliana,theodore"),
        ("start", "3"),
        ("end", "4"),
    ];
    let r = ada.post_form("/meet", &inside).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    let to = r.location().unwrap().to_string();
    assert_eq!(to, "/meet?users=eliana&users=theodore&registered=3%2C4");
    let page = ada.get(&to).await.unwrap().text();
    assert!(
        page.contains("Registered [3,4] as the meeting time for eliana, theodore."),
        "{page}"
    );
    for words in ["<li>[2,3]</li>", "<li>[4,5]</li>", "<li>[17,18]</li>"] {
        assert!(page.contains(words), "no {words:?} in the page");
    }

    // W is no main node: no list to tick, but typed names are answered
    // (by M, over the client protocol), the meeting above included.
    let mut at_w = logged_in(web(&c, "W"), "ada").await;
    let page = at_w.get("/meet").await.unwrap().text();
    assert!(page.contains("type their names"), "{page}");
    assert!(!page.contains("type=\"checkbox\""), "{page}");
    let page = at_w.get("/meet?more=eliana+theodore").await.unwrap().text();
    for words in ["<li>[2,3]</li>", "<li>[4,5]</li>", "<li>[17,18]</li>"] {
        assert!(page.contains(words), "no {words:?} in W's page");
    }
    c.stop().await;
}
