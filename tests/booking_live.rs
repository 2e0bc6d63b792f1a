//! The live booking week and status over Server-Sent Events, with real
//! nodes on loopback: a stream opened at the web front (node A) shows a
//! booking a seed client makes over UDP on a facility another node (B)
//! serves, at A's front door and at B's, and its cancellation; strangers
//! get 401, an unknown facility 404; a stream follows its facility when it
//! moves off a stopped owner. The status stream shows a stopped node go
//! down.

use std::net::SocketAddr;
use std::time::Duration;

use convene_booking::wire::{Reply, Request};
use convene_web::client::{EventStream, HttpClient};
use serde_json::{Value, json};

use crate::booking_web::{account, seed, t};
use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, plain};

/// A: the web front, a UDP front door and "Room A". B: a UDP front door
/// and "Hall B", so a stream at A follows a facility B serves. C: nothing
/// of its own (a node to stop).
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
    let mut c = TestCluster::bind_with(&[a, b, plain("C")], FAST_ELECTION).await;
    for id in ["A", "B", "C"] {
        c.start_node(id).await;
    }
    c
}

fn web(c: &TestCluster) -> SocketAddr {
    c.node("A").http_addr().unwrap()
}

/// Reads events until one of kind `kind` satisfies `wanted`, and returns
/// its JSON; fails naming `what` if the stream ends or nothing comes in
/// 10 s.
async fn until(stream: &mut EventStream, kind: &str, what: &str, wanted: impl Fn(&Value) -> bool) {
    let mut last = Value::Null;
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = stream.next().await.unwrap().expect("the stream went on");
            if event.event != kind {
                continue;
            }
            last = event.json().unwrap();
            if wanted(&last) {
                return;
            }
        }
    })
    .await;
    assert!(found.is_ok(), "no {kind} event with {what}; last: {last}");
}

/// Monday's free ranges in a `week` event, as `("Mon:00:00","Mon:10:00")`.
fn monday(week: &Value) -> Vec<(String, String)> {
    week["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["day"] == 0)
        .map(|d| {
            d["free"]
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
        })
        .unwrap_or_default()
}

fn range(s: &str, e: &str) -> (String, String) {
    (s.to_string(), e.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_udp_booking_on_another_nodes_facility_shows_in_the_open_stream() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let mut week = ada
        .events("/api/booking/facilities/Hall%20B/live")
        .await
        .unwrap();
    // The week as it stands comes first: all free.
    until(&mut week, "week", "Hall B all free", |w| {
        w["facility"] == "Hall B" && monday(w) == [range("Mon:00:00", "Mon:24:00")]
    })
    .await;

    // A seed client books at B's own front door…
    let at_b = c.node("B").booking_addr().unwrap();
    let reply = seed(
        at_b,
        Request::Book {
            facility: "Hall B".into(),
            start: t(0, 10, 0),
            end: t(0, 11, 0),
        },
    )
    .await;
    let Reply::Booked {
        confirmation: first,
    } = reply
    else {
        panic!("{reply:?}")
    };
    until(&mut week, "week", "10:00-11:00 booked", |w| {
        monday(w)
            == [
                range("Mon:00:00", "Mon:10:00"),
                range("Mon:11:00", "Mon:24:00"),
            ]
    })
    .await;

    // …and another at A's, forwarded to B over the peer transport.
    let at_a = c.node("A").booking_addr().unwrap();
    let reply = seed(
        at_a,
        Request::Book {
            facility: "Hall B".into(),
            start: t(0, 14, 0),
            end: t(0, 15, 0),
        },
    )
    .await;
    assert!(matches!(reply, Reply::Booked { .. }), "{reply:?}");
    until(&mut week, "week", "14:00-15:00 booked too", |w| {
        monday(w).contains(&range("Mon:11:00", "Mon:14:00"))
    })
    .await;

    // The cancellation of the first shows too.
    let reply = seed(
        at_b,
        Request::Cancel {
            confirmation: first,
        },
    )
    .await;
    assert!(!matches!(reply, Reply::Error { .. }), "{reply:?}");
    until(&mut week, "week", "10:00-11:00 free again", |w| {
        monday(w)
            == [
                range("Mon:00:00", "Mon:14:00"),
                range("Mon:15:00", "Mon:24:00"),
            ]
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_stream_carries_every_facility_and_http_bookings() {
    let c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let mut all = ada.events("/api/booking/live").await.unwrap();
    for facility in ["Room A", "Hall B"] {
        until(&mut all, "week", facility, |w| w["facility"] == facility).await;
    }
    let body = json!({"facility": "Room A", "start": "Mon:09:00", "end": "Mon:09:30"});
    let r = ada.post_json("/api/bookings", &body).await.unwrap();
    assert_eq!(r.status, 201, "{}", r.text());
    until(&mut all, "week", "Room A 09:00-09:30 booked", |w| {
        w["facility"] == "Room A" && monday(w).contains(&range("Mon:00:00", "Mon:09:00"))
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_streams_need_a_session_and_a_real_facility() {
    let c = cluster().await;
    let mut stranger = HttpClient::new(web(&c));
    for path in [
        "/api/booking/facilities/Hall%20B/live",
        "/api/booking/live",
        "/api/status/live",
    ] {
        let r = stranger.get(path).await.unwrap();
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert!(stranger.events(path).await.is_err(), "{path}");
    }
    let mut ada = account(web(&c), "ada").await;
    let r = ada
        .get("/api/booking/facilities/Nowhere/live")
        .await
        .unwrap();
    assert_eq!(r.status, 404, "{}", r.text());
    assert_eq!(r.json().unwrap()["error"], "no such facility");
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_stream_shows_a_stopped_node_go_down() {
    let mut c = cluster().await;
    let mut ada = account(web(&c), "ada").await;
    let mut status = ada.events("/api/status/live").await.unwrap();
    let state_of = |s: &Value, id: &str| {
        s["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["state"].as_str().unwrap_or_default().to_string())
    };
    until(&mut status, "status", "C up", |s| {
        state_of(s, "C").as_deref() == Some("up") && s["coordinator"].is_string()
    })
    .await;
    c.stop_node("C").await;
    until(&mut status, "status", "C down", |s| {
        state_of(s, "C").as_deref() == Some("down") && state_of(s, "A").as_deref() == Some("up")
    })
    .await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_follows_a_facility_that_moves_off_a_stopped_owner() {
    // W: the web front and a front door; O serves "Room X"; S is the next
    // booking node after O (a front door), so the room moves there.
    let w = NodeSpec {
        web: true,
        booking_port: true,
        ..plain("W")
    };
    let o = NodeSpec {
        booking: Some("facilities = [\"Room X\"]"),
        ..plain("O")
    };
    let s = NodeSpec {
        booking_port: true,
        ..plain("S")
    };
    let mut c = TestCluster::bind_with(&[w, o, s], FAST_ELECTION).await;
    for id in ["W", "O", "S"] {
        c.start_node(id).await;
    }
    let mut ada = account(c.node("W").http_addr().unwrap(), "ada").await;
    let mut week = ada
        .events("/api/booking/facilities/Room%20X/live")
        .await
        .unwrap();
    until(&mut week, "week", "Room X all free", |w| {
        monday(w) == [range("Mon:00:00", "Mon:24:00")]
    })
    .await;
    c.stop_node("O").await;

    // Once S serves the room (its front door answers a query about it), a
    // booking there shows in the stream opened before the move.
    let at_s = c.node("S").booking_addr().unwrap();
    let query = Request::Query {
        facility: "Room X".into(),
        days: vec![0],
    };
    crate::util::eventually(Duration::from_secs(30), "S to serve Room X", || {
        let query = query.clone();
        async move {
            match seed(at_s, query).await {
                Reply::Availability { .. } => Ok(()),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let reply = seed(
        at_s,
        Request::Book {
            facility: "Room X".into(),
            start: t(0, 8, 0),
            end: t(0, 9, 0),
        },
    )
    .await;
    assert!(matches!(reply, Reply::Booked { .. }), "{reply:?}");
    until(
        &mut week,
        "week",
        "08:00-09:00 booked after the move",
        |w| {
            monday(w)
                == [
                    range("Mon:00:00", "Mon:08:00"),
                    range("Mon:09:00", "Mon:24:00"),
                ]
        },
    )
    .await;
    c.stop().await;
}
