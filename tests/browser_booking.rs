//! The live booking grid in a real browser (Chromium through chromedriver,
//! as in `browser.rs`; skipped without it unless
//! `CONVENE_REQUIRE_BROWSER=1`): a booking a seed client makes over UDP,
//! on a facility another node serves, appears in the open `/booking` page
//! without a reload, and a booking made with the page's form is the one a
//! seed client's query sees. Then `/status`, open, shows a stopped node go
//! down without a reload.

use std::time::Duration;

use convene_booking::wire::{Reply, Request};
use serde_json::json;

use crate::booking_web::{seed, t};
use crate::browser::Browser;
use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, eventually, plain};

/// A: web front, UDP front door, "Room A". B: UDP front door, "Hall B".
async fn cluster() -> TestCluster {
    let a = NodeSpec {
        web: true,
        booking_port: true,
        booking: Some("facilities = [\"Room A\"]"),
        ..plain("A")
    };
    let b = NodeSpec {
        booking_port: true,
        booking: Some("facilities = [\"Hall B\"]"),
        ..plain("B")
    };
    let mut c = TestCluster::bind_with(&[a, b], FAST_ELECTION).await;
    c.start_node("A").await;
    c.start_node("B").await;
    c
}

/// The text of Monday's "Booked" cell in `facility`'s table, and whether
/// the page is still the one marked before (not reloaded).
const MONDAY_BOOKED: &str = "const t = Array.from(document.querySelectorAll('table[data-facility]'))\
    .find(e => e.getAttribute('data-facility') === arguments[0]);\
    if (!t) { return null; }\
    const cell = t.tBodies[0].rows[0].querySelector('td[data-label=Booked]');\
    return [cell ? cell.textContent : null, window.conveneSame === true];";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_grid_and_the_status_page_update_live_in_a_real_browser() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    let mut c = cluster().await;
    let web = c.node("A").http_addr().unwrap();
    browser.register(web, "grace", "UTC").await;
    browser.login(web, "grace").await;
    browser.go(format!("http://{web}/booking")).await;
    let page = browser.source().await;
    assert!(page.contains("data-facility=\"Hall B\""), "{page}");
    // Marked: a reload would lose the mark.
    browser
        .command(
            "POST",
            "/execute/sync",
            json!({"script": "window.conveneSame = true;", "args": []}),
        )
        .await;
    let monday = json!({"script": MONDAY_BOOKED, "args": ["Hall B"]});
    let now = browser
        .command("POST", "/execute/sync", monday.clone())
        .await;
    assert_eq!(now, json!(["—", true]), "Hall B's Monday before");

    // A seed client books Hall B at B's own front door.
    let reply = seed(
        c.node("B").booking_addr().unwrap(),
        Request::Book {
            facility: "Hall B".into(),
            start: t(0, 10, 0),
            end: t(0, 11, 0),
        },
    )
    .await;
    assert!(matches!(reply, Reply::Booked { .. }), "{reply:?}");
    let shared = tokio::sync::Mutex::new(&mut browser);
    eventually(
        Duration::from_secs(10),
        "the UDP booking in the open grid",
        || async {
            let seen = shared
                .lock()
                .await
                .command("POST", "/execute/sync", monday.clone())
                .await;
            if seen[0].as_str().is_some_and(|s| s.contains("10:00–11:00")) {
                Ok(seen)
            } else {
                Err(seen)
            }
        },
    )
    .await;
    let seen = browser.command("POST", "/execute/sync", monday).await;
    assert_eq!(seen[1], json!(true), "the page was reloaded");
    browser.check_page("booking").await;

    // Grace books Room A with the page's form…
    browser.set("select[name=facility]", 0, "Room A").await;
    browser.set("select[name=day]", 0, "Mon").await;
    browser.set("input[name=start]", 0, "12:00").await;
    browser.type_into("input[name=end]", "13:00").await;
    browser.click("Book").await;
    let page = browser.source().await;
    assert!(page.contains("Room A"), "{page}");
    assert!(!page.contains("role=\"alert\""), "{page}");

    // …and a seed client's query at A's front door sees it.
    let reply = seed(
        c.node("A").booking_addr().unwrap(),
        Request::Query {
            facility: "Room A".into(),
            days: vec![0],
        },
    )
    .await;
    let Reply::Availability { days, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(
        days[0].slots,
        vec![(t(0, 0, 0), t(0, 12, 0)), (t(0, 13, 0), t(0, 24, 0))]
    );

    // The status page follows the cluster: B stops, and its row says down.
    browser.go(format!("http://{web}/status")).await;
    browser
        .command(
            "POST",
            "/execute/sync",
            json!({"script": "window.conveneSame = true;", "args": []}),
        )
        .await;
    let state = json!({"script": NODE_STATE, "args": ["B"]});
    let seen = browser
        .command("POST", "/execute/sync", state.clone())
        .await;
    assert_eq!(seen, json!(["up", true]), "B before");
    c.stop_node("B").await;
    let shared = tokio::sync::Mutex::new(&mut browser);
    eventually(
        Duration::from_secs(15),
        "B down on the open page",
        || async {
            let seen = shared
                .lock()
                .await
                .command("POST", "/execute/sync", state.clone())
                .await;
            if seen == json!(["down", true]) {
                Ok(())
            } else {
                Err(seen)
            }
        },
    )
    .await;
    drop(browser);
    c.stop().await;
}

/// The State cell of node `arguments[0]`'s row on `/status`, and whether
/// the page is still the one marked before.
const NODE_STATE: &str = "const row = Array.from(document.querySelectorAll('table[data-status] tbody tr'))\
    .find(r => r.cells[0].textContent.trim().split(' ')[0] === arguments[0]);\
    const cell = row ? row.querySelector('td[data-label=State]') : null;\
    return [cell ? cell.textContent.trim() : null, window.conveneSame === true];";
