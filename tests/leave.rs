//! Leaving gracefully: a node stopped with `RunningNode::leave` (what
//! `SIGTERM` does to `convene node`) tells its peers, and what it did moves
//! at once. The clusters here suspect a silent node only after 30 s, so a
//! move well before that is the `Leaving` message's doing, not the failure
//! detector's: what is checked is who took over, not how fast.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use convene_booking::wire::{Reply, Request};
use convene_cluster::ClusterSecret;
use convene_cluster::membership::codec::Wire;
use convene_cluster::quorum::Term;
use convene_cluster::secret::PEER_MAC_CONTEXT;
use convene_rpc::{Envelope, Kind, RequestId, Sealer};
use convene_time::WeekTime;
use convene_wire::Encode;
use tokio::net::UdpSocket;

use crate::util::{NodeSpec, TestCluster, booking, eventually, plain, ready, within};

/// Heartbeats as in the other tests, but a node is suspected only after
/// 30 s of silence: longer than any wait below.
const SLOW_SUSPICION: &str = "[election]\nheartbeat_ms = 50\nsuspect_after_ms = 30000\n\
                              t2_ms = 100\nt3_ms = 100\nt4_ms = 200\n";

/// How long a wait below may take: a third of `suspect_after`.
const PATIENCE: Duration = Duration::from_secs(10);

fn at(day: u8, hour: u8) -> WeekTime {
    WeekTime::new(day, hour, 0).unwrap()
}

/// Waits until every node of `ids` follows `expected` and sees exactly
/// `live` (by id) live.
async fn settled(c: &TestCluster, ids: &[&str], expected: &str, live: &[&str]) {
    let want = c.cluster.index_of(expected).unwrap();
    let mut live: Vec<usize> = live
        .iter()
        .map(|id| c.cluster.index_of(id).unwrap())
        .collect();
    live.sort();
    let what = format!("{ids:?} to follow {expected} and see {live:?} live");
    eventually(PATIENCE, &what, || async {
        let views: Vec<(Option<usize>, Vec<usize>)> = ids
            .iter()
            .map(|id| {
                let m = c.node(id).membership();
                (*m.coordinator().borrow(), m.live().borrow().clone())
            })
            .collect();
        ready(
            views.iter().all(|(c, l)| *c == Some(want) && *l == live),
            format!("(coordinator, live) by node: {views:?}"),
        )
    })
    .await;
}

/// Sends `request` to a booking front door until a reply comes (the
/// client's retries), within `patience`.
async fn ask(
    client: &UdpSocket,
    front: SocketAddr,
    request: &[u8],
    patience: Duration,
) -> Option<Reply> {
    let mut buf = vec![0u8; 65_536];
    let give_up = tokio::time::Instant::now() + patience;
    while tokio::time::Instant::now() < give_up {
        client.send_to(request, front).await.unwrap();
        let wait = tokio::time::Instant::now() + Duration::from_millis(300);
        while let Ok(Ok((n, _))) = tokio::time::timeout_at(wait, client.recv_from(&mut buf)).await {
            match Reply::decode(&buf[..n]) {
                Ok(Reply::Update { .. }) | Err(_) => continue,
                Ok(reply) => return Some(reply),
            }
        }
    }
    None
}

fn book(room: &str, day: u8, hour: u8) -> Request {
    Request::Book {
        facility: room.into(),
        start: at(day, hour),
        end: at(day, hour + 1),
    }
}

/// F and S are booking front doors; O lists the room and ranks highest, so
/// it coordinates and serves the room. It leaves: S coordinates, the room
/// moves (to F, the first booking node after O, wrapping round) with its
/// bookings, and both front doors book it again, long before anyone
/// could have suspected O.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_coordinator_and_owner_leaving_hands_both_over_at_once() {
    const ROOM: &str = "Leaving Room";
    const NODES: [NodeSpec; 3] = [
        booking("F", true, ""),
        booking("S", true, ""),
        booking("O", false, "facilities = [\"Leaving Room\"]"),
    ];
    let mut c = TestCluster::bind_with(&NODES, SLOW_SUSPICION).await;
    for id in ["F", "S", "O"] {
        c.start_node(id).await;
    }
    settled(&c, &["F", "S", "O"], "O", &["F", "S", "O"]).await;
    let (front, other) = (
        c.node("F").booking_addr().unwrap(),
        c.node("S").booking_addr().unwrap(),
    );
    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let before = ask(&client, front, &book(ROOM, 1, 9).encode(1), PATIENCE).await;
    assert!(matches!(before, Some(Reply::Booked { .. })), "{before:?}");

    c.leave_node("O").await;

    // O is down for both at once, and S, now the highest, coordinates.
    settled(&c, &["F", "S"], "S", &["F", "S"]).await;
    // The room is served again, with the booking made before.
    let query = Request::Query {
        facility: ROOM.into(),
        days: vec![1],
    };
    let mut request_id = 10;
    let free = eventually(PATIENCE, "the room served again", || {
        request_id += 1;
        let datagram = query.encode(request_id);
        let client = &client;
        async move {
            match ask(client, other, &datagram, Duration::from_millis(600)).await {
                Some(Reply::Availability { days, .. }) => Ok(days),
                other => Err(format!("{other:?}")),
            }
        }
    })
    .await;
    let tuesday: Vec<(String, String)> = free[0]
        .slots
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(
        tuesday,
        vec![
            ("Tue 00:00".to_string(), "Tue 09:00".to_string()),
            ("Tue 10:00".to_string(), "Tue 24:00".to_string()),
        ],
        "the booking made before the leave is there"
    );
    // And it takes new bookings through either front door.
    let after = ask(&client, front, &book(ROOM, 1, 10).encode(100), PATIENCE).await;
    assert!(matches!(after, Some(Reply::Booked { .. })), "{after:?}");
    let after = ask(&client, other, &book(ROOM, 1, 11).encode(101), PATIENCE).await;
    assert!(matches!(after, Some(Reply::Booked { .. })), "{after:?}");
    c.stop().await;
}

/// A node that left and starts again is taken back at once, and leads
/// again if it ranks highest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_left_comes_back() {
    let mut c = TestCluster::bind_with(&[plain("M"), plain("A"), plain("B")], SLOW_SUSPICION).await;
    for id in ["M", "A", "B"] {
        c.start_node(id).await;
    }
    settled(&c, &["M", "A", "B"], "B", &["M", "A", "B"]).await;
    c.leave_node("B").await;
    settled(&c, &["M", "A"], "A", &["M", "A"]).await;
    c.start_node("B").await;
    settled(&c, &["M", "A", "B"], "B", &["M", "A", "B"]).await;
    // A lower node leaving changes no coordinator.
    c.leave_node("M").await;
    settled(&c, &["A", "B"], "B", &["A", "B"]).await;
    c.stop().await;
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A `Leaving` in B's name, sealed by someone without the cluster's
/// secret, is dropped before the election sees it (from a member's
/// address: a wrong MAC; from anywhere else: a stranger); one sealed with
/// the secret as the operator is read, but the operator is no member.
/// Either way B stays live and coordinator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_leave_is_dropped() {
    let mut c = TestCluster::bind_with(&[plain("A"), plain("B"), plain("Z")], SLOW_SUSPICION).await;
    c.start_node("A").await;
    c.start_node("B").await;
    settled(&c, &["A", "B"], "B", &["A", "B"]).await;
    let a_peer = c.cluster.node("A").unwrap().peer_addr();
    let b = c.cluster.index_of("B");
    let mut body = vec![convene_cluster::membership::TAG.byte()];
    body.extend(
        Wire::Leaving {
            boot: u64::MAX,
            term: Term(u64::MAX),
        }
        .to_bytes(),
    );
    let notice = Envelope {
        kind: Kind::Notice,
        id: RequestId(0),
        payload: &body,
    }
    .to_bytes();
    let other_key = ClusterSecret::generate().unwrap().derive(PEER_MAC_CONTEXT);
    // Z's address: a member's, never started.
    let z = c.take_peer_socket("Z");
    let seal = |key, me| {
        let auth = c.cluster.peer_auth(me, now_ms());
        Sealer::new(key, auth.members, me, auth.boot)
            .seal(&notice, a_peer, now_ms())
            .unwrap()
    };
    // From Z's address, in B's name.
    z.send_to(&seal(other_key, b), a_peer).await.unwrap();
    // From an address that is no member's.
    let stranger = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    stranger.send_to(&seal(other_key, b), a_peer).await.unwrap();
    stranger
        .send_to(&seal(other_key, None), a_peer)
        .await
        .unwrap();
    // With the secret, as the operator.
    stranger
        .send_to(&seal(c.cluster.peer_mac_key(), None), a_peer)
        .await
        .unwrap();
    let a = c.node("A");
    let counted = within(PATIENCE, async || {
        let s = a.peer_auth_stats();
        s.bad_mac >= 1 && s.strangers >= 2
    })
    .await;
    assert!(counted, "{:?}", a.peer_auth_stats());
    let b = b.unwrap();
    let believed = within(Duration::from_secs(1), async || {
        let m = a.membership();
        !m.live().borrow().contains(&b) || *m.coordinator().borrow() != Some(b)
    })
    .await;
    assert!(!believed, "A took a forged leave for B's");
    settled(&c, &["A", "B"], "B", &["A", "B"]).await;
    c.stop().await;
}
