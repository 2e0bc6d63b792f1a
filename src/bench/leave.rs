//! `convene bench leave`: how long the cluster takes to move what a node
//! did once it stops, gracefully ([`RunningNode::leave`], what `SIGTERM`
//! does) and at once ([`RunningNode::stop`], as after a `kill -9`: its
//! peers only notice the silence).
//!
//! Three nodes with the default election timings (`suspect_after` 1.6 s)
//! on one shared SQLite file: F and S are booking front doors, O lists a
//! room and, last in the file, coordinates. O stops; the clock runs from
//! the call until
//!
//! - **coordinator**: F and S both name S;
//! - **authority**: S holds a majority's leases (it may move facilities);
//! - **booking**: a query for O's room through F's front door is answered
//!   (a new owner serves it). Queries are sent every 5 ms from when the
//!   stop returns, so a node still finishing its work cannot answer them.
//!
//! Then O starts again and takes both back before the next run.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use convene_booking::wire::{Reply, Request};
use convene_cluster::{ClusterConfig, Screen};
use convene_node::RunningNode;
use tokio::net::UdpSocket;

use super::stats::{machine, quantile};

const ROOM: &str = "Bench Room";

/// One run's times, from the stop's call.
#[derive(Clone, Copy, Debug)]
struct Moved {
    coordinator: Duration,
    authority: Duration,
    booking: Duration,
}

pub fn run(runs: usize) -> anyhow::Result<()> {
    println!(
        "failover after a node stops, loopback, default election timings; machine: {}",
        machine()
    );
    let dir = std::env::temp_dir().join(format!("convene-bench-leave-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = rt.block_on(run_in(&dir, runs));
    let _ = std::fs::remove_dir_all(&dir);
    result
}

async fn run_in(dir: &Path, runs: usize) -> anyhow::Result<()> {
    let mut toml = String::from("database_url = \"sqlite://leave.db\"\n");
    for (id, extra) in [
        ("F", "booking_port = 0\n"),
        ("S", "booking_port = 0\n"),
        ("O", "[node.booking]\nfacilities = [\"Bench Room\"]\n"),
    ] {
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = 0\ndata_dir = \"leave-{id}\"\n{extra}"
        ));
    }
    let path = dir.join("leave.toml");
    std::fs::write(&path, toml)?;
    let cluster = convene_node::load_cluster(&path)?;
    let (cluster, nodes) = convene_node::start_all(cluster, |_| Screen::discard()).await?;
    let mut nodes: Vec<Option<RunningNode>> = nodes.into_iter().map(Some).collect();
    let front = nodes[0]
        .as_ref()
        .and_then(RunningNode::booking_addr)
        .context("F has no booking port")?;
    let mut report = Vec::new();
    for graceful in [true, false] {
        let mut times = Vec::new();
        for _ in 0..runs {
            settle_on_o(&nodes, front).await?;
            times.push(once(&cluster, &mut nodes, front, graceful).await?);
        }
        report.push((graceful, times));
    }
    convene_node::stop_all(nodes.into_iter().flatten().collect()).await;
    for (graceful, times) in report {
        let how = if graceful {
            "graceful (leave)"
        } else {
            "at once (stop, as kill -9)"
        };
        let line = |name: &str, pick: fn(&Moved) -> Duration| {
            let mut ms: Vec<f64> = times
                .iter()
                .map(|m| pick(m).as_secs_f64() * 1000.0)
                .collect();
            ms.sort_by(f64::total_cmp);
            let q = |q| quantile(&ms, q).unwrap_or_default();
            println!(
                "  {name:<12} median {:>6.0} ms, p90 {:>6.0} ms, worst {:>6.0} ms",
                q(0.5),
                q(0.9),
                q(1.0)
            );
        };
        println!("{how}: {} runs, from the stop's call until", times.len());
        line("coordinator", |m| m.coordinator);
        line("authority", |m| m.authority);
        line("booking", |m| m.booking);
    }
    Ok(())
}

/// Stops O (gracefully or not), times what moves, and starts it again.
async fn once(
    cluster: &Arc<ClusterConfig>,
    nodes: &mut [Option<RunningNode>],
    front: SocketAddr,
    graceful: bool,
) -> anyhow::Result<Moved> {
    let Some(o) = nodes[2].take() else {
        bail!("O is not running")
    };
    let started = Instant::now();
    if graceful {
        o.leave(convene_node::running::DRAIN).await;
    } else {
        o.stop().await;
    }
    let served = tokio::spawn(first_answer(front, Duration::from_secs(30)));
    let coordinator = until(nodes, "F and S to name S", |n| {
        n.iter()
            .flatten()
            .all(|n| *n.membership().coordinator().borrow() == Some(1))
    })
    .await?;
    let authority = until(nodes, "S to hold authority", |n| {
        n[1].as_ref()
            .is_some_and(|s| s.membership().authority().is_ok())
    })
    .await?;
    served.await??;
    let booking = started.elapsed();
    let sockets = convene_node::bind_node(&cluster.nodes[2]).await?;
    nodes[2] = Some(convene_node::start(cluster.clone(), "O", sockets, Screen::discard()).await?);
    Ok(Moved {
        coordinator: coordinator - started,
        authority: authority - started,
        booking,
    })
}

/// Waits until `check` holds (polling every millisecond); when it did.
async fn until(
    nodes: &[Option<RunningNode>],
    what: &str,
    check: impl Fn(&[Option<RunningNode>]) -> bool,
) -> anyhow::Result<Instant> {
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        if check(nodes) {
            return Ok(Instant::now());
        }
        if Instant::now() > give_up {
            bail!("waited 30 s for {what}");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Queries the room through `front` every 5 ms until one is answered.
async fn first_answer(front: SocketAddr, patience: Duration) -> anyhow::Result<()> {
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let mut buf = vec![0u8; 65_536];
    let give_up = Instant::now() + patience;
    let mut id = 1_000_000u32;
    while Instant::now() < give_up {
        id += 1;
        let query = Request::Query {
            facility: ROOM.into(),
            days: vec![1],
        }
        .encode(id);
        socket.send_to(&query, front).await?;
        let wait = tokio::time::Instant::now() + Duration::from_millis(5);
        while let Ok(Ok((n, _))) = tokio::time::timeout_at(wait, socket.recv_from(&mut buf)).await {
            if let Ok(Reply::Availability { .. }) = Reply::decode(&buf[..n]) {
                return Ok(());
            }
        }
    }
    bail!("the room was not served again within {patience:?}")
}

/// Waits until all three name O, O holds authority, and the room is served
/// through F; then a little longer, for O to take the room back (the
/// owners table is read every 250 ms).
async fn settle_on_o(nodes: &[Option<RunningNode>], front: SocketAddr) -> anyhow::Result<()> {
    until(nodes, "everyone to name O, and O to hold authority", |n| {
        n.iter()
            .flatten()
            .all(|n| *n.membership().coordinator().borrow() == Some(2))
            && n[2]
                .as_ref()
                .is_some_and(|o| o.membership().authority().is_ok())
    })
    .await?;
    first_answer(front, Duration::from_secs(30)).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    Ok(())
}
