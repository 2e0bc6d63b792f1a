//! What metrics cost a node: the time to encode one scrape with a
//! realistic number of series, and the time one request's
//! [`Metrics::begin`] + [`Request::finish`] adds to its path.
//!
//! ```text
//! cargo run --release -p convene-metrics --example cost
//! ```
//!
//! The series are those of a busy node: every web route and every kind of
//! the five services with two outcomes each (a count and a latency
//! histogram per kind), the events counters, and the scrape-time gauges of
//! a 5-node cluster. Numbers go to docs/benchmarks.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use convene_metrics::text::Samples;
use convene_metrics::{Gauge, Metrics, PoolUse};

/// (service, door, kinds): about what the code names today.
const KINDS: &[(&str, &str, usize)] = &[
    ("web", "http", 48),
    ("booking", "udp", 6),
    ("booking", "web", 6),
    ("meet", "tcp", 3),
    ("chat", "tcp", 6),
    ("files", "peer", 8),
    ("events", "peer", 6),
];

fn busy_node() -> Metrics {
    let metrics = Metrics::new();
    for (service, door, kinds) in KINDS {
        for k in 0..*kinds {
            for outcome in ["ok", "refused"] {
                metrics
                    .begin(service, door, format!("kind_{k}"), None)
                    .finish(outcome);
            }
        }
        let _open = metrics.connection(service, door);
    }
    for event in 0..40 {
        let name: &'static str = Box::leak(format!("event_{event}").into_boxed_str());
        metrics.count("peer", name, 1);
    }
    metrics.on_scrape(|m| {
        m.gauge(Gauge::ElectionTerm, &[], 12);
        m.gauge(Gauge::LiveNodes, &[], 5);
        m.clear(Gauge::Coordinator);
        m.gauge(Gauge::Coordinator, &[("coordinator", "E")], 1);
        for queue in ["files_sync", "files_lock_queue", "files_locks"] {
            m.gauge(Gauge::QueueDepth, &[("queue", queue)], 0);
        }
        for db in ["events", "booking", "locks"] {
            m.pool(db, PoolUse { open: 5, idle: 3 });
        }
    });
    metrics
}

/// The median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut()) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[runs / 2]
}

fn per_request(metrics: &Metrics, n: u32) -> Duration {
    let start = Instant::now();
    for i in 0..n {
        let request = metrics.begin("booking", "udp", "book", None);
        black_box(&request);
        request.finish(if i % 10 == 0 { "refused" } else { "ok" });
    }
    start.elapsed() / n
}

fn main() {
    let metrics = busy_node();
    let text = metrics.encode();
    let samples = Samples::parse(&text).expect("our own text reads back");
    println!(
        "one scrape: {} series ({} lines, {} KiB)",
        samples.0.len(),
        text.lines().count(),
        text.len() / 1024
    );
    let encode = median(201, || {
        black_box(metrics.encode());
    });
    println!("encode (hooks + text), median of 201: {encode:?}");

    let n = 2_000_000;
    per_request(&metrics, n / 10); // warm up
    let bare = per_request(&metrics, n);
    println!("begin + finish, no tracing subscriber: {bare:?} per request");
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_writer(std::io::sink)
        .finish();
    let default = tracing::subscriber::with_default(subscriber, || per_request(&metrics, n));
    println!("begin + finish, a subscriber at warn (a node's default): {default:?} per request");
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
        .with_writer(std::io::sink)
        .finish();
    let traced = tracing::subscriber::with_default(subscriber, || per_request(&metrics, n));
    println!(
        "begin + finish, a subscriber at info (spans made, none printed): {traced:?} per request"
    );
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "info,convene_request=off",
        ))
        .with_writer(std::io::sink)
        .finish();
    let off = tracing::subscriber::with_default(subscriber, || per_request(&metrics, n));
    println!("begin + finish, convene_request=off: {off:?} per request");
}
