//! Tests of the sans-IO endpoint: no sockets, no runtime, a fake clock.
//!
//! Datagrams are moved between endpoints by hand, so each test decides
//! exactly which ones arrive, in what order, and when.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::envelope::MAGIC;
use crate::error::EnvelopeError;
use crate::rng::SplitMix64;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A: &str = "127.0.0.1:4000";
const B: &str = "127.0.0.1:5000";
const C: &str = "127.0.0.1:6000";

fn config(retries: u32) -> Config {
    Config {
        timeout: Duration::from_millis(100),
        retries,
        ..Config::default()
    }
}

/// Answers every queued request with `"re:" + payload`.
fn serve(ep: &mut Endpoint) {
    while let Some(event) = ep.poll_event() {
        match event {
            Event::Request { from, id, payload } => {
                let mut reply = b"re:".to_vec();
                reply.extend_from_slice(&payload);
                ep.reply(from, id, reply).unwrap();
            }
            other => panic!("server got {other:?}"),
        }
    }
}

fn transmits(ep: &mut Endpoint) -> Vec<Transmit> {
    std::iter::from_fn(|| ep.poll_transmit()).collect()
}

fn events(ep: &mut Endpoint) -> Vec<Event> {
    std::iter::from_fn(|| ep.poll_event()).collect()
}

#[test]
fn request_reply_round_trip() {
    let now = Instant::now();
    let mut a = Endpoint::new(config(3), 1);
    let mut b = Endpoint::new(config(3), 1_000);

    let id = a.request(now, addr(B), b"hello".to_vec()).unwrap();
    let [t] = transmits(&mut a).try_into().unwrap();
    assert_eq!(t.to, addr(B));
    assert_eq!(a.poll_timeout(), Some(now + Duration::from_millis(100)));

    b.handle_datagram(now, addr(A), &t.data).unwrap();
    assert_eq!(
        b.poll_event(),
        Some(Event::Request {
            from: addr(A),
            id,
            payload: b"hello".to_vec()
        })
    );
    b.reply(addr(A), id, b"world".to_vec()).unwrap();
    let [r] = transmits(&mut b).try_into().unwrap();
    assert_eq!(r.to, addr(A));
    // The server keeps no state for requests it answered.
    assert_eq!(b.poll_timeout(), None);

    a.handle_datagram(now, addr(B), &r.data).unwrap();
    assert_eq!(
        events(&mut a),
        [Event::Reply {
            id,
            payload: b"world".to_vec()
        }]
    );
    assert_eq!(a.poll_timeout(), None);
    assert_eq!(a.pending_requests(), 0);

    let stats = a.stats();
    assert_eq!((stats.sent, stats.received, stats.retransmitted), (1, 1, 0));
}

#[test]
fn ids_are_sequential_from_first_id() {
    let now = Instant::now();
    let mut a = Endpoint::new(config(0), u64::MAX);
    assert_eq!(a.request(now, addr(B), vec![]), Ok(RequestId(u64::MAX)));
    assert_eq!(a.request(now, addr(B), vec![]), Ok(RequestId(0)));
}

#[test]
fn retransmits_on_timeout_with_same_bytes() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut a = Endpoint::new(config(3), 1);
    a.request(t0, addr(B), b"x".to_vec()).unwrap();
    let [first] = transmits(&mut a).try_into().unwrap();

    // Not yet due.
    a.handle_timeout(t0 + ms(99));
    assert!(a.poll_transmit().is_none());

    a.handle_timeout(t0 + ms(100));
    let [second] = transmits(&mut a).try_into().unwrap();
    assert_eq!(second, first);
    assert_eq!(a.poll_timeout(), Some(t0 + ms(200)));

    // A late wake-up still gives the next attempt a full timeout.
    a.handle_timeout(t0 + ms(250));
    assert_eq!(transmits(&mut a).len(), 1);
    assert_eq!(a.poll_timeout(), Some(t0 + ms(350)));
    assert_eq!(a.stats().retransmitted, 2);
    assert_eq!(a.stats().sent, 3);
    assert!(a.poll_event().is_none());
}

#[test]
fn fails_after_retries() {
    let t0 = Instant::now();
    let mut a = Endpoint::new(config(2), 1);
    let id = a.request(t0, addr(B), b"x".to_vec()).unwrap();

    let mut sends = transmits(&mut a).len();
    let mut now = t0;
    while let Some(deadline) = a.poll_timeout() {
        assert!(a.poll_event().is_none(), "failed before its last deadline");
        now = deadline;
        a.handle_timeout(now);
        sends += transmits(&mut a).len();
    }

    assert_eq!(sends, 3);
    assert_eq!(now, t0 + Duration::from_millis(300));
    assert_eq!(
        events(&mut a),
        [Event::Failed {
            id,
            error: RpcError::TimedOut { attempts: 3 }
        }]
    );
    assert_eq!(a.stats().timed_out, 1);
    assert_eq!(a.pending_requests(), 0);
}

#[test]
fn zero_retries_fails_after_one_attempt() {
    let t0 = Instant::now();
    let mut a = Endpoint::new(config(0), 1);
    let id = a.request(t0, addr(B), vec![]).unwrap();
    a.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(transmits(&mut a).len(), 1);
    assert_eq!(
        events(&mut a),
        [Event::Failed {
            id,
            error: RpcError::TimedOut { attempts: 1 }
        }]
    );
}

#[test]
fn duplicate_reply_is_ignored() {
    let now = Instant::now();
    let mut a = Endpoint::new(config(3), 1);
    let mut b = Endpoint::new(config(3), 1);
    a.request(now, addr(B), b"q".to_vec()).unwrap();
    let [t] = transmits(&mut a).try_into().unwrap();
    b.handle_datagram(now, addr(A), &t.data).unwrap();
    serve(&mut b);
    let [r] = transmits(&mut b).try_into().unwrap();

    assert_eq!(a.handle_datagram(now, addr(B), &r.data), Ok(()));
    let id = match a.poll_event() {
        Some(Event::Reply { id, .. }) => id,
        other => panic!("expected a reply, got {other:?}"),
    };
    assert_eq!(
        a.handle_datagram(now, addr(B), &r.data),
        Err(RpcError::UnexpectedReply { id, from: addr(B) })
    );
    assert!(a.poll_event().is_none());
    assert_eq!(a.stats().dropped_unexpected, 1);
}

#[test]
fn reply_from_wrong_address_is_dropped() {
    let now = Instant::now();
    let mut a = Endpoint::new(config(3), 1);
    let mut b = Endpoint::new(config(3), 1);
    let id = a.request(now, addr(B), b"q".to_vec()).unwrap();
    let [t] = transmits(&mut a).try_into().unwrap();
    b.handle_datagram(now, addr(A), &t.data).unwrap();
    serve(&mut b);
    let [r] = transmits(&mut b).try_into().unwrap();

    // The right bytes from the wrong host (or the right host, wrong port).
    assert_eq!(
        a.handle_datagram(now, addr(C), &r.data),
        Err(RpcError::WrongSender {
            id,
            from: addr(C),
            expected: addr(B)
        })
    );
    assert!(
        a.handle_datagram(now, addr("127.0.0.1:5001"), &r.data)
            .is_err()
    );
    assert!(a.poll_event().is_none());
    assert_eq!(a.pending_requests(), 1);
    assert_eq!(a.stats().dropped_unexpected, 2);

    // The genuine reply still completes the request.
    a.handle_datagram(now, addr(B), &r.data).unwrap();
    assert!(matches!(a.poll_event(), Some(Event::Reply { .. })));
}

#[test]
fn ipv4_mapped_sender_is_the_same_peer() {
    let now = Instant::now();
    let mut a = Endpoint::new(config(3), 1);
    let mut b = Endpoint::new(config(3), 1);
    a.request(now, addr(B), vec![]).unwrap();
    let [t] = transmits(&mut a).try_into().unwrap();
    b.handle_datagram(now, addr(A), &t.data).unwrap();
    serve(&mut b);
    let [r] = transmits(&mut b).try_into().unwrap();

    a.handle_datagram(now, addr("[::ffff:127.0.0.1]:5000"), &r.data)
        .unwrap();
    assert!(matches!(a.poll_event(), Some(Event::Reply { .. })));
}

#[test]
fn late_reply_after_timeout_is_dropped() {
    let t0 = Instant::now();
    let mut a = Endpoint::new(config(0), 1);
    let mut b = Endpoint::new(config(0), 1);
    let id = a.request(t0, addr(B), vec![]).unwrap();
    let [t] = transmits(&mut a).try_into().unwrap();
    a.handle_timeout(t0 + Duration::from_secs(1));
    assert!(matches!(a.poll_event(), Some(Event::Failed { .. })));

    b.handle_datagram(t0, addr(A), &t.data).unwrap();
    serve(&mut b);
    let [r] = transmits(&mut b).try_into().unwrap();
    assert_eq!(
        a.handle_datagram(t0, addr(B), &r.data),
        Err(RpcError::UnexpectedReply { id, from: addr(B) })
    );
    assert!(a.poll_event().is_none());
}

#[test]
fn garbage_is_dropped_and_counted() {
    let now = Instant::now();
    let mut a = Endpoint::new(config(3), 1);
    let cases: [(&[u8], EnvelopeError); 4] = [
        (
            b"",
            EnvelopeError::Truncated {
                len: 0,
                needed: HEADER_LEN,
            },
        ),
        (b"hello there", EnvelopeError::BadMagic(b'h')),
        (
            &[MAGIC, 7, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            EnvelopeError::UnknownVersion(7),
        ),
        (
            &[MAGIC, 1, 3, 0, 0, 0, 0, 0, 0, 0, 1],
            EnvelopeError::UnknownKind(3),
        ),
    ];
    for (bytes, error) in cases {
        assert_eq!(
            a.handle_datagram(now, addr(B), bytes),
            Err(RpcError::Malformed(error))
        );
    }
    assert!(a.poll_event().is_none());
    assert!(a.poll_transmit().is_none());
    let stats = a.stats();
    assert_eq!((stats.received, stats.dropped_malformed), (4, 4));
}

#[test]
fn cancel_stops_retries_and_events() {
    let t0 = Instant::now();
    let mut a = Endpoint::new(config(3), 1);
    let id = a.request(t0, addr(B), vec![]).unwrap();
    let keep = a.request(t0, addr(B), vec![]).unwrap();
    transmits(&mut a);

    a.cancel(id);
    a.cancel(id); // twice is harmless
    a.cancel(RequestId(12345)); // so is an unknown id
    assert_eq!(a.pending_requests(), 1);

    a.handle_timeout(t0 + Duration::from_millis(100));
    let sent = transmits(&mut a);
    assert_eq!(sent.len(), 1);
    assert_eq!(Envelope::parse(&sent[0].data).unwrap().id, keep);
    assert!(a.poll_event().is_none());
}

#[test]
fn too_large_is_rejected_before_sending() {
    let now = Instant::now();
    let mut a = Endpoint::new(
        Config {
            max_datagram: 100,
            ..Config::default()
        },
        1,
    );
    let fits = vec![0; 100 - HEADER_LEN];
    assert!(a.request(now, addr(B), fits.clone()).is_ok());
    assert!(a.reply(addr(B), RequestId(1), fits).is_ok());
    let big = vec![0; 101 - HEADER_LEN];
    assert_eq!(
        a.request(now, addr(B), big.clone()),
        Err(RpcError::TooLarge {
            size: 101,
            max: 100
        })
    );
    assert_eq!(
        a.reply(addr(B), RequestId(1), big),
        Err(RpcError::TooLarge {
            size: 101,
            max: 100
        })
    );
    assert_eq!(transmits(&mut a).len(), 2);
    assert_eq!(a.pending_requests(), 1);
}

#[test]
fn poll_timeout_tracks_the_earliest_live_deadline() {
    let t0 = Instant::now();
    let ms = Duration::from_millis;
    let mut a = Endpoint::new(config(3), 1);
    let ids: Vec<_> = (0..5_000u64)
        .map(|i| a.request(t0 + ms(i), addr(B), vec![]).unwrap())
        .collect();
    assert_eq!(a.poll_timeout(), Some(t0 + ms(100)));
    // Completing the earliest moves the deadline on at once.
    a.cancel(ids[0]);
    assert_eq!(a.poll_timeout(), Some(t0 + ms(101)));
    for &id in &ids[1..] {
        a.cancel(id);
    }
    assert_eq!(a.poll_timeout(), None);
}

/// A hand-driven network between a client endpoint and a server endpoint
/// that loses datagrams according to `lose`.
struct Net<F> {
    client: Endpoint,
    server: Endpoint,
    now: Instant,
    lose: F,
}

impl<F: FnMut(&Transmit) -> bool> Net<F> {
    /// Moves datagrams both ways and advances the clock until the client
    /// has nothing pending; returns the client's events.
    fn run(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                if !(self.lose)(&t) {
                    let _ = self.server.handle_datagram(self.now, addr(A), &t.data);
                }
            }
            serve(&mut self.server);
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                if !(self.lose)(&t) {
                    let _ = self.client.handle_datagram(self.now, addr(B), &t.data);
                }
            }
            out.extend(events(&mut self.client));
            if !moved {
                match self.client.poll_timeout() {
                    Some(deadline) => {
                        self.now = deadline;
                        self.client.handle_timeout(self.now);
                    }
                    None => return out,
                }
            }
        }
    }
}

#[test]
fn lossy_shuttle_dropping_every_other_datagram_completes() {
    // Each direction drops every other datagram it carries.
    let (mut to_server, mut to_client) = (0u32, 0u32);
    let mut net = Net {
        client: Endpoint::new(config(3), 1),
        server: Endpoint::new(config(3), 1),
        now: Instant::now(),
        lose: move |t: &Transmit| {
            let n = if t.to == addr(B) {
                &mut to_server
            } else {
                &mut to_client
            };
            *n += 1;
            *n % 2 == 1
        },
    };
    for i in 0..10u8 {
        let id = net.client.request(net.now, addr(B), vec![i]).unwrap();
        assert_eq!(
            net.run(),
            [Event::Reply {
                id,
                payload: vec![b'r', b'e', b':', i]
            }]
        );
    }
    assert!(net.client.stats().retransmitted > 0);
}

#[test]
fn lossy_shuttle_with_many_concurrent_requests_completes() {
    // 30% loss each way, replayable from the seed.
    let mut rng = SplitMix64::new(7);
    let mut net = Net {
        client: Endpoint::new(config(20), 1),
        server: Endpoint::new(config(20), 1),
        now: Instant::now(),
        lose: move |_: &Transmit| rng.next_f64() < 0.3,
    };
    let mut ids: Vec<_> = (0..200u32)
        .map(|i| {
            net.client
                .request(net.now, addr(B), i.to_be_bytes().to_vec())
                .unwrap()
        })
        .collect();
    let mut replied: Vec<_> = net
        .run()
        .into_iter()
        .map(|e| match e {
            Event::Reply { id, .. } => id,
            other => panic!("request failed: {other:?}"),
        })
        .collect();
    ids.sort();
    replied.sort();
    assert_eq!(replied, ids, "every request answered exactly once");
    let stats = net.client.stats();
    assert!(stats.retransmitted > 0);
    // Lost replies made the server see some requests more than once.
    assert!(net.server.stats().received > 200);
}

#[test]
fn a_notice_becomes_one_event_and_needs_no_reply() {
    let now = Instant::now();
    let mut a = Endpoint::new(Config::default(), 1);
    let mut b = Endpoint::new(Config::default(), 100);
    let (a_addr, b_addr): (SocketAddr, SocketAddr) = (
        "127.0.0.1:1".parse().unwrap(),
        "127.0.0.1:2".parse().unwrap(),
    );
    a.notify(b_addr, b"up".to_vec()).unwrap();
    let t = a.poll_transmit().unwrap();
    assert_eq!(t.to, b_addr);
    assert!(a.poll_transmit().is_none());
    assert_eq!(a.pending_requests(), 0, "nothing to retry");
    b.handle_datagram(now, a_addr, &t.data).unwrap();
    assert_eq!(
        b.poll_event(),
        Some(Event::Notice {
            from: a_addr,
            payload: b"up".to_vec()
        })
    );
    assert_eq!(b.poll_event(), None);
    assert!(b.poll_transmit().is_none());
}
