//! Booking over HTTP with real nodes on loopback: the JSON API answers only
//! logged-in accounts; a booking made over HTTP is the one a seed client
//! sees over UDP, and one made over UDP shows in the API; a booking belongs
//! to the account that made it; bad input gets a clear JSON error.

use std::net::SocketAddr;
use std::time::Duration;

use convene_booking::client::Client;
use convene_booking::wire::{Reply, Request};
use convene_time::WeekTime;
use convene_web::client::{HttpClient, HttpResponse};
use serde_json::{Value, json};

use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, plain, register};

/// A has the web front, a UDP front door and "Room A"; B serves "Hall B"
/// (no front door), so its requests travel from A over the peer transport.
async fn cluster() -> TestCluster {
    let a = NodeSpec {
        web: true,
        booking_port: true,
        booking: Some("facilities = [\"Room A\"]"),
        ..plain("A")
    };
    let b = NodeSpec {
        booking: Some("facilities = [\"Hall B\"]"),
        ..plain("B")
    };
    let mut c = TestCluster::bind_with(&[a, b], FAST_ELECTION).await;
    c.start_node("A").await;
    c.start_node("B").await;
    c
}

fn web(c: &TestCluster) -> SocketAddr {
    c.node("A").http_addr().unwrap()
}

fn udp(c: &TestCluster) -> SocketAddr {
    c.node("A").booking_addr().unwrap()
}

/// `name`, registered and logged in over the API (the session cookie).
pub(crate) async fn account(web: SocketAddr, name: &str) -> HttpClient {
    register(web, name).await;
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

async fn send(
    client: &mut HttpClient,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> HttpResponse {
    let bytes = body.map(|b| b.to_string()).unwrap_or_default();
    let headers: &[(&str, &str)] = if bytes.is_empty() {
        &[]
    } else {
        &[("content-type", "application/json")]
    };
    client
        .request(method, path, headers, bytes.as_bytes())
        .await
        .unwrap()
}

/// The free time of `facility` on `day`, as a seed client's query over
/// UDP sees it.
pub(crate) async fn free_slots(
    server: SocketAddr,
    facility: &str,
    day: u8,
) -> Vec<(WeekTime, WeekTime)> {
    let query = Request::Query {
        facility: facility.to_string(),
        days: vec![day],
    };
    let reply = seed(server, query).await;
    let Reply::Availability { mut days, .. } = reply else {
        panic!("{reply:?}")
    };
    days.remove(0).slots
}

/// One seed request over UDP.
pub(crate) async fn seed(server: SocketAddr, request: Request) -> Reply {
    tokio::task::spawn_blocking(move || {
        let mut c = Client::new(server).unwrap();
        c.timeout = Duration::from_secs(2);
        c.call(&request, &mut std::io::sink())
            .unwrap()
            .expect("a reply")
    })
    .await
    .unwrap()
}

pub(crate) fn t(day: u8, hour: u8, minute: u8) -> WeekTime {
    WeekTime::new(day, hour, minute).unwrap()
}

/// The free ranges of `facility` on `day` as the API gives them.
async fn free(client: &mut HttpClient, facility: &str, day: u8) -> Vec<(String, String)> {
    let path = format!(
        "/api/booking/facilities/{}?days={day}",
        facility.replace(' ', "%20")
    );
    let r = client.get(&path).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json().unwrap();
    assert_eq!(body["facility"], facility);
    body["days"][0]["free"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["start"].as_str().unwrap().to_string(),
                r["end"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_get_401_from_every_booking_route() {
    let c = cluster().await;
    let mut stranger = HttpClient::new(web(&c));
    let tries: [(&str, &str, Option<Value>); 6] = [
        ("GET", "/api/booking/facilities", None),
        ("GET", "/api/booking/facilities/Room%20A", None),
        ("GET", "/api/bookings", None),
        (
            "POST",
            "/api/bookings",
            Some(json!({"facility":"Room A","start":"Mon:10:00","end":"Mon:11:00"})),
        ),
        (
            "PATCH",
            "/api/bookings/x",
            Some(json!({"extend_minutes": 30})),
        ),
        ("DELETE", "/api/bookings/x", None),
    ];
    for (method, path, body) in tries {
        let r = send(&mut stranger, method, path, body).await;
        assert_eq!(r.status, 401, "{method} {path}: {}", r.text());
        assert!(!error_of(&r).is_empty(), "{method} {path}: no JSON error");
    }
    // Nothing was booked by the stranger's POST.
    let mut ada = account(web(&c), "ada").await;
    assert_eq!(
        free(&mut ada, "Room A", 0).await,
        [("Mon:00:00".to_string(), "Mon:24:00".to_string())]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_and_udp_bookings_are_one_week() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;

    let r = ada.get("/api/booking/facilities").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = r.json().unwrap();
    let names: Vec<&str> = listed["facilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Room A", "Hall B"]);
    assert_eq!(listed["facilities"][1]["served_by"], "B");

    // Booked over HTTP (Hall B: served by B, reached from A's web front).
    for facility in ["Room A", "Hall B"] {
        let r = ada
            .post_json(
                "/api/bookings",
                &json!({"facility": facility, "start": "Mon:10:00", "end": "Mon:11:00"}),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 201, "{}", r.text());
        assert!(
            r.json().unwrap()["id"]
                .as_str()
                .is_some_and(|id| !id.is_empty())
        );
        // A seed client's query over UDP sees it.
        let reply = seed(
            udp(&c),
            Request::Query {
                facility: facility.to_string(),
                days: vec![0],
            },
        )
        .await;
        let Reply::Availability { days, .. } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(
            days[0].slots,
            [(t(0, 0, 0), t(0, 10, 0)), (t(0, 11, 0), t(0, 24, 0))],
            "{facility}"
        );
    }

    // Booked over UDP: the API shows it.
    let reply = seed(
        udp(&c),
        Request::Book {
            facility: "Hall B".into(),
            start: t(1, 9, 0),
            end: t(1, 12, 30),
        },
    )
    .await;
    assert!(matches!(reply, Reply::Booked { .. }), "{reply:?}");
    assert_eq!(
        free(&mut ada, "Hall B", 1).await,
        [
            ("Tue:00:00".to_string(), "Tue:09:00".to_string()),
            ("Tue:12:30".to_string(), "Tue:24:00".to_string())
        ]
    );

    // The account's own bookings: the two made over HTTP, not the UDP one.
    let r = ada.get("/api/bookings").await.unwrap();
    let mine = r.json().unwrap();
    let mine = mine["bookings"].as_array().unwrap();
    assert_eq!(mine.len(), 2, "{mine:?}");
    let room = mine.iter().find(|b| b["facility"] == "Room A").unwrap();
    let id = room["id"].as_str().unwrap().to_string();

    // Move by an hour, then extend by 30 minutes: the seed sees both.
    let path = format!("/api/bookings/{id}");
    let r = send(
        &mut ada,
        "PATCH",
        &path,
        Some(json!({"offset_minutes": 60})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().unwrap()["start"], "Mon:11:00");
    let r = send(
        &mut ada,
        "PATCH",
        &path,
        Some(json!({"extend_minutes": 30})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().unwrap()["end"], "Mon:12:30");
    assert_eq!(
        free(&mut ada, "Room A", 0).await,
        [
            ("Mon:00:00".to_string(), "Mon:11:00".to_string()),
            ("Mon:12:30".to_string(), "Mon:24:00".to_string())
        ]
    );

    // Cancel: free again, over UDP too, and gone from "mine".
    let r = send(&mut ada, "DELETE", &path, None).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let reply = seed(
        udp(&c),
        Request::Query {
            facility: "Room A".into(),
            days: vec![0],
        },
    )
    .await;
    let Reply::Availability { days, .. } = reply else {
        panic!("{reply:?}")
    };
    assert_eq!(days[0].slots, [(t(0, 0, 0), t(0, 24, 0))]);
    let r = ada.get("/api/bookings").await.unwrap();
    assert_eq!(r.json().unwrap()["bookings"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_account_that_booked_may_change_or_cancel() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let mut bob = account(web(&c), "bob").await;
    let r = ada
        .post_json(
            "/api/bookings",
            &json!({"facility": "Room A", "start": "Wed:08:00", "end": "Wed:09:00"}),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json().unwrap()["id"].as_str().unwrap().to_string();
    let path = format!("/api/bookings/{id}");

    let r = send(&mut bob, "DELETE", &path, None).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(error_of(&r).contains("another account"), "{}", r.text());
    let r = send(
        &mut bob,
        "PATCH",
        &path,
        Some(json!({"extend_minutes": 60})),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    // Bob's list does not show it; Ada's booking is untouched.
    let r = bob.get("/api/bookings").await.unwrap();
    assert_eq!(r.json().unwrap()["bookings"], json!([]));
    assert_eq!(
        free(&mut ada, "Room A", 2).await,
        [
            ("Wed:00:00".to_string(), "Wed:08:00".to_string()),
            ("Wed:09:00".to_string(), "Wed:24:00".to_string())
        ]
    );

    // A booking made over UDP belongs to no account: not changeable here.
    let reply = seed(
        udp(&c),
        Request::Book {
            facility: "Room A".into(),
            start: t(4, 8, 0),
            end: t(4, 9, 0),
        },
    )
    .await;
    let Reply::Booked { confirmation } = reply else {
        panic!("{reply:?}")
    };
    let r = send(
        &mut ada,
        "DELETE",
        &format!("/api/bookings/{confirmation}"),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_json_error() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let book = |facility: &str, start: &str, end: &str| json!({"facility": facility, "start": start, "end": end});
    let cases = [
        (book("Room A", "Mon:10", "Mon:11:00"), 400, "start"),
        (book("Room A", "Mon:10:00", "Xyz:11:00"), 400, "end"),
        (book("Room A", "Mon:25:00", "Mon:26:00"), 400, "hour 25"),
        // The seed's own rule and message: start before end.
        (book("Room A", "Mon:11:00", "Mon:10:00"), 400, ""),
        (
            book("Nowhere", "Mon:10:00", "Mon:11:00"),
            404,
            "Facility 'Nowhere' not found",
        ),
        (json!({"facility": "Room A"}), 400, "missing field"),
    ];
    for (body, status, words) in cases {
        let r = ada.post_json("/api/bookings", &body).await.unwrap();
        assert_eq!(r.status, status, "{body}: {}", r.text());
        let error = error_of(&r);
        assert!(
            !error.is_empty() && error.contains(words),
            "{body}: {error}"
        );
    }
    // Not available: 409 with the seed's message.
    let ok = ada
        .post_json("/api/bookings", &book("Room A", "Thu:10:00", "Thu:12:00"))
        .await
        .unwrap();
    assert_eq!(ok.status, 201, "{}", ok.text());
    let r = ada
        .post_json("/api/bookings", &book("Room A", "Thu:11:00", "Thu:13:00"))
        .await
        .unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(!error_of(&r).is_empty());

    let r = ada.get("/api/booking/facilities/Nowhere").await.unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(error_of(&r).contains("not found"), "{}", r.text());
    let r = ada
        .get("/api/booking/facilities/Room%20A?days=9")
        .await
        .unwrap();
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(error_of(&r).contains("days"), "{}", r.text());

    let r = send(&mut ada, "DELETE", "/api/bookings/CONF0-nothing", None).await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(!error_of(&r).is_empty());
    let id = ok.json().unwrap()["id"].as_str().unwrap().to_string();
    let path = format!("/api/bookings/{id}");
    for body in [
        json!({}),
        json!({"offset_minutes": 1, "extend_minutes": 1}),
        json!({"extend_minutes": -5}),
    ] {
        let r = send(&mut ada, "PATCH", &path, Some(body.clone())).await;
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert!(!error_of(&r).is_empty());
    }
}

/// The hidden `csrf` field's value in a page.
fn csrf_of(page: &str) -> String {
    let at = page.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    page[at..].split('"').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_booking_page_shows_the_week_and_its_forms_work() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    // A UDP booking shows on the page as booked time.
    let reply = seed(
        udp(&c),
        Request::Book {
            facility: "Room A".into(),
            start: t(0, 9, 0),
            end: t(0, 9, 30),
        },
    )
    .await;
    assert!(matches!(reply, Reply::Booked { .. }), "{reply:?}");
    let r = ada.get("/booking").await.unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let page = r.text();
    for words in [
        "Room A",
        "Hall B",
        "Book a facility",
        "My bookings",
        "09:00–09:30",
        "<label",
    ] {
        assert!(page.contains(words), "no {words:?} in the page");
    }
    let csrf = csrf_of(&page);

    // Booking by form: 303 back to the page, and the booking is Ada's.
    let form = [
        ("csrf", csrf.as_str()),
        ("facility", "Hall B"),
        ("day", "Tue"),
        ("start", "10:00"),
        ("end", "11:00"),
    ];
    let r = ada.post_form("/booking", &form).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(r.location(), Some("/booking"));
    assert_eq!(
        free(&mut ada, "Hall B", 1).await,
        [
            ("Tue:00:00".to_string(), "Tue:10:00".to_string()),
            ("Tue:11:00".to_string(), "Tue:24:00".to_string())
        ]
    );
    let mine = ada.get("/api/bookings").await.unwrap().json().unwrap();
    let id = mine["bookings"][0]["id"].as_str().unwrap().to_string();
    let page = ada.get("/booking").await.unwrap().text();
    assert!(
        page.contains(&format!("/booking/{id}/cancel")),
        "no cancel form"
    );

    // Refused: the same time again shows the page with the seed's reason.
    let r = ada.post_form("/booking", &form).await.unwrap();
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("role=\"alert\""));

    // Without the CSRF token: refused, nothing cancelled.
    let cancel = format!("/booking/{id}/cancel");
    let r = ada.post_form(&cancel, &[("csrf", "wrong")]).await.unwrap();
    assert_eq!(r.status, 403);
    let r = ada
        .post_form(
            &format!("/booking/{id}/extend"),
            &[("csrf", &csrf), ("minutes", "30")],
        )
        .await
        .unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        free(&mut ada, "Hall B", 1).await,
        [
            ("Tue:00:00".to_string(), "Tue:10:00".to_string()),
            ("Tue:11:30".to_string(), "Tue:24:00".to_string())
        ]
    );
    let r = ada.post_form(&cancel, &[("csrf", &csrf)]).await.unwrap();
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        free(&mut ada, "Hall B", 1).await,
        [("Tue:00:00".to_string(), "Tue:24:00".to_string())]
    );

    // A stranger is sent to log in.
    let mut stranger = HttpClient::new(web(&c));
    let r = stranger.get("/booking").await.unwrap();
    assert_eq!(r.status, 303);
}
