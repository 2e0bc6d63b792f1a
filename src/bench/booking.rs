//! `convene bench booking`: the booking front door under load.
//!
//! Two nodes run in this process on a 2-worker runtime: one at-most-once,
//! one at-least-once, each a front door owning its facilities (so requests
//! are executed locally; forwarding adds one peer round trip). Clients run on
//! a separate single-threaded runtime, each with its own UDP socket, one
//! request at a time (no pipelining), as the seed's clients do. The nodes'
//! on-screen lines (four or so per request) are formatted into a sink.
//!
//! Rows: `query` (a week's availability), `book+cancel` (each client books
//! its own slot and cancels it; both requests count, both are stored), and
//! `retry (cache hit)` (the same cancel datagram again and again, answered
//! from the reply cache at-most-once, executed again at-least-once).
//!
//! `--soak-seconds N` then runs book+cancel at 32 clients for N seconds and
//! prints the process's resident memory at each quarter: cancelled bookings
//! live in the database, not in the owner's memory, so it levels off once
//! the bounded reply records are full.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use convene_booking::wire::{Reply, Request};
use convene_cluster::Screen;
use convene_rpc::{CacheConfig, Lookup, ReplyCache};
use convene_time::WeekTime;
use tokio::net::UdpSocket;

use super::stats::{machine, quantile, rss};

const FACILITIES: [&str; 4] = ["Room 1", "Room 2", "Room 3", "Room 4"];

#[derive(Clone, Copy, PartialEq)]
enum Load {
    Query,
    BookCancel,
    Retry,
}

pub fn run(clients: &[usize], seconds: f64, soak_seconds: f64) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("convene-bench-booking-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, clients, seconds, soak_seconds);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(
    dir: &std::path::Path,
    clients: &[usize],
    seconds: f64,
    soak_seconds: f64,
) -> anyhow::Result<()> {
    println!("booking front door: requests/s and latency, one request in flight per client");
    println!("machine: {}", machine());
    let list = FACILITIES
        .iter()
        .map(|f| format!("\"{f}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let node = |id: &str, sem: &str| {
        format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = 0\nbooking_port = 0\ndata_dir = \"{id}\"\n\
             [node.booking]\nsemantics = \"{sem}\"\nfacilities = [{}]\n",
            list.replace("Room", &format!("{id} Room"))
        )
    };
    let path = dir.join("cluster.toml");
    std::fs::write(
        &path,
        node("M", "at-most-once") + &node("L", "at-least-once"),
    )?;
    let cluster = convene_node::load_cluster(&path)?;
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let screen = Screen::writer(std::io::sink());
    let (_, nodes) = servers.block_on(convene_node::start_all(cluster, |_| screen.clone()))?;
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    println!(
        "{:<18} {:<14} {:>7} {:>10} {:>12} {:>9} {:>9}",
        "operation", "semantics", "clients", "requests", "requests/s", "p50 µs", "p99 µs"
    );
    for (label, kind) in [
        ("query", Load::Query),
        ("book+cancel", Load::BookCancel),
        ("retry (cache hit)", Load::Retry),
    ] {
        for (node, sem) in [(&nodes[0], "at-most-once"), (&nodes[1], "at-least-once")] {
            let server = node.booking_addr().context("front door")?;
            let prefix = if sem == "at-most-once" { "M" } else { "L" };
            for &n in clients {
                let r = load.block_on(drive(
                    server,
                    prefix,
                    kind,
                    n,
                    Duration::from_secs_f64(seconds),
                ))?;
                println!(
                    "{:<18} {:<14} {:>7} {:>10} {:>12.0} {:>9} {:>9}",
                    label, sem, n, r.0, r.1, r.2, r.3
                );
            }
        }
    }
    if soak_seconds > 0.0 {
        let server = nodes[0].booking_addr().context("front door")?;
        let quarter = Duration::from_secs_f64(soak_seconds / 4.0);
        let mut pairs = 0;
        println!(
            "soak: book+cancel, at-most-once, 32 clients; resident memory of this process \
             (nodes and clients) before: {:.1} MB",
            rss(std::process::id())? as f64 / 1e6
        );
        for q in 1..=4 {
            let r = load.block_on(drive(server, "M", Load::BookCancel, 32, quarter))?;
            pairs += r.0 / 2;
            println!(
                "soak {q}/4: {pairs} book+cancel pairs so far, {:.0} requests/s, memory {:.1} MB",
                r.1,
                rss(std::process::id())? as f64 / 1e6
            );
        }
    }
    servers.block_on(convene_node::stop_all(nodes));
    cache_memory();
    Ok(())
}

/// Runs `clients` clients for `duration`: (requests, requests/s, p50 µs, p99 µs).
async fn drive(
    server: SocketAddr,
    prefix: &str,
    kind: Load,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<(usize, f64, u64, u64)> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        let facility = format!("{prefix} {}", FACILITIES[c % FACILITIES.len()]);
        tasks.push(tokio::spawn(one_client(
            server, facility, kind, c, deadline,
        )));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await??);
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Ok((
        latencies.len(),
        latencies.len() as f64 / elapsed,
        quantile(&latencies, 0.5).unwrap_or(0),
        quantile(&latencies, 0.99).unwrap_or(0),
    ))
}

async fn one_client(
    server: SocketAddr,
    facility: String,
    kind: Load,
    c: usize,
    deadline: Instant,
) -> anyhow::Result<Vec<u64>> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let mut buf = vec![0u8; 65536];
    let mut latencies = Vec::new();
    let mut id = 1u32;
    // Each client has its own hour of the week on its facility.
    let slot = (c / FACILITIES.len()) as u32;
    let at = |m: u32| WeekTime::from_minutes(m).expect("inside the week");
    let book = Request::Book {
        facility: facility.clone(),
        start: at(slot * 60),
        end: at(slot * 60 + 30),
    };
    let query = Request::Query {
        facility,
        days: (0..7).collect(),
    };
    let mut retry: Option<Vec<u8>> = None;
    while Instant::now() < deadline {
        let datagram = match kind {
            Load::Query => query.encode(id),
            Load::BookCancel => book.encode(id),
            Load::Retry => match &retry {
                Some(d) => d.clone(),
                None => book.encode(id),
            },
        };
        id += 1;
        let t = Instant::now();
        let reply = exchange(&socket, server, &datagram, &mut buf).await?;
        latencies.push(t.elapsed().as_micros() as u64);
        if let (Load::BookCancel | Load::Retry, Reply::Booked { confirmation }) = (kind, &reply) {
            let cancel = Request::Cancel {
                confirmation: confirmation.clone(),
            }
            .encode(id);
            id += 1;
            let t = Instant::now();
            exchange(&socket, server, &cancel, &mut buf).await?;
            latencies.push(t.elapsed().as_micros() as u64);
            if kind == Load::Retry {
                retry = Some(cancel);
            }
        }
    }
    Ok(latencies)
}

async fn exchange(
    socket: &UdpSocket,
    server: SocketAddr,
    datagram: &[u8],
    buf: &mut [u8],
) -> anyhow::Result<Reply> {
    socket.send_to(datagram, server).await?;
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), socket.recv_from(buf))
        .await
        .context("no reply within 5 s")??;
    Ok(Reply::decode(&buf[..n])?)
}

/// The reply cache's memory per entry, filled as a busy front door fills it.
fn cache_memory() {
    let mut cache = ReplyCache::new(CacheConfig {
        ttl: Duration::from_secs(300),
        max_entries: 100_000,
    });
    let now = Instant::now();
    let reply = Reply::Cancelled {
        message: "Booking cancelled successfully".into(),
    }
    .encode();
    for i in 0..100_000u32 {
        let client: SocketAddr = SocketAddr::from((
            [127, 0, (i >> 8) as u8, i as u8],
            40_000 + (i % 1000) as u16,
        ));
        let request = Request::Cancel {
            confirmation: format!("CONF{i:06}"),
        }
        .encode(i);
        if matches!(cache.begin(now, client, i, &request), Lookup::New) {
            cache.finish(now, client, i, &request, &reply);
        }
    }
    println!(
        "reply cache: {} entries with {}-byte replies, about {} bytes per entry (keys, checksums, times, replies and table overhead)",
        cache.len(),
        reply.len(),
        cache.approx_bytes_per_entry()
    );
}
