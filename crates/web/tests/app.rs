//! The web app end to end on one node with an in-memory database: real
//! HTTP over loopback with the crate's own client, a real event server and
//! its deadline. (The cluster-wide tests, three nodes over the real SQLite
//! database, are in the root package's `tests/web.rs`.)

mod support;

use std::time::{Duration, Instant};

use convene_web::client::{HttpClient, HttpResponse};
use serde_json::{Value, json};
use support::{TestNode, csrf_of, error_of, from_now};

async fn wait_final(client: &mut HttpClient, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = client.get(&format!("/api/events/{id}")).await.unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let event = r.json().unwrap();
        if event["state"] == "final" {
            return event;
        }
        assert!(Instant::now() < deadline, "never final: {event}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_over_the_api() {
    let node = TestNode::start().await;
    let mut c = node.client();

    let r = c
        .post_json(
            "/api/register",
            &json!({"username": "alice", "password": "password1", "time_zone": "europe/rome"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.json().unwrap(),
        json!({"username": "alice", "time_zone": "Europe/Rome"})
    );
    let stored = node.db.stored_user("alice").unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert_eq!(stored.time_zone, "Europe/Rome");

    let again = json!({"username": "alice", "password": "password2"});
    let r = c.post_json("/api/register", &again).await.unwrap();
    assert_eq!(
        (r.status, error_of(&r)),
        (409, "the user name \"alice\" is taken".into())
    );

    for (body, needle) in [
        (
            json!({"username": "a b", "password": "password1"}),
            "user name may only",
        ),
        (
            json!({"username": "", "password": "password1"}),
            "choose a user name",
        ),
        (
            json!({"username": "x".repeat(65), "password": "password1"}),
            "at most 64",
        ),
        (
            json!({"username": "bob", "password": "short"}),
            "at least 8",
        ),
        (
            json!({"username": "bob", "password": "p".repeat(1025)}),
            "at most 1024",
        ),
        (
            json!({"username": "bob", "password": "password1", "time_zone": "Mars/Base"}),
            "unknown time zone",
        ),
    ] {
        let r = c.post_json("/api/register", &body).await.unwrap();
        assert_eq!(r.status, 400, "{body}");
        assert!(error_of(&r).contains(needle), "{body}: {}", error_of(&r));
    }

    // Unknown user and wrong password: the same answer.
    for body in [
        json!({"username": "alice", "password": "wrong-password"}),
        json!({"username": "nobody", "password": "password1"}),
        json!({"username": "not a name", "password": "password1"}),
    ] {
        let r = c.post_json("/api/login", &body).await.unwrap();
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json().unwrap(),
            json!({"error": "wrong user name or password"})
        );
        assert!(r.header("set-cookie").is_none());
    }
    assert_eq!(c.get("/api/events").await.unwrap().status, 401);

    let r = c
        .post_json(
            "/api/login",
            &json!({"username": "alice", "password": "password1"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json().unwrap(), json!({"username": "alice"}));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.starts_with("convene_session="));
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    // The database holds a hash of the token, never the token.
    let token = c.cookie("convene_session").unwrap().to_string();
    let sessions = node.db.sessions();
    assert_eq!(sessions.len(), 1);
    assert_ne!(sessions[0].token_hash, token);
    assert_eq!(
        sessions[0].token_hash,
        convene_web::session::hash_token(&token)
    );
    assert!(sessions[0].expires_at > support::now() + 6 * 86_400);

    let r = c.get("/api/events").await.unwrap();
    assert_eq!(
        (r.status, r.json().unwrap()),
        (200, json!({"events": [], "next": null, "previous": null}))
    );

    // Logout needs the JSON type like every API POST.
    let r = c.request("POST", "/api/logout", &[], b"").await.unwrap();
    assert_eq!(r.status, 415);
    let r = c
        .request(
            "POST",
            "/api/logout",
            &[("content-type", "application/json")],
            b"",
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(node.db.session_count(), 0);
    assert_eq!(c.cookie("convene_session"), None);
    // The old token is dead, even if a client kept it.
    c.set_cookie("convene_session", Some(&token));
    assert_eq!(c.get("/api/events").await.unwrap().status, 401);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_api_from_creation_to_result() {
    let node = TestNode::start().await;
    let mut alice = node.user("alice").await;
    let mut bob = node.user("bob").await;
    let mut carol = node.user("carol").await;
    let mut eve = node.user("eve").await;

    let r = alice
        .post_json(
            "/api/events",
            &json!({
                "name": "Planning",
                "description": "Quarterly",
                "participants": ["bob", "carol", "bob"],
                "deadline": from_now(3),
                "constraints": [{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T12:00:00Z"}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json().unwrap()["id"].as_str().unwrap().to_string();

    let submit = |intervals: Value| json!({ "constraints": intervals });
    let path = format!("/api/events/{id}/constraints");
    let r = bob
        .post_json(
            &path,
            &submit(json!([{"start": "2030-01-01T10:00:00+01:00", "end": "2030-01-01T11:30:00Z"}])),
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.json().unwrap()), (200, json!({"ok": true})));

    let r = eve
        .post_json(
            &path,
            &submit(json!([{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}])),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, error_of(&r)),
        (403, "\"eve\" is not invited to this event".into())
    );
    assert_eq!(
        eve.get(&format!("/api/events/{id}")).await.unwrap().status,
        403
    );

    let r = carol.get(&format!("/api/events/{id}")).await.unwrap();
    assert_eq!(r.status, 200);
    let event = r.json().unwrap();
    assert_eq!(event["name"], "Planning");
    assert_eq!(event["creator"], "alice");
    assert_eq!(event["state"], "open");
    assert_eq!(event["leader"], "A");
    assert_eq!(event["result"], Value::Null);
    assert_eq!(
        event["participants"],
        json!([
            {"name": "alice", "answered": true},
            {"name": "bob", "answered": true},
            {"name": "carol", "answered": false},
        ])
    );
    assert!(event["deadline"].as_str().unwrap().ends_with('Z'));

    let list = carol.get("/api/events").await.unwrap().json().unwrap();
    assert_eq!(list["events"][0]["id"], id.as_str());
    assert_eq!(list["events"][0]["answered"], false);

    let event = wait_final(&mut carol, &id).await;
    assert_eq!(
        event["result"],
        json!([{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T11:30:00Z"}])
    );
    let r = carol
        .post_json(
            &path,
            &submit(json!([{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T11:00:00Z"}])),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(error_of(&r).contains("deadline has passed"));
    let list = alice.get("/api/events").await.unwrap().json().unwrap();
    assert_eq!(list["events"][0]["state"], "final");
    assert_eq!(list["events"][0]["result"], event["result"]);
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_api_requests_get_json_errors() {
    let node = TestNode::start().await;
    let mut alice = node.user("alice").await;
    node.user("bob").await;
    let json_type = [("content-type", "application/json")];

    // The content type is required on every POST.
    for headers in [
        &[][..],
        &[("content-type", "text/plain")][..],
        &[("content-type", "application/x-www-form-urlencoded")][..],
    ] {
        let r = alice
            .request("POST", "/api/events", headers, b"{}")
            .await
            .unwrap();
        assert_eq!(r.status, 415);
        assert!(error_of(&r).contains("application/json"));
    }
    // Malformed, missing fields, wrong types: 400 in serde's words.
    for (body, needle) in [
        (&b"{not json"[..], "key must be a string"),
        (b"", "EOF while parsing"),
        (
            br#"{"name": "x", "participants": []}"#,
            "missing field `deadline`",
        ),
        (
            br#"{"name": 5, "participants": [], "deadline": "x"}"#,
            "invalid type: integer `5`",
        ),
        (
            br#"{"name": "x", "participants": "bob", "deadline": "x"}"#,
            "expected a sequence",
        ),
        (
            br#"{"name": "x", "participants": [], "deadline": "x", "colour": 1}"#,
            "unknown field `colour`",
        ),
    ] {
        let r = alice
            .request("POST", "/api/events", &json_type, body)
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{}", String::from_utf8_lossy(body));
        assert!(error_of(&r).contains(needle), "{}", error_of(&r));
    }
    let event = |participants: Value, deadline: String, constraints: Value| json!({"name": "E", "participants": participants, "deadline": deadline, "constraints": constraints});
    let ok_interval = json!([{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T10:00:00Z"}]);
    for (body, status, needle) in [
        (
            event(json!(["bob", "zed", "yan"]), from_now(60), json!([])),
            400,
            "no user is called \"zed\", \"yan\"",
        ),
        (
            event(json!([]), from_now(-60), json!([])),
            400,
            "deadline must be in the future",
        ),
        (
            event(json!([]), "tomorrow".into(), json!([])),
            400,
            "deadline: \"tomorrow\" is not an RFC 3339",
        ),
        (
            event(json!([]), "2030-01-01T10:00:00".into(), json!([])),
            400,
            "not an RFC 3339",
        ),
        (
            event(
                json!([]),
                from_now(60),
                json!([{"start": "2030-01-01T10:00:00Z", "end": "2030-01-01T10:00:00Z"}]),
            ),
            400,
            "each interval must end after it starts",
        ),
        (
            json!({"name": " ", "participants": [], "deadline": from_now(60)}),
            400,
            "needs a name",
        ),
    ] {
        let r = alice.post_json("/api/events", &body).await.unwrap();
        assert_eq!(r.status, status, "{body}");
        assert!(error_of(&r).contains(needle), "{body}: {}", error_of(&r));
    }
    // Unknown events: a well-formed code, and junk.
    for id in ["abcdefghjk", "..%2F..%2Fetc", "ZZZ"] {
        let r = alice
            .post_json(
                &format!("/api/events/{id}/constraints"),
                &json!({"constraints": ok_interval}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 404, "{id}: {}", r.text());
        assert_eq!(
            alice
                .get(&format!("/api/events/{id}"))
                .await
                .unwrap()
                .status,
            404
        );
    }
    let r = alice
        .post_json(
            "/api/events",
            &event(json!(["bob"]), from_now(60), ok_interval.clone()),
        )
        .await
        .unwrap();
    let id = r.json().unwrap()["id"].as_str().unwrap().to_string();
    let r = alice
        .post_json(
            &format!("/api/events/{id}/constraints"),
            &json!({"constraints": []}),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, error_of(&r)),
        (400, "give at least one interval".into())
    );

    // Over 1 MiB: 413, as JSON.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(1 << 20));
    let r = alice
        .request("POST", "/api/events", &json_type, big.as_bytes())
        .await
        .unwrap();
    assert_eq!(r.status, 413);
    assert!(error_of(&r).contains("larger than 1 MiB"));

    // Not logged in; no such route; wrong method.
    let mut stranger = node.client();
    let r = stranger.post_json("/api/events", &json!({})).await.unwrap();
    assert_eq!(r.status, 401);
    assert!(error_of(&r).contains("log in"));
    assert_eq!(
        stranger
            .get(&format!("/api/events/{id}"))
            .await
            .unwrap()
            .status,
        401
    );
    let r = stranger.get("/api/nothing").await.unwrap();
    assert_eq!((r.status, error_of(&r)), (404, "no such API route".into()));
    let r = stranger.get("/api/login").await.unwrap();
    assert_eq!(r.status, 405);
    assert!(r.json().is_ok());
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_safety_headers() {
    let node = TestNode::start().await;
    let mut alice = node.user("alice").await;
    for path in [
        "/login",
        "/events",
        "/api/events",
        "/nowhere",
        "/api/nowhere",
    ] {
        let r = alice.get(path).await.unwrap();
        assert_eq!(r.header("cache-control"), Some("no-store"), "{path}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{path}");
        let csp = r.header("content-security-policy").unwrap();
        assert!(
            csp.starts_with("default-src 'self'; script-src 'self' 'sha256-"),
            "{csp}"
        );
    }
    // The live pages' script is a file of our origin, allowed by 'self'.
    let r = alice.get("/live.js").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(r.text().contains("EventSource"));
    let r = alice.get("/style.css").await.unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(r.header("cache-control").unwrap().contains("max-age"));
    let page = alice.get("/events").await.unwrap();
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("<meta name=\"viewport\""));
    node.stop().await;
}

/// Registers over the pages: GET the form (CSRF cookie and field), POST it.
async fn register_page(c: &mut HttpClient, name: &str, zone: &str) -> HttpResponse {
    let form = c.get("/register").await.unwrap();
    assert_eq!(form.status, 200);
    let csrf = csrf_of(&form.text());
    c.post_form(
        "/register",
        &[
            ("csrf", &csrf),
            ("username", name),
            ("password", "password1"),
            ("time_zone", zone),
        ],
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_over_the_pages_and_csrf() {
    let node = TestNode::start().await;
    let mut c = node.client();
    let r = c.get("/").await.unwrap();
    assert_eq!((r.status, r.location()), (303, Some("/login")));
    let r = c.get("/events/abcdefghjk").await.unwrap();
    assert_eq!(
        (r.status, r.location()),
        (303, Some("/login?next=%2Fevents%2Fabcdefghjk"))
    );

    // The register form sets the double-submit cookie and repeats it.
    let form = c.get("/register").await.unwrap();
    let cookie = form.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let csrf = csrf_of(&form.text());
    assert_eq!(c.cookie("convene_csrf"), Some(csrf.as_str()));
    assert!(
        form.text()
            .contains("Intl.DateTimeFormat().resolvedOptions().timeZone")
    );
    // A second visit keeps the same token (two tabs do not fight).
    let again = c.get("/login").await.unwrap();
    assert!(again.header("set-cookie").is_none());
    assert_eq!(csrf_of(&again.text()), csrf);

    // A forged form: right field, no cookie (another site cannot send it).
    let mut forger = node.client();
    let r = forger
        .post_form(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "mallory"),
                ("password", "password1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(r.text().contains("not sent from this site"));
    assert!(node.db.stored_user("mallory").is_none());
    // The cookie but a wrong field.
    let r = c
        .post_form(
            "/register",
            &[
                ("csrf", "0"),
                ("username", "mallory"),
                ("password", "password1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    assert!(r.text().contains("value=\"mallory\""), "typed values kept");

    // Errors on the form, values kept, password never echoed.
    let r = c
        .post_form(
            "/register",
            &[
                ("csrf", &csrf),
                ("username", "dora"),
                ("password", "pass"),
                ("time_zone", "Europe/Rome"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    let text = r.text();
    assert!(
        text.contains("A password has at least 8 characters"),
        "{text}"
    );
    assert!(text.contains("value=\"dora\"") && text.contains("value=\"Europe/Rome\""));
    assert!(!text.contains("value=\"pass\""));
    let r = register_page(&mut c, "dora", "Atlantis/Nowhere").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Unknown time zone"));

    // Success: logged in at once.
    let r = register_page(&mut c, "dora", "Europe/Rome").await;
    assert_eq!(
        (r.status, r.location()),
        (303, Some("/events")),
        "{}",
        r.text()
    );
    assert!(c.cookie("convene_session").is_some());
    let r = c.get("/").await.unwrap();
    assert_eq!(r.location(), Some("/events"));
    let events = c.get("/events").await.unwrap();
    assert_eq!(events.status, 200);
    assert!(events.text().contains("Log out dora"));
    assert!(events.text().contains("No events yet"), "{}", events.text());
    let taken = register_page(&mut node.client(), "dora", "UTC").await;
    assert_eq!(taken.status, 409);
    assert!(taken.text().contains("is taken"));

    // Logout: the session's own token is required.
    let r = c.post_form("/logout", &[("csrf", "wrong")]).await.unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(node.db.session_count(), 1);
    let csrf = csrf_of(&events.text());
    let r = c.post_form("/logout", &[("csrf", &csrf)]).await.unwrap();
    assert_eq!((r.status, r.location()), (303, Some("/login")));
    assert_eq!(node.db.session_count(), 0);
    let r = c.get("/events").await.unwrap();
    assert_eq!(
        (r.status, r.location()),
        (303, Some("/login?next=%2Fevents"))
    );

    // Log in over the page, back to where we were going.
    let form = c.get("/login?next=%2Fevents%2Fnew").await.unwrap();
    let text = form.text();
    assert!(text.contains("name=\"next\" value=\"/events/new\""));
    let csrf = csrf_of(&text);
    let r = c
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", "/events/new"),
                ("username", "dora"),
                ("password", "nope-nope"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    assert!(r.text().contains("Wrong user name or password"));
    let r = c
        .post_form(
            "/login",
            &[
                ("csrf", &csrf),
                ("next", "//evil.example"),
                ("username", "dora"),
                ("password", "password1"),
            ],
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.location()), (303, Some("/events")));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_over_the_pages_with_add_interval() {
    let node = TestNode::start().await;
    let mut alice = HttpClient::new(node.addr);
    register_page(&mut alice, "alice", "Europe/Rome").await;
    let mut bob = HttpClient::new(node.addr);
    register_page(&mut bob, "bob", "America/New_York").await;

    let form = alice.get("/events/new").await.unwrap();
    assert_eq!(form.status, 200);
    let text = form.text();
    assert_eq!(text.matches("name=\"start\"").count(), 1);
    assert!(text.contains("Europe/Rome"));
    let csrf = csrf_of(&text);

    // "Add interval": the same form, one more row, everything kept.
    let typed = [
        ("csrf", csrf.as_str()),
        ("name", "<script>alert(1)</script>"),
        ("description", "Bring <b>cake</b>"),
        ("participants", "bob\n"),
        ("deadline", "2030-01-01T08:00"),
        ("start", "2030-01-10T15:00"),
        ("end", "2030-01-10T18:00"),
    ];
    let mut fields = typed.to_vec();
    fields.push(("action", "add"));
    let r = alice.post_form("/events/new", &fields).await.unwrap();
    assert_eq!(r.status, 200);
    let text = r.text();
    assert_eq!(text.matches("name=\"start\"").count(), 2);
    assert!(
        text.contains("value=\"2030-01-10T15:00\"") && text.contains("value=\"2030-01-10T18:00\"")
    );
    assert!(text.contains("value=\"&lt;script&gt;alert(1)&lt;/script&gt;\""));
    assert!(!text.contains("<script>alert(1)"));
    assert!(text.contains(">bob\n</textarea>"));

    // Errors on the form, with the values.
    let mut bad = typed.to_vec();
    bad.extend([
        ("start", "2030-01-10T19:00"),
        ("end", "2030-01-10T19:00"),
        ("action", "create"),
    ]);
    let r = alice.post_form("/events/new", &bad).await.unwrap();
    assert_eq!(r.status, 400);
    let text = r.text();
    assert!(
        text.contains("Interval 2: each interval must end after it starts"),
        "{text}"
    );
    assert_eq!(text.matches("name=\"start\"").count(), 2);
    let mut unknown = typed.to_vec();
    unknown[3] = ("participants", "bob, zed yan");
    let r = alice.post_form("/events/new", &unknown).await.unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("No user is called &quot;zed&quot;, &quot;yan&quot;"),
        "{}",
        r.text()
    );
    let mut past = typed.to_vec();
    past[4] = ("deadline", "2001-01-01T08:00");
    let r = alice.post_form("/events/new", &past).await.unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("The deadline must be in the future"));
    let mut garbled = typed.to_vec();
    garbled[4] = ("deadline", "soon");
    let r = alice.post_form("/events/new", &garbled).await.unwrap();
    assert_eq!(r.status, 400);
    assert!(
        r.text()
            .contains("Deadline: &quot;soon&quot; is not a date"),
        "{}",
        r.text()
    );
    // A forged create: refused, nothing created.
    let mut forged = typed.to_vec();
    forged[0] = ("csrf", "forged");
    let r = alice.post_form("/events/new", &forged).await.unwrap();
    assert_eq!(r.status, 403);
    let listed = alice.get("/api/events").await.unwrap();
    assert_eq!(
        listed.json().unwrap(),
        json!({"events": [], "next": null, "previous": null})
    );

    // Create (Enter in a field sends the hidden default button's "create").
    let mut create = typed.to_vec();
    create.extend([("start", ""), ("end", ""), ("action", "create")]);
    let r = alice.post_form("/events/new", &create).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    let location = r.location().unwrap().to_string();
    let id = location.strip_prefix("/events/").unwrap().to_string();

    // Escaped on the list and the event page.
    let list = alice.get("/events").await.unwrap().text();
    assert!(
        list.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !list.contains("<script>alert(1)")
    );
    let page = bob.get(&location).await.unwrap();
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
            && !text.contains("<script>alert(1)")
    );
    assert!(text.contains("Bring &lt;b&gt;cake&lt;/b&gt;"));
    assert!(text.contains("America/New_York"));
    // Bob sees the deadline on his own clock: 08:00 in Rome is 02:00 in New York.
    assert!(text.contains("Tue 1 Jan 2030, 02:00 (EST)"), "{text}");

    // Bob: "Add interval", then send two rows typed in New York time.
    let csrf = csrf_of(&text);
    let action = format!("/events/{id}/availability");
    let r = bob
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("start", "2030-01-10T09:30"),
                ("end", "2030-01-10T10:00"),
                ("action", "add"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.text().matches("name=\"start\"").count(), 2);
    assert!(r.text().contains("value=\"2030-01-10T09:30\""));
    let r = bob
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("start", "2030-01-10T10:00"),
                ("end", "2030-01-10T09:00"),
                ("action", "submit"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("each interval must end after it starts"));
    let r = bob
        .post_form(&action, &[("csrf", &csrf), ("start", ""), ("end", "")])
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Give at least one interval"));
    let r = bob
        .post_form(
            &action,
            &[
                ("csrf", &csrf),
                ("start", "2030-01-10T09:30"),
                ("end", "2030-01-10T10:00"),
                ("start", "2030-01-10T10:30"),
                ("end", "2030-01-10T11:00"),
                ("action", "submit"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.location()),
        (303, Some(format!("{location}?added=1").as_str()))
    );
    let text = bob
        .get(&format!("{location}?added=1"))
        .await
        .unwrap()
        .text();
    assert!(text.contains("Your availability was added."));
    assert!(text.contains("Narrow your availability"));

    // A stranger cannot see it; an unknown event is a friendly 404.
    let mut eve = HttpClient::new(node.addr);
    register_page(&mut eve, "eve", "UTC").await;
    let r = eve.get(&location).await.unwrap();
    assert_eq!(r.status, 403);
    assert!(r.text().contains("You are not invited to this event."));
    let r = eve.get("/events/abcdefghjk").await.unwrap();
    assert_eq!(r.status, 404);
    assert!(r.text().contains("No event has the id"));
    let r = eve.get("/no/such/page").await.unwrap();
    assert_eq!(r.status, 404);
    assert!(r.text().contains("There is no page at this address."));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_event_on_the_pages() {
    let node = TestNode::start().await;
    let mut alice = node.user_in("alice", "Europe/Rome").await;
    let mut bob = node.user_in("bob", "America/New_York").await;
    // Alice creates with her times, Bob answers; both must be accepted.
    async fn event_answered(
        alice: &mut HttpClient,
        bob: &mut HttpClient,
        name: &str,
        hers: (&str, &str),
        his: (&str, &str),
    ) -> String {
        let interval = |(s, e): (&str, &str)| json!([{"start": s, "end": e}]);
        let r = alice
            .post_json(
                "/api/events",
                &json!({"name": name, "participants": ["bob"], "deadline": from_now(2),
                        "constraints": interval(hers)}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json().unwrap()["id"].as_str().unwrap().to_string();
        let r = bob
            .post_json(
                &format!("/api/events/{id}/constraints"),
                &json!({"constraints": interval(his)}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        id
    }
    let id = event_answered(
        &mut alice,
        &mut bob,
        "Call",
        ("2030-02-10T14:00:00Z", "2030-02-10T17:00:00Z"),
        ("2030-02-10T15:00:00Z", "2030-02-10T16:30:00Z"),
    )
    .await;
    let never = event_answered(
        &mut alice,
        &mut bob,
        "Never",
        ("2030-02-10T08:00:00Z", "2030-02-10T09:00:00Z"),
        ("2030-02-10T09:00:00Z", "2030-02-10T10:00:00Z"),
    )
    .await;
    wait_final(&mut bob, &id).await;
    wait_final(&mut bob, &never).await;

    let text = bob.get(&format!("/events/{id}")).await.unwrap().text();
    assert!(
        text.contains("Sun 10 Feb 2030, 10:00 – 11:30 (EST)"),
        "{text}"
    );
    assert!(!text.contains("/availability\""), "no form once final");
    let text = alice.get(&format!("/events/{id}")).await.unwrap().text();
    assert!(
        text.contains("Sun 10 Feb 2030, 16:00 – 17:30 (CET)"),
        "{text}"
    );
    let text = bob.get(&format!("/events/{never}")).await.unwrap().text();
    assert!(text.contains("No common time."));
    let list = bob.get("/events").await.unwrap().text();
    assert!(list.contains("no common time"));
    assert!(list.contains("Sun 10 Feb 2030, 10:00 – 11:30 (EST)"));
    assert!(list.contains("✓ answered"));

    // A page form sent after the deadline: the reason, not a crash.
    let page = bob.get(&format!("/events/{id}")).await.unwrap().text();
    let csrf = csrf_of(&page);
    let r = bob
        .post_form(
            &format!("/events/{id}/availability"),
            &[
                ("csrf", &csrf),
                ("start", "2030-02-10T09:00"),
                ("end", "2030-02-10T10:00"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 409);
    assert!(r.text().contains("The deadline has passed"));
    node.stop().await;
}

/// How many constraint submissions per second the API takes from 64
/// concurrent users on one node over the in-memory database: the web
/// layer's own ceiling (`cargo test -p convene-web --release --test app --
/// --ignored --nocapture throughput`).
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn throughput() {
    let node = TestNode::start().await;
    let mut alice = node.user("alice").await;
    let mut names = Vec::new();
    let mut clients = Vec::new();
    for i in 0..64 {
        let name = format!("u{i}");
        clients.push(node.user(&name).await);
        names.push(name);
    }
    let id = alice
        .post_json(
            "/api/events",
            &json!({"name": "Load", "participants": names, "deadline": from_now(3600)}),
        )
        .await
        .unwrap()
        .json()
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/events/{id}/constraints");
    let body =
        json!({"constraints": [{"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T17:00:00Z"}]});
    let run = Duration::from_secs(5);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut client in clients {
        let (path, body) = (path.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < run {
                let t = Instant::now();
                let r = client.post_json(&path, &body).await.unwrap();
                assert_eq!(r.status, 200, "{}", r.text());
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = start.elapsed();
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "{} submissions in {elapsed:?}: {:.0}/s; p50 {:?}, p99 {:?}",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        p(0.5),
        p(0.99)
    );
    // Page renders: my events and the event page, one user, one at a time.
    let mut renders = Vec::new();
    for i in 0..200 {
        let path = if i % 2 == 0 {
            "/events".to_string()
        } else {
            format!("/events/{id}")
        };
        let t = Instant::now();
        let r = alice.get(&path).await.unwrap();
        assert_eq!(r.status, 200);
        renders.push(t.elapsed());
    }
    renders.sort();
    println!("pages: p50 {:?}, p99 {:?}", renders[100], renders[197]);
    node.stop().await;
}

/// `GET /metrics` needs no login, and counts each request under the route
/// that matched, never the path sent: `/api/events/{id}` for any id,
/// `unmatched` for an address no route has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_by_route_not_by_path() {
    use convene_metrics::text::Samples;
    let node = TestNode::start().await;
    let mut c = node.client();
    for id in ["e1", "e2", "e3"] {
        let r = c.get(&format!("/api/events/{id}")).await.unwrap();
        assert_eq!(r.status, 401, "{}", r.text());
    }
    let r = c.get("/no/such/page").await.unwrap();
    assert_eq!(r.status, 404);
    let r = c.get("/metrics").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.header("content-type"),
        Some(convene_metrics::CONTENT_TYPE)
    );
    let text = r.text();
    assert!(!text.contains("e1") && !text.contains("/no/such"), "{text}");
    let samples = Samples::parse(&text).unwrap();
    let requests = |kind: &str, outcome: &str| {
        samples.sum(
            "convene_requests_total",
            &[
                ("service", "web"),
                ("door", "http"),
                ("kind", kind),
                ("outcome", outcome),
            ],
        )
    };
    assert_eq!(requests("/api/events/{id}", "4xx"), 3.0, "{text}");
    assert_eq!(requests("unmatched", "4xx"), 1.0, "{text}");
    assert_eq!(
        samples.sum(
            "convene_request_duration_seconds_count",
            &[("kind", "/api/events/{id}")]
        ),
        3.0
    );
    // This front has no node membership: ready as soon as its database is.
    assert_eq!(samples.get("convene_ready", &[]), Some(1.0), "{text}");
}
