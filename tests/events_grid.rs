//! The event page's availability grid and calendar file, through real web
//! fronts: a participant in New York paints half-hour cells of the week the
//! page shows, the result is those cells in UTC met with the creator's
//! times, and the final event's `.ics` holds the result. A cell that is not
//! one, an empty grid, a calendar before the result, a stranger and a
//! visitor without a session each get a clear answer and change nothing.

use serde_json::json;

use crate::events::{now, unique};
use crate::web::{api_user, wait_final};
use crate::web_pages::csrf_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_painted_grid_answers_an_event_and_its_result_goes_to_a_calendar() {
    let c = crate::events::cluster("sqlite")
        .await
        .expect("SQLite always runs");
    let a = c.node("A").http_addr().unwrap();
    let b = c.node("B").http_addr().unwrap();
    let tag = unique();
    let (ann, ben, eve) = (
        format!("ann-{tag}"),
        format!("ben-{tag}"),
        format!("eve-{tag}"),
    );
    let mut ann_c = api_user(a, &ann, "Europe/Rome").await;
    let mut ben_c = api_user(b, &ben, "America/New_York").await;
    let mut eve_c = api_user(a, &eve, "UTC").await;
    let r = ann_c
        .post_json(
            "/api/events",
            &json!({
                "name": "Retro, planning; review",
                "participants": [ben],
                "deadline": convene_events::zone::format_rfc3339(now() + 8),
                "constraints": [{"start": "2030-03-04T11:00:00Z", "end": "2030-03-04T16:00:00Z"}],
            }),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json().unwrap()["id"].as_str().unwrap().to_string();
    let page_path = format!("/events/{id}");
    let form_path = format!("/events/{id}/availability");

    // Ben's page shows the week he asks for, in his zone, with the script
    // that paints by dragging.
    let page = ben_c
        .get(&format!("{page_path}?week=2030-03-04"))
        .await
        .unwrap();
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(
        text.contains("value=\"2030-03-04T07:00\""),
        "a cell at 07:00?"
    );
    assert!(text.contains("aria-label=\"Mon 4 Mar, 09:30 to 10:00\""));
    assert!(text.contains("?week=2030-03-11"), "a link to the next week");
    assert!(text.contains("src=\"/grid.js?v="));
    let csrf = csrf_of(&text);
    let script = ben_c.get("/grid.js").await.unwrap();
    assert_eq!(script.status, 200);
    assert!(script.text().contains("pointerdown"));

    // Bad grids are refused on the page, and count for nothing.
    let post = |cells: &[&str]| {
        let mut fields = vec![
            ("csrf", csrf.clone()),
            ("week", "2030-03-04".to_string()),
            ("action", "grid".to_string()),
        ];
        fields.extend(cells.iter().map(|c| ("cell", c.to_string())));
        fields
    };
    for (cells, says) in [
        (vec!["2030-03-04T07:15"], "is not a cell of the grid"),
        (vec!["next tuesday"], "is not a cell of the grid"),
        (vec![], "Paint at least one cell of the grid"),
    ] {
        let fields = post(&cells);
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = ben_c.post_form(&form_path, &fields).await.unwrap();
        assert_eq!(r.status, 400, "{cells:?}");
        assert!(r.text().contains(says), "{cells:?}: no {says:?}");
    }
    let r = ann_c
        .get(&format!("/events/{id}/calendar.ics"))
        .await
        .unwrap();
    assert_eq!(r.status, 404, "no calendar while open");
    assert_eq!(eve_c.get(&page_path).await.unwrap().status, 403);
    let mut stranger = convene_web::client::HttpClient::new(a);
    let r = stranger
        .get(&format!("/events/{id}/calendar.ics"))
        .await
        .unwrap();
    assert_eq!(r.status, 303, "to the login page");

    // 07:00 to 09:00 in New York (EST) is 12:00 to 14:00 UTC; the cells
    // touch, so they are one interval.
    let cells = post(&[
        "2030-03-04T07:00",
        "2030-03-04T07:30",
        "2030-03-04T08:00",
        "2030-03-04T08:30",
    ]);
    let fields: Vec<(&str, &str)> = cells.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = ben_c.post_form(&form_path, &fields).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.location(), Some(format!("/events/{id}?added=1").as_str()));

    let event = wait_final(&mut ann_c, &id).await;
    assert_eq!(
        event["result"],
        json!([{"start": "2030-03-04T12:00:00Z", "end": "2030-03-04T14:00:00Z"}])
    );
    let page = ann_c.get(&page_path).await.unwrap().text();
    assert!(page.contains(&format!("href=\"/events/{id}/calendar.ics\"")));
    let r = ann_c
        .get(&format!("/events/{id}/calendar.ics"))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/calendar; charset=utf-8")
    );
    let ics = r.text();
    assert!(ics.contains("DTSTART:20300304T120000Z\r\nDTEND:20300304T140000Z\r\n"));
    assert!(ics.contains("SUMMARY:Retro\\, planning\\; review\r\n"));
    assert_eq!(ics.matches("BEGIN:VEVENT").count(), 1);
    c.stop().await;
}
