//! Tests of the reply cache: no sockets, a fake clock (one `Instant` plus
//! offsets), and a model-checking proptest.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const A: &str = "192.0.2.1:4000";
const B: &str = "[2001:db8::7]:4000";

const TTL: Duration = Duration::from_secs(300);

fn cache(max_entries: usize) -> ReplyCache {
    ReplyCache::new(CacheConfig {
        ttl: TTL,
        max_entries,
    })
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn new_then_in_progress_then_done() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::New);
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::InProgress);
    c.finish(t, a, 1, b"req", b"reply bytes");
    assert_eq!(
        c.begin(t + secs(1), a, 1, b"req"),
        Lookup::Done(b"reply bytes")
    );
    assert_eq!(
        c.begin(t + secs(2), a, 1, b"req"),
        Lookup::Done(b"reply bytes")
    );
    assert_eq!(c.len(), 1);
    let s = c.stats();
    assert_eq!((s.misses, s.hits_in_progress, s.hits_done), (1, 1, 2));
}

#[test]
fn keys_are_client_and_id() {
    let t = Instant::now();
    let mut c = cache(10);
    assert_eq!(c.begin(t, addr(A), 1, b"req"), Lookup::New);
    assert_eq!(c.begin(t, addr(A), 2, b"req"), Lookup::New);
    assert_eq!(c.begin(t, addr(B), 1, b"req"), Lookup::New);
    assert_eq!(c.begin(t, addr("192.0.2.1:4001"), 1, b"req"), Lookup::New);
    // The IPv4-mapped form of A is A.
    assert_eq!(
        c.begin(t, addr("[::ffff:192.0.2.1]:4000"), 1, b"req"),
        Lookup::InProgress
    );
    assert_eq!(c.len(), 4);
}

#[test]
fn reused_id_with_a_different_request_is_new() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    assert_eq!(c.begin(t, a, 1, b"old"), Lookup::New);
    c.finish(t, a, 1, b"old", b"old reply");
    // The client restarted and numbers from 1 again.
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::New);
    assert_eq!(c.stats().reused_ids, 1);
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::InProgress);
    c.finish(t, a, 1, b"new", b"new reply");
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::Done(b"new reply"));
    assert_eq!(c.len(), 1);
}

#[test]
fn finish_of_a_request_whose_id_was_reused_meanwhile_is_ignored() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    assert_eq!(c.begin(t, a, 1, b"old"), Lookup::New);
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::New);
    c.finish(t, a, 1, b"old", b"old reply");
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::InProgress);
    c.abandon(a, 1, b"old");
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::InProgress);
    c.finish(t, a, 1, b"new", b"new reply");
    assert_eq!(c.begin(t, a, 1, b"new"), Lookup::Done(b"new reply"));
}

#[test]
fn a_second_finish_keeps_the_first_reply() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    c.begin(t, a, 1, b"req");
    c.finish(t, a, 1, b"req", b"first");
    c.finish(t, a, 1, b"req", b"second");
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::Done(b"first"));
}

#[test]
fn entries_expire_ttl_after_creation() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    c.begin(t, a, 1, b"req");
    c.finish(t + secs(10), a, 1, b"req", b"reply");
    // Age is counted from begin, not finish; an age of exactly ttl is kept.
    assert_eq!(c.begin(t + TTL, a, 1, b"req"), Lookup::Done(b"reply"));
    let later = t + TTL + Duration::from_millis(1);
    assert_eq!(c.begin(later, a, 1, b"req"), Lookup::New);
    assert_eq!(c.stats().expired, 1);
    assert_eq!(c.len(), 1);
}

#[test]
fn begin_drops_expired_entries_from_the_front() {
    let t = Instant::now();
    let mut c = cache(10);
    for id in 0..5 {
        c.begin(t + secs(u64::from(id)), addr(A), id, b"req");
    }
    // At t + ttl + 2.5 s, ids 0..=2 (created at 0, 1, 2 s) are expired.
    c.begin(t + TTL + Duration::from_millis(2_500), addr(B), 9, b"req");
    assert_eq!(c.len(), 3);
    assert_eq!(c.stats().expired, 3);
}

#[test]
fn a_full_cache_evicts_the_oldest_first() {
    let t = Instant::now();
    let mut c = cache(3);
    for id in 0..3 {
        c.begin(t, addr(A), id, b"req");
        c.finish(t, addr(A), id, b"req", &[id as u8]);
    }
    // Touching id 0 does not make it younger: eviction is by insertion.
    assert_eq!(c.begin(t, addr(A), 0, b"req"), Lookup::Done(&[0]));
    assert_eq!(c.begin(t, addr(A), 3, b"req"), Lookup::New);
    assert_eq!(c.len(), 3);
    assert_eq!(c.stats().evicted_full, 1);
    assert_eq!(c.begin(t, addr(A), 1, b"req"), Lookup::Done(&[1]));
    assert_eq!(c.begin(t, addr(A), 2, b"req"), Lookup::Done(&[2]));
    assert_eq!(c.begin(t, addr(A), 3, b"req"), Lookup::InProgress);
    // Id 0 went first; asking for it again evicts the next oldest, id 1.
    assert_eq!(c.begin(t, addr(A), 0, b"req"), Lookup::New);
    assert_eq!(c.begin(t, addr(A), 2, b"req"), Lookup::Done(&[2]));
    assert_eq!(c.stats().evicted_full, 2);
}

#[test]
fn finish_after_eviction_inserts_the_entry_done() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(1);
    c.begin(t, a, 1, b"one");
    c.begin(t, a, 2, b"two"); // evicts 1 while it executes
    c.finish(t, a, 1, b"one", b"reply one"); // evicts 2
    assert_eq!(c.begin(t, a, 1, b"one"), Lookup::Done(b"reply one"));
    assert_eq!(c.len(), 1);
}

#[test]
fn finish_after_expiry_inserts_a_fresh_entry() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    c.begin(t, a, 1, b"req");
    let late = t + TTL + secs(1);
    c.finish(late, a, 1, b"req", b"slow reply");
    assert_eq!(
        c.begin(late + TTL, a, 1, b"req"),
        Lookup::Done(b"slow reply")
    );
}

#[test]
fn abandon_forgets_an_in_progress_entry_only() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(10);
    c.begin(t, a, 1, b"req");
    c.abandon(a, 1, b"req");
    assert!(c.is_empty());
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::New);
    c.finish(t, a, 1, b"req", b"reply");
    c.abandon(a, 1, b"req");
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::Done(b"reply"));
    c.abandon(a, 99, b"never seen");
    assert_eq!(c.len(), 1);
}

fn restored(client: &str, id: u32, request: &[u8], reply: &[u8], age: Duration) -> RestoredEntry {
    RestoredEntry {
        client: addr(client),
        request_id: id,
        checksum: ReplyCache::checksum(request),
        reply: reply.to_vec(),
        age,
    }
}

#[test]
fn restored_entries_live_for_the_rest_of_their_ttl() {
    let t = Instant::now();
    let mut c = cache(10);
    c.restore(t, restored(B, 5, b"req", b"saved", secs(100)));
    assert_eq!(
        c.begin(t + secs(200), addr(B), 5, b"req"),
        Lookup::Done(b"saved")
    );
    assert_eq!(c.begin(t + secs(201), addr(B), 5, b"req"), Lookup::New);
}

#[test]
fn restored_entries_older_than_ttl_are_not_kept() {
    let t = Instant::now();
    let mut c = cache(10);
    c.restore(t, restored(A, 5, b"req", b"saved", TTL + secs(1)));
    assert!(c.is_empty());
    assert_eq!(c.stats().expired, 1);
    assert_eq!(c.begin(t, addr(A), 5, b"req"), Lookup::New);
}

#[test]
fn restore_replaces_and_respects_the_bound() {
    let t = Instant::now();
    let mut c = cache(2);
    c.restore(t, restored(A, 1, b"req", b"first", secs(0)));
    c.restore(t, restored(A, 1, b"req", b"second", secs(0)));
    assert_eq!(c.len(), 1);
    c.restore(t, restored(A, 2, b"req", b"two", secs(0)));
    c.restore(t, restored(A, 3, b"req", b"three", secs(0)));
    assert_eq!(c.len(), 2);
    assert_eq!(c.begin(t, addr(A), 2, b"req"), Lookup::Done(b"two"));
    assert_eq!(c.begin(t, addr(A), 3, b"req"), Lookup::Done(b"three"));
}

#[test]
fn purge_drops_expired_entries_queued_behind_younger_ones() {
    let t = Instant::now();
    let mut c = cache(10);
    c.restore(t, restored(A, 1, b"req", b"young", secs(0)));
    c.restore(t, restored(A, 2, b"req", b"old", secs(290)));
    let later = t + secs(20);
    c.begin(later, addr(B), 1, b"req"); // the front entry is young: stops there
    assert_eq!(c.len(), 3);
    c.purge(later);
    assert_eq!(c.len(), 2);
    assert_eq!(c.stats().expired, 1);
    assert_eq!(c.begin(later, addr(A), 1, b"req"), Lookup::Done(b"young"));
}

#[test]
fn zero_max_entries_disables_the_cache() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(0);
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::New);
    c.finish(t, a, 1, b"req", b"reply");
    c.restore(t, restored(A, 2, b"req", b"saved", secs(0)));
    assert_eq!(c.begin(t, a, 1, b"req"), Lookup::New);
    assert!(c.is_empty());
}

#[test]
fn an_unrepresentable_ttl_never_expires() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = ReplyCache::new(CacheConfig {
        ttl: Duration::MAX,
        max_entries: 10,
    });
    c.begin(t, a, 1, b"req");
    c.finish(t, a, 1, b"req", b"reply");
    c.restore(t, restored(B, 1, b"req", b"saved", secs(1)));
    c.purge(t + secs(1_000_000_000));
    assert_eq!(
        c.begin(t + secs(1_000_000_000), a, 1, b"req"),
        Lookup::Done(b"reply")
    );
    assert_eq!(c.len(), 2);
}

#[test]
fn stale_queue_records_stay_bounded() {
    let (t, a) = (Instant::now(), addr(A));
    let mut c = cache(100);
    // A long-lived entry at the front, then a churn of begin/abandon and of
    // reused ids behind it: every one leaves a stale record.
    c.begin(t, a, 0, b"keep");
    for i in 0..100_000u32 {
        c.begin(t, a, 1, b"churn");
        c.abandon(a, 1, b"churn");
        c.begin(t, a, 2, &i.to_be_bytes());
        assert!(c.order.len() <= 2 * c.len() + MIN_STALE + 1);
    }
    assert_eq!(c.len(), 2);
}

#[test]
fn memory_per_entry_is_under_256_bytes() {
    let t = Instant::now();
    let mut c = ReplyCache::new(CacheConfig::default());
    let reply = [0xAB; 40];
    for i in 0..100_000u32 {
        let client = SocketAddr::from(([10, 0, (i >> 8) as u8, i as u8], 4000));
        let request = i.to_be_bytes();
        assert_eq!(c.begin(t, client, i, &request), Lookup::New);
        c.finish(t, client, i, &request, &reply);
    }
    assert_eq!(c.len(), 100_000);
    let per_entry = c.approx_bytes_per_entry();
    eprintln!("approx bytes per entry: {per_entry}");
    assert!(per_entry < 256, "{per_entry} bytes per entry");
}

#[test]
fn heap_and_table_estimates() {
    assert_eq!(heap_block(0), 0);
    assert_eq!(heap_block(1), 32);
    assert_eq!(heap_block(24), 32);
    assert_eq!(heap_block(40), 48);
    assert_eq!(heap_block(usize::MAX), usize::MAX & !15);
    assert_eq!(hash_table_bytes(0, 80), 0);
    assert_eq!(hash_table_bytes(3, 80), 4 * 81 + 16);
    assert_eq!(hash_table_bytes(14, 80), 16 * 81 + 16);
    assert_eq!(hash_table_bytes(114_688, 80), 131_072 * 81 + 16);
    assert_eq!(hash_table_bytes(usize::MAX, 80), usize::MAX);
    // The capacities the estimate assumes are the ones std reports.
    let mut map = HashMap::new();
    for i in 0..100_000u32 {
        map.insert(i, ());
    }
    assert_eq!(map.capacity(), 114_688);
}

#[test]
fn checksum_is_fnv1a_64() {
    assert_eq!(ReplyCache::checksum(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(ReplyCache::checksum(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(ReplyCache::checksum(b"foobar"), 0x8594_4171_f739_67e8);
}

/// One step of a random workload. Small ranges so keys, checksums and
/// replies collide often.
#[derive(Debug, Clone)]
enum Op {
    Begin {
        client: usize,
        id: u32,
        req: u8,
    },
    Finish {
        client: usize,
        id: u32,
        req: u8,
        reply: u8,
    },
    Abandon {
        client: usize,
        id: u32,
        req: u8,
    },
    Restore {
        client: usize,
        id: u32,
        req: u8,
        reply: u8,
        age_ms: u64,
    },
    Advance {
        ms: u64,
    },
    Purge,
}

const CLIENTS: [&str; 3] = ["192.0.2.1:1", "[2001:db8::1]:1", "[fe80::1%3]:1"];

fn op() -> impl Strategy<Value = Op> {
    let client = 0..CLIENTS.len();
    prop_oneof![
        4 => (client.clone(), 0..4u32, 0..3u8)
            .prop_map(|(client, id, req)| Op::Begin { client, id, req }),
        3 => (client.clone(), 0..4u32, 0..3u8, any::<u8>())
            .prop_map(|(client, id, req, reply)| Op::Finish { client, id, req, reply }),
        1 => (client.clone(), 0..4u32, 0..3u8)
            .prop_map(|(client, id, req)| Op::Abandon { client, id, req }),
        1 => (client, 0..4u32, 0..3u8, any::<u8>(), 0..800u64)
            .prop_map(|(client, id, req, reply, age_ms)| Op::Restore { client, id, req, reply, age_ms }),
        2 => (0..200u64).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Purge),
    ]
}

/// The reply given for a request: its bytes depend on the draw, so two
/// finishes of one request may record different replies.
fn reply_bytes(client: usize, id: u32, reply: u8) -> Vec<u8> {
    vec![client as u8, id as u8, reply, 0xEE]
}

proptest! {
    #[test]
    fn random_workloads_respect_the_bound_and_the_replies(
        max_entries in 0..6usize,
        source_limit in proptest::option::of(1..4usize),
        ops in proptest::collection::vec(op(), 0..200),
    ) {
        let ttl = Duration::from_millis(500);
        let mut c = ReplyCache::new(CacheConfig { ttl, max_entries });
        if let Some(limit) = source_limit {
            c = c.with_source_limit(limit);
        }
        let mut now = Instant::now();
        // Every reply handed to finish or restore, by (client, id, checksum).
        let mut given: HashMap<(usize, u32, u64), HashSet<Vec<u8>>> = HashMap::new();
        for op in ops {
            match op {
                Op::Begin { client, id, req } => {
                    let request = [req];
                    let checksum = ReplyCache::checksum(&request);
                    if let Lookup::Done(reply) = c.begin(now, addr(CLIENTS[client]), id, &request) {
                        let known = given.get(&(client, id, checksum));
                        prop_assert!(known.is_some_and(|k| k.contains(reply)), "{reply:?}");
                    }
                }
                Op::Finish { client, id, req, reply } => {
                    let request = [req];
                    let reply = reply_bytes(client, id, reply);
                    given
                        .entry((client, id, ReplyCache::checksum(&request)))
                        .or_default()
                        .insert(reply.clone());
                    c.finish(now, addr(CLIENTS[client]), id, &request, &reply);
                }
                Op::Abandon { client, id, req } => c.abandon(addr(CLIENTS[client]), id, &[req]),
                Op::Restore { client, id, req, reply, age_ms } => {
                    let reply = reply_bytes(client, id, reply);
                    let checksum = ReplyCache::checksum(&[req]);
                    given.entry((client, id, checksum)).or_default().insert(reply.clone());
                    c.restore(now, RestoredEntry {
                        client: addr(CLIENTS[client]),
                        request_id: id,
                        checksum,
                        reply,
                        age: Duration::from_millis(age_ms),
                    });
                }
                Op::Advance { ms } => now += Duration::from_millis(ms),
                Op::Purge => c.purge(now),
            }
            prop_assert!(c.len() <= max_entries);
            prop_assert!(c.order.len() <= 2 * c.len() + MIN_STALE + 1);
            if let (Some(limit), Some(sources)) = (source_limit, &c.sources) {
                let mut counted: HashMap<Source, usize> = HashMap::new();
                for key in c.entries.keys() {
                    *counted.entry(key.source()).or_default() += 1;
                }
                prop_assert_eq!(counted.len(), sources.queues.len());
                for (source, queue) in &sources.queues {
                    prop_assert_eq!(Some(&queue.live), counted.get(source));
                    prop_assert!(queue.live <= limit);
                    prop_assert!(queue.order.len() <= 2 * queue.live + 1);
                }
            }
        }
    }
}

#[test]
fn one_source_cannot_flush_the_others() {
    let t = Instant::now();
    let mut c = cache(100).with_source_limit(10);
    let (victim, flood) = (addr("192.0.2.1:4000"), addr("192.0.2.2:4000"));
    c.begin(t, victim, 1, b"victim");
    c.finish(t, victim, 1, b"victim", b"kept");
    // Many ports of one address are one source; so is a whole IPv6 /64.
    for i in 0..10_000u32 {
        let port = 1000 + (i % 50_000) as u16;
        c.begin(t, SocketAddr::from(([192, 0, 2, 2], port)), i, b"x");
        let v6: SocketAddr = format!("[2001:db8:0:1::{:x}]:5", i % 0xffff)
            .parse()
            .unwrap();
        c.begin(t, v6, i, b"y");
    }
    c.begin(t, flood, 7, b"z");
    assert_eq!(c.len(), 21);
    assert_eq!(c.begin(t, victim, 1, b"victim"), Lookup::Done(b"kept"));
    assert_eq!(c.stats().evicted_source, 2 * 10_000 + 1 - 20);
    assert_eq!(c.stats().evicted_full, 0);
    // The source's newest entries are the ones kept.
    assert_eq!(
        c.begin(
            t,
            SocketAddr::from(([192, 0, 2, 2], 1000 + 9_999)),
            9_999,
            b"x"
        ),
        Lookup::InProgress
    );
}

#[test]
fn source_queues_stay_bounded_and_go_with_their_last_entry() {
    let t = Instant::now();
    let mut c = cache(1000).with_source_limit(5);
    let a = addr(A);
    c.begin(t, a, 0, b"keep");
    for i in 0..10_000u32 {
        c.begin(t, a, 1, b"churn");
        c.abandon(a, 1, b"churn");
        c.begin(t, a, 2, &i.to_be_bytes());
        let queue = &c.sources.as_ref().unwrap().queues[&Source::of(a.ip())];
        assert!(
            queue.order.len() <= 2 * queue.live + 1,
            "{}",
            queue.order.len()
        );
    }
    c.purge(t + secs(1000));
    assert!(c.is_empty());
    assert!(c.sources.as_ref().unwrap().queues.is_empty());
}

#[test]
fn evictions_are_logged_when_asked() {
    let t = Instant::now();
    let mut c = cache(3).with_source_limit(2).with_eviction_log();
    let (a, b) = (addr("192.0.2.1:1"), addr("192.0.2.2:1"));
    for id in 0..3 {
        c.begin(t, a, id, b"a");
        c.finish(t, a, id, b"a", b"r");
    }
    assert_eq!(c.take_evicted(), vec![(a, 0)]);
    c.begin(t, b, 9, b"b");
    c.begin(t, b, 10, b"b");
    // Full (3): the oldest of all goes first.
    assert_eq!(c.take_evicted(), vec![(a, 1)]);
    assert!(c.take_evicted().is_empty());
    // Without the log nothing is kept.
    let mut quiet = cache(1);
    quiet.begin(t, a, 1, b"a");
    quiet.begin(t, a, 2, b"a");
    assert!(quiet.take_evicted().is_empty());
}
