//! A final event used across services, from its page: "Book it" books a
//! facility for the result's first interval as the account's booking (seen
//! by a seed client over UDP and in `/api/bookings`), the chat room link
//! opens `/chat` set to make the event's room, and "Create the folder"
//! makes the event's folder, which reaches another node's shared folder. Before the event is final, with a bad token, or for a stranger,
//! nothing happens.

use std::time::Duration;

use convene_time::WeekTime;
use serde_json::json;

use crate::booking_web::free_slots;
use crate::events::{now, unique};
use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, eventually, files, ready, web_files};
use crate::web::{api_user, wait_final};
use crate::web_pages::csrf_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_event_books_a_facility_and_makes_a_folder_that_syncs() {
    let a = NodeSpec {
        chat: true,
        booking_port: true,
        booking: Some("facilities = [\"Room A\"]"),
        ..web_files("A", "directory_a")
    };
    let mut c = TestCluster::bind_with(&[a, files("B", "directory_b")], FAST_ELECTION).await;
    c.start_node("A").await;
    c.start_node("B").await;
    let web = c.node("A").http_addr().unwrap();
    let udp = c.node("A").booking_addr().unwrap();
    let tag = unique();
    let (ann, ben, eve) = (
        format!("ann-{tag}"),
        format!("ben-{tag}"),
        format!("eve-{tag}"),
    );
    let mut ann_c = api_user(web, &ann, "Europe/Rome").await;
    let mut ben_c = api_user(web, &ben, "UTC").await;
    let mut eve_c = api_user(web, &eve, "UTC").await;
    // Wednesday 9 December 2026: 08:00 to 09:30 UTC for both, 09:00 to
    // 10:30 in Rome.
    let r = ann_c
        .post_json(
            "/api/events",
            &json!({
                "name": "Design review",
                "participants": [ben],
                "deadline": convene_events::zone::format_rfc3339(now() + 4),
                "constraints": [{"start": "2026-12-09T08:00:00Z", "end": "2026-12-09T09:30:00Z"}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json().unwrap()["id"].as_str().unwrap().to_string();
    let page = ann_c.get(&format!("/events/{id}")).await.unwrap().text();
    assert!(
        !page.contains("Use the result"),
        "nothing to use while open"
    );
    let csrf = csrf_of(&page);
    let r = ann_c
        .post_form(&format!("/events/{id}/folder"), &[("csrf", csrf.as_str())])
        .await
        .unwrap();
    assert_eq!(r.status, 409, "not before the result");
    let r = ben_c
        .post_json(
            &format!("/api/events/{id}/constraints"),
            &json!({"constraints": [{"start": "2026-12-09T07:00:00Z", "end": "2026-12-09T12:00:00Z"}]}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    wait_final(&mut ann_c, &id).await;

    // The page offers both actions, in Ann's zone.
    let page = ann_c.get(&format!("/events/{id}")).await.unwrap().text();
    assert!(page.contains("Use the result"));
    assert!(page.contains("Book a facility from Wed:09:00 to Wed:10:30 (Europe/Rome)"));
    let folder = format!("events/design-review-{id}");
    assert!(page.contains(&folder));
    let room = format!("Designrevi{}", &id[..6]);
    assert!(
        page.contains(&format!("href=\"/chat?room={room}\"")),
        "{page}"
    );
    let chat = ann_c
        .get(&format!("/chat?room={room}"))
        .await
        .unwrap()
        .text();
    assert!(chat.contains(&format!("data-room=\"{room}\"")), "{chat}");
    let bad = ann_c.get("/chat?room=no-such!").await.unwrap().text();
    assert!(bad.contains("Not a room to enter") && !bad.contains("data-room"));

    // Bad token, a stranger: refused, nothing made.
    let book = format!("/events/{id}/book");
    let r = ann_c
        .post_form(&book, &[("csrf", "wrong"), ("facility", "Room A")])
        .await
        .unwrap();
    assert_eq!(r.status, 403);
    let eve_csrf = csrf_of(&eve_c.get("/events").await.unwrap().text());
    let r = eve_c
        .post_form(
            &book,
            &[("csrf", eve_csrf.as_str()), ("facility", "Room A")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 403, "not invited");
    let r = ann_c
        .post_form(&book, &[("csrf", csrf.as_str()), ("facility", "Room Z")])
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text());

    // Book it: the account's booking, and the seed's clients see it.
    let r = ann_c
        .post_form(&book, &[("csrf", csrf.as_str()), ("facility", "Room A")])
        .await
        .unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    let mine = ann_c.get("/api/bookings").await.unwrap().json().unwrap();
    assert_eq!(mine["bookings"][0]["facility"], "Room A", "{mine}");
    assert_eq!(mine["bookings"][0]["start"], "Wed:09:00");
    assert_eq!(mine["bookings"][0]["end"], "Wed:10:30");
    let t = |d, h, m| WeekTime::new(d, h, m).unwrap();
    assert_eq!(
        free_slots(udp, "Room A", 2).await,
        [(t(2, 0, 0), t(2, 9, 0)), (t(2, 10, 30), t(2, 24, 0))]
    );

    // The folder: made here, synced to B.
    let r = ann_c
        .post_form(&format!("/events/{id}/folder"), &[("csrf", csrf.as_str())])
        .await
        .unwrap();
    assert_eq!((r.status, r.location()), (303, Some("/files")));
    let on_b = c.path("directory_b").join(&folder).join("README.txt");
    eventually(Duration::from_secs(20), "the folder to reach B", || async {
        ready(on_b.exists(), "not yet")
    })
    .await;
    let note = std::fs::read_to_string(&on_b).unwrap();
    assert!(note.starts_with("Design review\n"));
    assert!(note.contains("- 2026-12-09T08:00:00Z to 2026-12-09T09:30:00Z"));
    c.stop().await;
}
