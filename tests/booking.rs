//! The booking service over real UDP on loopback: every service and error
//! path, monitor callbacks, forwarding between nodes, persistence across a
//! restart (at-most-once included), and the seed's experiment; and what a
//! stranger can no longer do: guess a booking's id, register too many
//! monitors, get back much more than it sends, flush others' kept replies,
//! or write escape sequences on the node's screen.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use convene_booking::client::Client;
use convene_booking::state::{IdScheme, ParsedId};
use convene_booking::wire::{self, Reply, Request};
use convene_time::WeekTime;
use tokio::net::UdpSocket;

use crate::util::{FAST_ELECTION, NodeSpec, TestCluster, booking, convene, eventually, ready};

const ALL: &str = "facilities = [\"Meeting Room A\", \"Lecture Theatre 1\", \"Conference Hall\", \"Seminar Room B\"]";

fn t(day: u8, hour: u8, minute: u8) -> WeekTime {
    WeekTime::new(day, hour, minute).unwrap()
}

/// Sends one request with the library client (in a blocking task).
async fn call(server: SocketAddr, request: Request) -> Reply {
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

/// Sends raw bytes and returns the reply bytes, if any within `wait`.
async fn raw(server: SocketAddr, datagram: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    s.send_to(datagram, server).await.unwrap();
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(wait, s.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// The id of a successful booking, checked to be a new-style id (64 random
/// bits) of node `owner`.
fn booked_by(reply: &Reply, owner: u32) -> String {
    let Reply::Booked { confirmation } = reply else {
        panic!("expected a booking, got {reply:?}")
    };
    assert!(
        matches!(IdScheme::parse(confirmation), Some(ParsedId::Random { node, .. }) if node == owner),
        "{confirmation} is not a random id of node {owner}"
    );
    confirmation.clone()
}

fn error_code(reply: &Reply) -> u8 {
    match reply {
        Reply::Error { code, .. } => *code,
        other => panic!("expected an error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_and_error_path_of_the_seed() {
    let c = TestCluster::start(&[booking("A", true, ALL)]).await;
    let s = c.node("A").booking_addr().unwrap();
    let room = || "Meeting Room A".to_string();

    let booked = call(
        s,
        Request::Book {
            facility: room(),
            start: t(0, 10, 0),
            end: t(0, 11, 0),
        },
    )
    .await;
    let first = booked_by(&booked, 0);
    let clash = call(
        s,
        Request::Book {
            facility: room(),
            start: t(0, 10, 30),
            end: t(0, 11, 30),
        },
    )
    .await;
    assert_eq!(
        clash,
        Reply::error(
            wire::ErrorCode::FacilityUnavailable,
            "Facility is not available during requested period"
        )
    );
    // Back to back is fine (half-open intervals).
    let next = call(
        s,
        Request::Book {
            facility: room(),
            start: t(0, 11, 0),
            end: t(0, 12, 0),
        },
    )
    .await;
    assert_ne!(booked_by(&next, 0), first);

    // Query: each day once, even a free one (not the seed's double slot).
    let Reply::Availability { facility, days } = call(
        s,
        Request::Query {
            facility: room(),
            days: vec![0, 1, 1],
        },
    )
    .await
    else {
        panic!("expected availability");
    };
    assert_eq!(facility, "Meeting Room A");
    let shown: Vec<(u8, Vec<(String, String)>)> = days
        .iter()
        .map(|d| {
            (
                d.day,
                d.slots
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        vec![
            (
                0,
                vec![
                    ("Mon 00:00".into(), "Mon 10:00".into()),
                    ("Mon 12:00".into(), "Mon 24:00".into())
                ]
            ),
            (1, vec![("Tue 00:00".into(), "Tue 24:00".into())]),
        ]
    );

    // Change, extend (idempotent), cancel (not).
    let conf = || first.clone();
    assert_eq!(
        call(
            s,
            Request::Change {
                confirmation: conf(),
                offset_minutes: -30
            }
        )
        .await,
        Reply::Changed
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Change {
                    confirmation: conf(),
                    offset_minutes: 60
                }
            )
            .await
        ),
        2
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Change {
                    confirmation: conf(),
                    offset_minutes: -100_000
                }
            )
            .await
        ),
        4
    );
    // Extend is idempotent: the same request twice lands on the same end.
    for _ in 0..2 {
        let extend = Request::Extend {
            confirmation: conf(),
            minutes: 0,
        };
        assert_eq!(
            call(s, extend).await,
            Reply::Extended {
                message: "Booking extended to Mon 10:30".into()
            }
        );
    }
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Extend {
                    confirmation: conf(),
                    minutes: 60
                }
            )
            .await
        ),
        2
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Extend {
                    confirmation: conf(),
                    minutes: u32::MAX
                }
            )
            .await
        ),
        4
    );
    let cancelled = Reply::Cancelled {
        message: "Booking cancelled successfully".into(),
    };
    assert_eq!(
        call(
            s,
            Request::Cancel {
                confirmation: conf()
            }
        )
        .await,
        cancelled
    );
    let again = call(
        s,
        Request::Cancel {
            confirmation: conf(),
        },
    )
    .await;
    assert_eq!(
        again,
        Reply::error(
            wire::ErrorCode::AlreadyCancelled,
            "Booking has already been cancelled"
        )
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Change {
                    confirmation: conf(),
                    offset_minutes: 10
                }
            )
            .await
        ),
        6
    );

    // Unknown facility, unknown id.
    let missing = call(
        s,
        Request::Query {
            facility: "Gym".into(),
            days: vec![0],
        },
    )
    .await;
    assert_eq!(
        missing,
        Reply::error(
            wire::ErrorCode::FacilityNotFound,
            "Facility 'Gym' not found"
        )
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Cancel {
                    confirmation: "CONF999999".into()
                }
            )
            .await
        ),
        3
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Cancel {
                    confirmation: "nonsense".into()
                }
            )
            .await
        ),
        3
    );
    assert_eq!(
        error_code(
            &call(
                s,
                Request::Query {
                    facility: room(),
                    days: vec![7]
                }
            )
            .await
        ),
        4
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_datagrams_get_the_seeds_error_or_are_dropped_and_nothing_breaks() {
    let c = TestCluster::start(&[booking("A", true, ALL)]).await;
    let s = c.node("A").booking_addr().unwrap();
    let wait = Duration::from_millis(500);
    let code_of = |bytes: Option<Vec<u8>>| {
        error_code(&Reply::decode(&bytes.expect("an error reply")).unwrap())
    };

    // Too short to carry a request id: dropped, counted.
    assert_eq!(raw(s, &[2, 0, 0], wait).await, None);
    // Unknown type: the seed's message.
    let reply = Reply::decode(&raw(s, &[9, 0, 0, 0, 1], wait).await.unwrap()).unwrap();
    assert_eq!(
        reply,
        Reply::error(wire::ErrorCode::InvalidRequest, "Unknown request type: 9")
    );
    // Truncated, a string length of 4 billion, bad UTF-8, hour 25, trailing bytes.
    let book = Request::Book {
        facility: "Meeting Room A".into(),
        start: t(0, 9, 0),
        end: t(0, 10, 0),
    }
    .encode(7);
    assert_eq!(code_of(raw(s, &book[..book.len() - 2], wait).await), 5);
    assert_eq!(
        code_of(raw(s, &[1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff], wait).await),
        5
    );
    assert_eq!(
        code_of(raw(s, &[6, 0, 0, 0, 3, 0, 0, 0, 2, 0xc3, 0x28], wait).await),
        5
    );
    let mut hour25 = book.clone();
    let n = hour25.len();
    hour25[n - 2] = 25;
    assert_eq!(code_of(raw(s, &hour25, wait).await), 4);
    let mut trailing = book.clone();
    trailing.push(0);
    assert_eq!(code_of(raw(s, &trailing, wait).await), 5);
    // Monitor for 0 seconds or for ever.
    let monitor = |secs| Request::Monitor {
        facility: "Meeting Room A".into(),
        seconds: secs,
    };
    assert_eq!(error_code(&call(s, monitor(0)).await), 5);
    assert_eq!(error_code(&call(s, monitor(u32::MAX)).await), 5);

    assert!(c.node("A").booking().dropped() >= 1);
    // Nothing was booked by any of that, and the service still works.
    let ok = call(
        s,
        Request::Book {
            facility: "Meeting Room A".into(),
            start: t(0, 9, 0),
            end: t(0, 10, 0),
        },
    )
    .await;
    booked_by(&ok, 0);
    c.stop().await;
}

/// Receives monitor updates on `socket` for `wait`.
async fn updates(socket: &UdpSocket, wait: Duration) -> Vec<Reply> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(Ok((n, _))) = tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
        out.push(Reply::decode(&buf[..n]).unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_monitors_get_callbacks_until_they_expire_even_through_another_node() {
    // The facility lives on O; clients talk to front door F.
    let c = TestCluster::start(&[booking("O", false, ALL), booking("F", true, "")]).await;
    let f = c.node("F").booking_addr().unwrap();
    let mut watchers = Vec::new();
    for seconds in [1u32, 30] {
        let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        s.send_to(
            &Request::Monitor {
                facility: "Conference Hall".into(),
                seconds,
            }
            .encode(1),
            f,
        )
        .await
        .unwrap();
        let mut buf = vec![0u8; 1024];
        let (n, _) = tokio::time::timeout(Duration::from_secs(2), s.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let expected = format!("Monitoring 'Conference Hall' for {seconds} seconds");
        assert_eq!(
            Reply::decode(&buf[..n]).unwrap(),
            Reply::Monitoring { message: expected }
        );
        watchers.push(s);
    }
    call(
        f,
        Request::Book {
            facility: "Conference Hall".into(),
            start: t(2, 9, 0),
            end: t(2, 17, 0),
        },
    )
    .await;
    for w in &watchers {
        let got = updates(w, Duration::from_millis(500)).await;
        assert_eq!(got.len(), 1, "{got:?}");
        let Reply::Update { facility, days } = &got[0] else {
            panic!("{got:?}")
        };
        assert_eq!(facility, "Conference Hall");
        assert_eq!(days.len(), 7, "the whole week");
        let wednesday: Vec<String> = days[2]
            .slots
            .iter()
            .map(|(a, b)| format!("{a}-{b}"))
            .collect();
        assert_eq!(wednesday, ["Wed 00:00-Wed 09:00", "Wed 17:00-Wed 24:00"]);
    }
    // After the first registration expires, only the second hears. (A
    // wait for time to pass: the registration lasts 1 s.)
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let Reply::Booked { confirmation } = call(
        f,
        Request::Book {
            facility: "Conference Hall".into(),
            start: t(3, 9, 0),
            end: t(3, 10, 0),
        },
    )
    .await
    else {
        panic!("booking failed")
    };
    assert!(
        updates(&watchers[0], Duration::from_millis(300))
            .await
            .is_empty()
    );
    assert_eq!(
        updates(&watchers[1], Duration::from_millis(500))
            .await
            .len(),
        1
    );
    // Cancelling is a change too.
    call(f, Request::Cancel { confirmation }).await;
    assert_eq!(
        updates(&watchers[1], Duration::from_millis(500))
            .await
            .len(),
        1
    );
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_front_door_reaches_the_owning_node() {
    let c = TestCluster::start(&[
        booking("O1", false, "facilities = [\"Meeting Room A\"]"),
        booking("O2", false, "facilities = [\"Conference Hall\"]"),
        booking("F1", true, ""),
        booking("F2", true, ""),
    ])
    .await;
    let (f1, f2) = (
        c.node("F1").booking_addr().unwrap(),
        c.node("F2").booking_addr().unwrap(),
    );
    let a = call(
        f1,
        Request::Book {
            facility: "Meeting Room A".into(),
            start: t(0, 9, 0),
            end: t(0, 10, 0),
        },
    )
    .await;
    let b = call(
        f2,
        Request::Book {
            facility: "Conference Hall".into(),
            start: t(0, 9, 0),
            end: t(0, 10, 0),
        },
    )
    .await;
    // Each owner makes its own ids, with its node number in them.
    let (a, b) = (booked_by(&a, 0), booked_by(&b, 1));
    // Change and cancel through the other front door.
    assert_eq!(
        call(
            f2,
            Request::Change {
                confirmation: a.clone(),
                offset_minutes: 60
            }
        )
        .await,
        Reply::Changed
    );
    let Reply::Availability { days, .. } = call(
        f2,
        Request::Query {
            facility: "Meeting Room A".into(),
            days: vec![0],
        },
    )
    .await
    else {
        panic!()
    };
    assert_eq!(days[0].slots[0].1.to_string(), "Mon 10:00");
    let cancelled = Reply::Cancelled {
        message: "Booking cancelled successfully".into(),
    };
    assert_eq!(
        call(f1, Request::Cancel { confirmation: b }).await,
        cancelled
    );
    // An id of a node that owns nothing is not a booking, in either format.
    for id in ["CONF2000001", "CONF2-0000000000000001"] {
        let reply = call(
            f1,
            Request::Cancel {
                confirmation: id.into(),
            },
        )
        .await;
        assert_eq!(error_code(&reply), 3);
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookings_and_kept_replies_survive_a_restart() {
    let mut c = TestCluster::start(&[booking("A", true, ALL)]).await;
    let s = c.node("A").booking_addr().unwrap();
    let booked = call(
        s,
        Request::Book {
            facility: "Seminar Room B".into(),
            start: t(4, 8, 0),
            end: t(4, 9, 0),
        },
    )
    .await;
    let booked = booked_by(&booked, 0);
    // A cancel whose reply the client never saw...
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let cancel = Request::Cancel {
        confirmation: booked.clone(),
    }
    .encode(42);
    client.send_to(&cancel, s).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let first = buf[..n].to_vec();
    assert!(matches!(
        Reply::decode(&first).unwrap(),
        Reply::Cancelled { .. }
    ));
    c.stop_node("A").await;
    c.start_node("A").await;
    // ...is retried after the restart: the same reply, not "already cancelled".
    client.send_to(&cancel, s).await.unwrap();
    let (n, _) = tokio::time::timeout(Duration::from_secs(2), client.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(buf[..n].to_vec(), first);
    // The booking itself is remembered, and its id is never issued again.
    let again = call(
        s,
        Request::Book {
            facility: "Seminar Room B".into(),
            start: t(4, 8, 0),
            end: t(4, 9, 0),
        },
    )
    .await;
    assert_ne!(booked_by(&again, 0), booked);
    let clash = call(
        s,
        Request::Book {
            facility: "Seminar Room B".into(),
            start: t(4, 8, 30),
            end: t(4, 9, 30),
        },
    )
    .await;
    assert_eq!(error_code(&clash), 2);
    c.stop().await;
}

#[test]
fn the_experiment_shows_the_seeds_finding() {
    let out = convene()
        .args([
            "book",
            "experiment",
            "--trials",
            "30",
            "--reply-loss",
            "0.5",
            "--timeout-ms",
            "20",
            "--seed",
            "3",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = |op: &str, sem: &str| -> Vec<u32> {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(op) && l.contains(sem))
            .unwrap_or_else(|| panic!("{stdout}"));
        line.split_whitespace()
            .rev()
            .take(3)
            .map(|v| v.parse().unwrap())
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect()
    };
    let [_, wrong, _] = row("cancel", "at-least-once")[..] else {
        panic!()
    };
    assert!(
        wrong > 0,
        "at-least-once should re-execute some cancels:\n{stdout}"
    );
    assert_eq!(row("cancel", "at-most-once"), vec![30, 0, 0], "{stdout}");
    assert_eq!(row("extend", "at-least-once")[1], 0, "{stdout}");
    assert_eq!(row("extend", "at-most-once")[1], 0, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_and_lost_requests_still_execute_once_at_most_once() {
    let c = TestCluster::start(&[
        booking(
            "D",
            true,
            "duplicate = 1.0\nfacilities = [\"Meeting Room A\"]",
        ),
        booking(
            "R",
            true,
            "request_loss = 0.5\nloss_seed = 9\nfacilities = [\"Conference Hall\"]",
        ),
    ])
    .await;
    // Every request is delivered twice: one booking, and the client hears
    // the same answer (the copy is dropped while in progress, or answered
    // from the cache).
    let d = c.node("D").booking_addr().unwrap();
    let s = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let book = Request::Book {
        facility: "Meeting Room A".into(),
        start: t(0, 9, 0),
        end: t(0, 10, 0),
    }
    .encode(1);
    s.send_to(&book, d).await.unwrap();
    let mut replies = Vec::new();
    let mut buf = vec![0u8; 1024];
    while let Ok(Ok((n, _))) =
        tokio::time::timeout(Duration::from_millis(400), s.recv_from(&mut buf)).await
    {
        replies.push(Reply::decode(&buf[..n]).unwrap());
    }
    assert!(!replies.is_empty() && replies.len() <= 2, "{replies:?}");
    // One booking: a second execution would have answered "not available".
    booked_by(&replies[0], 0);
    assert!(replies.iter().all(|r| *r == replies[0]), "{replies:?}");

    // Half the requests are lost on arrival: the client's retries get through,
    // and each booking is made once.
    let r = c.node("R").booking_addr().unwrap();
    for hour in 8..14 {
        let reply = tokio::task::spawn_blocking(move || {
            let mut client = Client::new(r).unwrap();
            client.timeout = Duration::from_millis(100);
            client.attempts = 20;
            let book = Request::Book {
                facility: "Conference Hall".into(),
                start: t(1, hour, 0),
                end: t(1, hour + 1, 0),
            };
            client.call(&book, &mut std::io::sink()).unwrap()
        })
        .await
        .unwrap();
        // Had a retry executed again, it would have been refused (code 2).
        booked_by(&reply.expect("a reply"), 1);
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_store_write_sends_no_reply_and_leaves_no_phantom_booking() {
    let c = TestCluster::start(&[booking("A", true, "facilities = [\"Meeting Room A\"]")]).await;
    let s = c.node("A").booking_addr().unwrap();
    // Make every booking write fail, as a full disk would.
    let db = c.path("convene-data/convene.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER full BEFORE INSERT ON booking_record BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    let book = || Request::Book {
        facility: "Meeting Room A".into(),
        start: t(0, 9, 0),
        end: t(0, 10, 0),
    };
    let failed = tokio::task::spawn_blocking(move || {
        let mut client = Client::new(s).unwrap();
        client.timeout = Duration::from_millis(300);
        client.attempts = 2;
        client.call(&book(), &mut std::io::sink()).unwrap()
    })
    .await
    .unwrap();
    assert_eq!(failed, None, "nothing durable, so nothing answered");
    // The disk has room again: the same booking succeeds (it was not left
    // half-made in memory).
    conn.execute_batch("DROP TRIGGER full;").unwrap();
    booked_by(&call(s, book()).await, 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_front_door_restarted_with_forwards_in_flight_serves_again() {
    let mut c = TestCluster::start(&[
        booking("O", false, "facilities = [\"Meeting Room A\"]"),
        booking("F", true, ""),
    ])
    .await;
    let front = c.node("F").booking_addr().unwrap();
    // The owner is gone, so each request waits in a forward that is still
    // retrying when the front door stops: those tasks hold its sockets
    // for a moment after it stopped.
    c.stop_node("O").await;
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for id in 0..500 {
        let request = Request::Book {
            facility: "Meeting Room A".into(),
            start: t(0, 9, 0),
            end: t(0, 10, 0),
        };
        client.send_to(&request.encode(id), front).await.unwrap();
    }
    // A wait for time to pass: the front door takes the requests in and
    // starts forwarding them (nothing it shows says so).
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.stop_node("F").await;
    c.start_node("F").await;
    c.start_node("O").await;
    let booked = call(
        front,
        Request::Book {
            facility: "Meeting Room A".into(),
            start: t(1, 9, 0),
            end: t(1, 10, 0),
        },
    )
    .await;
    booked_by(&booked, 0);
    c.stop().await;
}

/// Starts a cluster whose file ends with `tail` (e.g. a `[limits]` table).
async fn start_with(specs: &[NodeSpec], tail: &str) -> TestCluster {
    let mut c = TestCluster::bind_with(specs, &format!("{FAST_ELECTION}{tail}")).await;
    for spec in specs {
        c.start_node(spec.id).await;
    }
    c
}

/// Sends `datagram` from `socket` and waits for one reply.
async fn exchange(socket: &UdpSocket, server: SocketAddr, datagram: &[u8]) -> Vec<u8> {
    socket.send_to(datagram, server).await.unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(&mut buf))
        .await
        .expect("a reply within 5 s")
        .unwrap();
    buf[..n].to_vec()
}

/// The ids a counter would put next to `id`: its number plus or minus 1 to 3,
/// in the base it is written in.
fn neighbours(id: &str) -> Vec<String> {
    let (head, number, hex) = match id.split_once('-') {
        Some((head, hex)) => (format!("{head}-"), hex, true),
        None => ("CONF".to_string(), &id["CONF".len()..], false),
    };
    let n = u64::from_str_radix(number, if hex { 16 } else { 10 }).unwrap();
    (1..=3)
        .flat_map(|d| [n.wrapping_add(d), n.wrapping_sub(d)])
        .map(|g| {
            if hex {
                format!("{head}{g:016x}")
            } else {
                format!("{head}{g:06}")
            }
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_next_booking_id_cancels_nothing() {
    let c = TestCluster::start(&[booking("A", true, ALL)]).await;
    let s = c.node("A").booking_addr().unwrap();
    let book = |hour| Request::Book {
        facility: "Meeting Room A".into(),
        start: t(0, hour, 0),
        end: t(0, hour + 1, 0),
    };
    // The attacker books once and reads its own id; others book after it.
    let mine = booked_by(&call(s, book(9)).await, 0);
    let theirs = [
        booked_by(&call(s, book(10)).await, 0),
        booked_by(&call(s, book(11)).await, 0),
    ];
    for guess in neighbours(&mine) {
        let reply = call(
            s,
            Request::Cancel {
                confirmation: guess.clone(),
            },
        )
        .await;
        assert_eq!(
            reply,
            Reply::error(
                wire::ErrorCode::InvalidConfirmationId,
                "Invalid confirmation ID"
            ),
            "the guess {guess} (from {mine}) cancelled something"
        );
    }
    // Nothing was cancelled: 10:00 to 12:00 is still taken, and each owner
    // cancels their own booking once.
    let Reply::Availability { days, .. } = call(
        s,
        Request::Query {
            facility: "Meeting Room A".into(),
            days: vec![0],
        },
    )
    .await
    else {
        panic!("expected availability")
    };
    let monday: Vec<String> = days[0]
        .slots
        .iter()
        .map(|(a, b)| format!("{a}-{b}"))
        .collect();
    assert_eq!(monday, ["Mon 00:00-Mon 09:00", "Mon 12:00-Mon 24:00"]);
    for id in theirs {
        let reply = call(s, Request::Cancel { confirmation: id }).await;
        assert!(matches!(reply, Reply::Cancelled { .. }), "{reply:?}");
    }
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_65th_monitor_from_one_address_is_refused_and_ended_ones_are_purged() {
    let c = TestCluster::start(&[booking("A", true, ALL)]).await;
    let s = c.node("A").booking_addr().unwrap();
    let monitor = Request::Monitor {
        facility: "Conference Hall".into(),
        seconds: 5,
    }
    .encode(1);
    let register = |from: &'static str| {
        let monitor = monitor.clone();
        async move {
            let socket = UdpSocket::bind(from).await.unwrap();
            let reply = Reply::decode(&exchange(&socket, s, &monitor).await).unwrap();
            (socket, reply)
        }
    };
    let monitoring = Reply::Monitoring {
        message: "Monitoring 'Conference Hall' for 5 seconds".into(),
    };
    // 64 clients on one address, each on its own port, register at once.
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..64 {
        clients.spawn(register("127.0.0.1:0"));
    }
    let mut sockets = Vec::new();
    while let Some(joined) = clients.join_next().await {
        let (socket, reply) = joined.unwrap();
        assert_eq!(reply, monitoring);
        sockets.push(socket);
    }
    // The 65th from that address is refused with the seed's error code 5...
    let (_, refused) = register("127.0.0.1:0").await;
    assert_eq!(
        refused,
        Reply::error(
            wire::ErrorCode::InvalidRequest,
            "Too many monitors from your address (at most 64); wait for one to end"
        )
    );
    // ...while another address may still register.
    let (_other, reply) = register("127.0.0.2:0").await;
    assert_eq!(reply, monitoring);
    assert_eq!(c.node("A").booking().monitors_held(), 65);
    assert_eq!(c.node("A").booking().subscriptions_held(), 1);

    // When they end, they are swept out without anyone booking anything,
    // here and at the owner, and the address may register again.
    let service = c.node("A").booking();
    let what = "the ended registrations to be swept out";
    eventually(Duration::from_secs(20), what, || async {
        let (monitors, subscriptions) = (service.monitors_held(), service.subscriptions_held());
        ready(
            monitors + subscriptions == 0,
            format!("{monitors} registrations and {subscriptions} subscriptions held"),
        )
    })
    .await;
    let (_, again) = register("127.0.0.1:0").await;
    assert_eq!(again, monitoring);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_queries_gets_back_at_most_factor_times_what_it_sent_plus_the_burst() {
    const FACTOR: u64 = 10;
    const BURST: u64 = 8192;
    let c = start_with(
        &[booking("A", true, ALL)],
        &format!("[limits]\nbooking_reply_factor = {FACTOR}\nbooking_burst_bytes = {BURST}\n"),
    )
    .await;
    let s = c.node("A").booking_addr().unwrap();
    // A week fragmented by 100 bookings, so that its query is answered with
    // far more than the factor times the query's bytes.
    for i in 0..100u32 {
        let at = |m| WeekTime::from_minutes(m).unwrap();
        let reply = call(
            s,
            Request::Book {
                facility: "Conference Hall".into(),
                start: at(i * 100),
                end: at(i * 100 + 30),
            },
        )
        .await;
        booked_by(&reply, 0);
    }
    let query = |id| {
        Request::Query {
            facility: "Conference Hall".into(),
            days: (0..7).collect(),
        }
        .encode(id)
    };
    let week = call(
        s,
        Request::Query {
            facility: "Conference Hall".into(),
            days: (0..7).collect(),
        },
    )
    .await;
    let (asked, answered) = (query(0).len() as u64, week.encode().len() as u64);
    assert!(answered > 15 * asked, "{answered} bytes for {asked}");

    // Hundreds of queries from one socket (as a forger with a victim's address
    // would send them); the replies are counted as they come.
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let received = Arc::new(AtomicU64::new(0));
    let receiver = tokio::spawn({
        let (socket, received) = (socket.clone(), received.clone());
        async move {
            let mut buf = vec![0u8; 65536];
            while let Ok(Ok((n, _))) =
                tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf)).await
            {
                received.fetch_add(n as u64, Ordering::Relaxed);
            }
        }
    });
    let start = Instant::now();
    let mut sent = 0;
    for id in 1..=400u32 {
        let datagram = query(id);
        socket.send_to(&datagram, s).await.unwrap();
        sent += datagram.len() as u64;
        if id % 20 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    receiver.await.unwrap();
    let got = received.load(Ordering::Relaxed);
    // The burst refills over a minute: what it brought during the run counts too.
    let refill = BURST * start.elapsed().as_millis() as u64 / 60_000 + 1;
    let bound = FACTOR * sent + BURST + refill;
    assert!(
        got <= bound,
        "sent {sent} bytes, got {got} back (at most {bound}); without a budget it would be {}",
        400 * answered
    );
    // Replies that fit came through; the rest were dropped and counted.
    assert!(got >= FACTOR * sent / 2, "only {got} bytes back");
    assert!(c.node("A").booking().budget_stats().unwrap().dropped > 0);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_replies_of_one_address_stay_at_the_cap_and_leave_others_alone() {
    let c = start_with(
        &[booking(
            "A",
            true,
            "reply_cache_entries = 50\nfacilities = [\"Meeting Room A\"]",
        )],
        "[limits]\nbooking_replies_per_source = 20\n",
    )
    .await;
    let s = c.node("A").booking_addr().unwrap();
    // Someone else books (at-most-once: the reply is kept for a retry).
    let other = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let book = Request::Book {
        facility: "Meeting Room A".into(),
        start: t(0, 9, 0),
        end: t(0, 10, 0),
    }
    .encode(1);
    let first = exchange(&other, s, &book).await;
    booked_by(&Reply::decode(&first).unwrap(), 0);
    // One address sends 200 change-type requests (bookings of the taken
    // hour): each is executed and refused, and its answer kept.
    let flood = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for id in 0..200u32 {
        let clash = Request::Book {
            facility: "Meeting Room A".into(),
            start: t(0, 9, 0),
            end: t(0, 10, 0),
        }
        .encode(id);
        let reply = Reply::decode(&exchange(&flood, s, &clash).await).unwrap();
        assert_eq!(error_code(&reply), 2);
    }
    // The database keeps at most 20 of the flood's replies, and the other's one.
    let conn = rusqlite::Connection::open(c.path("convene-data/convene.db")).unwrap();
    let kept = |clients: &str| -> i64 {
        conn.query_row(
            "SELECT COUNT(*) FROM booking_kept_reply WHERE client LIKE ?1",
            [clients],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert!(kept("127.0.0.1:%") <= 20, "{} kept", kept("127.0.0.1:%"));
    assert_eq!(kept("127.0.0.2:%"), 1);
    // The other's retry still gets its reply, not a second execution (which
    // would answer "not available").
    assert_eq!(exchange(&other, s, &book).await, first);
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_facility_name_with_an_escape_sequence_is_shown_escaped() {
    let c = TestCluster::start(&[booking("A", true, ALL)]).await;
    let s = c.node("A").booking_addr().unwrap();
    // Clear the operator's screen, turn it red, ring the bell.
    let name = "\u{1b}[2J\u{1b}[31mRoom\u{7}";
    let reply = call(
        s,
        Request::Monitor {
            facility: name.into(),
            seconds: 10,
        },
    )
    .await;
    assert_eq!(error_code(&reply), 1);
    c.wait_for_line("A", "Monitor: facility=").await;
    let lines = c.lines("A");
    let line = lines
        .iter()
        .find(|l| l.contains("Monitor: facility="))
        .unwrap();
    assert!(
        line.contains(r"Monitor: facility='\u{1b}[2J\u{1b}[31mRoom\u{7}', duration=10s"),
        "{line}"
    );
    assert!(
        lines.iter().all(|l| !l.contains(['\u{1b}', '\u{7}'])),
        "{lines:#?}"
    );
    c.stop().await;
}
