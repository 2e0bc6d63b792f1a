//! The services' pages in a real browser (Debian's Chromium through
//! chromedriver, at a phone's width), as a person uses them:
//!
//! - on an open event, painting the grid by dragging across cells;
//! - on `/files`, uploading a file (it reaches another node's folder), and
//!   locking one, which holds a change made on another node until the
//!   unlock (the page shows the held update meanwhile);
//! - on a final event, "Book it" (a seed client over UDP then sees the
//!   booking) and "Create the folder" (it reaches the other node);
//! - on `/meet`, the common time of a backend's users;
//! - every page fits the phone's width and names its fields.
//!
//! With `CONVENE_SCREENSHOTS=DIR` it also saves a PNG of every page it
//! visits into DIR (how `docs/screenshots/` is made).

use std::time::Duration;

use convene_time::WeekTime;
use serde_json::json;

use crate::booking_web::free_slots;
use crate::browser::Browser;
use crate::events::{now, unique};
use crate::util::{
    FAST_ELECTION, NodeSpec, SPEC_B, TestCluster, eventually, files, ready, web_files,
};
use crate::web::{api_user, wait_final};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_grids_and_a_final_events_actions_work_in_a_real_browser() {
    let Some(mut browser) = Browser::start().await else {
        return;
    };
    // A: the web front, meet's main node, a facility and a shared folder;
    // B: a meet backend and another shared folder.
    let a = NodeSpec {
        main: true,
        booking_port: true,
        booking: Some("facilities = [\"Room A\"]"),
        ..web_files("A", "directory_a")
    };
    let b = NodeSpec {
        availability: Some(SPEC_B),
        ..files("B", "directory_b")
    };
    let mut c = TestCluster::bind_with(&[a, b], FAST_ELECTION).await;
    std::fs::write(c.path("directory_a").join("notes.txt"), "hello notes").unwrap();
    c.start_node("A").await;
    c.start_node("B").await;
    let web = c.node("A").http_addr().unwrap();
    let (dir_a, dir_b) = (c.path("directory_a"), c.path("directory_b"));
    let tag = unique();
    let (ann, ben) = (format!("ann{tag}"), format!("ben{tag}"));
    browser.go(format!("http://{web}/login")).await;
    browser.check_page("login").await;
    browser.register(web, &ann, "UTC").await;
    let mut ben_c = api_user(web, &ben, "UTC").await;
    browser.login(web, &ann).await;
    browser.check_page("events").await;

    // An open event: paint four half hours by dragging down a column.
    let mut ann_c = api_user(web, &format!("{ann}x"), "UTC").await;
    let r = ann_c
        .post_json(
            "/api/events",
            &json!({
                "name": "Planning",
                "participants": [ann],
                "deadline": convene_events::zone::format_rfc3339(now() + 3600),
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let open_id = r.json().unwrap()["id"].as_str().unwrap().to_string();
    browser
        .go(format!("http://{web}/events/{open_id}?week=2030-03-04"))
        .await;
    browser
        .drag(
            "label[for=cell-20300304T0900]",
            "label[for=cell-20300304T1030]",
        )
        .await;
    let painted = browser
        .script("return Array.from(document.querySelectorAll('input[name=cell]:checked')).map(e => e.value);")
        .await;
    assert_eq!(
        painted,
        json!([
            "2030-03-04T09:00",
            "2030-03-04T09:30",
            "2030-03-04T10:00",
            "2030-03-04T10:30"
        ])
    );
    // By keyboard: Space on a focused cell ticks it (the cells are
    // checkboxes; the script leaves keyboard clicks alone).
    let cell = browser.find("css selector", "#cell-20300305T1200").await;
    browser
        .command(
            "POST",
            &format!("/element/{cell}/value"),
            json!({"text": " "}),
        )
        .await;
    let ticked = browser
        .script("return document.getElementById('cell-20300305T1200').checked;")
        .await;
    assert_eq!(ticked, json!(true), "Space did not tick the cell");
    browser.check_page("event-grid").await;
    browser.click("Send the painted times").await;
    let page = browser.source().await;
    assert!(page.contains("Your availability was added."), "{page}");

    // Files: the page, an upload from the browser, and a lock.
    browser.go(format!("http://{web}/files")).await;
    browser.check_page("files").await;
    let upload = tempfile::tempdir().unwrap();
    let local = upload.path().join("from-browser.txt");
    std::fs::write(&local, "uploaded in a browser").unwrap();
    let input = browser.find("css selector", "input[type=file]").await;
    browser
        .command(
            "POST",
            &format!("/element/{input}/value"),
            json!({"text": local.display().to_string()}),
        )
        .await;
    browser.click("Upload").await;
    eventually(Duration::from_secs(20), "the upload on B", || async {
        let text = std::fs::read_to_string(dir_b.join("from-browser.txt")).unwrap_or_default();
        ready(text == "uploaded in a browser", text)
    })
    .await;
    browser
        .click_xpath("//button[@aria-label='Lock notes.txt']", "Lock notes.txt")
        .await;
    std::fs::write(dir_a.join("notes.txt"), "changed on A").unwrap();
    let shared = tokio::sync::Mutex::new(&mut browser);
    eventually(
        Duration::from_secs(20),
        "the held update on the page",
        || async {
            let mut browser = shared.lock().await;
            browser.go(format!("http://{web}/files")).await;
            let page = browser.source().await;
            ready(page.contains("1 update held, from A"), page)
        },
    )
    .await;
    browser.check_page("files-locked").await;
    assert_eq!(
        std::fs::read_to_string(dir_b.join("notes.txt")).unwrap(),
        "hello notes",
        "held while locked"
    );
    browser
        .click_xpath(
            "//button[@aria-label='Unlock notes.txt']",
            "Unlock notes.txt",
        )
        .await;
    eventually(Duration::from_secs(20), "the held change on B", || async {
        let text = std::fs::read_to_string(dir_b.join("notes.txt")).unwrap_or_default();
        ready(text == "changed on A", text)
    })
    .await;

    // A final event: Wednesday 9 December 2026, 10:00 to 11:00 UTC.
    let r = ben_c
        .post_json(
            "/api/events",
            &json!({
                "name": "Kickoff",
                "participants": [ann],
                "deadline": convene_events::zone::format_rfc3339(now() + 3),
                "constraints": [{"start": "2026-12-09T10:00:00Z", "end": "2026-12-09T11:00:00Z"}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json().unwrap()["id"].as_str().unwrap().to_string();
    wait_final(&mut ben_c, &id).await;
    browser.go(format!("http://{web}/events/{id}")).await;
    browser.check_page("event-final").await;
    browser.click("Book it").await;
    assert!(browser.url().await.contains("/booking"));
    browser.check_page("booking-from-an-event").await;
    let t = |d, h, m| WeekTime::new(d, h, m).unwrap();
    assert_eq!(
        free_slots(c.node("A").booking_addr().unwrap(), "Room A", 2).await,
        [(t(2, 0, 0), t(2, 10, 0)), (t(2, 11, 0), t(2, 24, 0))]
    );
    browser.go(format!("http://{web}/events/{id}")).await;
    browser.click("Create the folder").await;
    let readme = dir_b
        .join(format!("events/kickoff-{id}"))
        .join("README.txt");
    eventually(
        Duration::from_secs(20),
        "the event's folder on B",
        || async { ready(readme.exists(), "not yet") },
    )
    .await;
    browser.go(format!("http://{web}/status")).await;
    browser.check_page("status").await;

    // Meet: B's users' common time, once A knows them.
    let a_node = c.node("A");
    eventually(Duration::from_secs(10), "A to know B's users", || {
        let known = a_node.meet().known_users();
        async move { ready(known >= 3, format!("it knows {known}")) }
    })
    .await;
    browser
        .go(format!("http://{web}/meet?users=theodore,amy"))
        .await;
    let page = browser.source().await;
    assert!(page.contains("<li>[2,5]</li>"), "{page}");
    browser.check_page("meet").await;
    drop(browser);
    c.stop().await;
}
