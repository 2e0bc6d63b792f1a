//! `convene bench booking-live`: how soon a booking made by a seed client
//! over UDP shows in open booking grids (the target: within 200 ms).
//!
//! Two nodes run in this process on port 0: W has the web front, a UDP
//! front door and "Room W"; O has a UDP front door and "Hall O". For each
//! number of open grids, that many Server-Sent Events streams
//! (`GET /api/booking/facilities/{name}/live`, what `/live.js` reads, less
//! the browser's drawing) are opened at W by one logged-in account, and a
//! seed client books a slot and cancels it, `rounds` times each, one
//! change at a time. A change's latency, per stream, is from the moment
//! the client sends its datagram until that stream has read the week
//! showing the change.
//!
//! Rows: the facility served by the web node itself (`local`: the owner's
//! change notice goes to the node's own watchers), and served by the other
//! node with the datagram sent to that node's front door (`remote`: the
//! notice crosses the peer transport to W).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use convene_booking::wire::{Reply, Request};
use convene_cluster::Screen;
use convene_time::WeekTime;
use convene_web::client::HttpClient;
use serde_json::{Value, json};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::stats::{machine, quantile};

pub struct BookingLiveBench {
    /// Open grids (streams), one run per value.
    pub grids: Vec<usize>,
    /// Book+cancel pairs per run.
    pub rounds: usize,
}

pub fn run(b: &BookingLiveBench) -> anyhow::Result<()> {
    println!(
        "booking grid, live: UDP change -> week read from the SSE stream; machine: {}",
        machine()
    );
    let dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let grids = b.grids.iter().copied().max().unwrap_or(1);
        let toml = format!(
            "[[node]]\nid = \"W\"\nhost = \"127.0.0.1\"\npeer_port = 0\nhttp_port = 0\nbooking_port = 0\n\
             [node.booking]\nfacilities = [\"Room W\"]\n\
             [[node]]\nid = \"O\"\nhost = \"127.0.0.1\"\npeer_port = 0\nbooking_port = 0\n\
             [node.booking]\nfacilities = [\"Hall O\"]\n\
             [limits]\nhttp_connections_per_ip = {}\n",
            grids + 16
        );
        let path = dir.path().join("cluster.toml");
        std::fs::write(&path, toml)?;
        let screen = Screen::discard();
        let (_, nodes) =
            convene_node::start_all(convene_node::load_cluster(&path)?, |_| screen.clone()).await?;
        let result = measure(&nodes, b).await;
        convene_node::stop_all(nodes).await;
        result
    })
}

async fn measure(nodes: &[convene_node::RunningNode], b: &BookingLiveBench) -> anyhow::Result<()> {
    let web = nodes[0].http_addr().context("W's web front")?;
    let mut client = HttpClient::new(web);
    let credentials = json!({"username": "bench", "password": "bench-password"});
    client.post_json("/api/register", &credentials).await?;
    let r = client.post_json("/api/login", &credentials).await?;
    if r.status != 200 {
        bail!("login: {} {}", r.status, r.text());
    }
    println!(
        "{:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>8}",
        "facility", "grids", "changes", "p50 ms", "p95 ms", "p99 ms", "max ms"
    );
    for (label, facility, front) in [
        ("local", "Room W", nodes[0].booking_addr()),
        ("remote", "Hall O", nodes[1].booking_addr()),
    ] {
        let front = front.context("a UDP front door")?;
        for &grids in &b.grids {
            let mut latencies = run_one(&mut client, facility, front, grids, b.rounds).await?;
            latencies.sort_unstable();
            let ms = |q: f64| quantile(&latencies, q).unwrap_or_default().as_secs_f64() * 1e3;
            println!(
                "{:<8} {:>6} {:>8} {:>8.1} {:>8.1} {:>8.1} {:>8.1}",
                label,
                grids,
                latencies.len(),
                ms(0.5),
                ms(0.95),
                ms(0.99),
                ms(1.0)
            );
        }
    }
    Ok(())
}

/// Whether a week shows Monday 10:00 booked.
fn booked(week: &Value) -> bool {
    let Some(monday) = week["days"].as_array().and_then(|d| d.first()) else {
        return false;
    };
    !monday["free"].as_array().into_iter().flatten().any(|r| {
        let (s, e) = (r["start"].as_str(), r["end"].as_str());
        s.is_some_and(|s| s <= "Mon:10:00") && e.is_some_and(|e| e > "Mon:10:00")
    })
}

/// `rounds` book+cancel pairs with `grids` streams open: every stream's
/// latency for every change.
async fn run_one(
    client: &mut HttpClient,
    facility: &str,
    front: SocketAddr,
    grids: usize,
    rounds: usize,
) -> anyhow::Result<Vec<Duration>> {
    let path = format!(
        "/api/booking/facilities/{}/live",
        facility.replace(' ', "%20")
    );
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, Instant, bool)>();
    let mut readers = Vec::new();
    for g in 0..grids {
        let mut stream = client.events(&path).await?;
        let tx = tx.clone();
        readers.push(tokio::spawn(async move {
            while let Ok(Some(event)) = stream.next().await {
                let Ok(week) = event.json() else { continue };
                if tx.send((g, Instant::now(), booked(&week))).is_err() {
                    return;
                }
            }
        }));
    }
    drop(tx);
    // Every stream first shows the week as it is (free).
    wait_all(&mut rx, grids, false, Instant::now()).await?;
    let socket = UdpSocket::bind("127.0.0.1:0").await?;
    let at = |m: u32| WeekTime::from_minutes(m).expect("inside the week");
    let mut latencies = Vec::with_capacity(rounds * 2 * grids);
    let mut id = 1u32;
    for _ in 0..rounds {
        let book = Request::Book {
            facility: facility.to_string(),
            start: at(10 * 60),
            end: at(11 * 60),
        };
        let sent = Instant::now();
        let reply = call(&socket, front, &book, &mut id).await?;
        let Reply::Booked { confirmation } = reply else {
            bail!("book: {reply:?}");
        };
        latencies.extend(wait_all(&mut rx, grids, true, sent).await?);
        let cancel = Request::Cancel { confirmation };
        let sent = Instant::now();
        let reply = call(&socket, front, &cancel, &mut id).await?;
        if let Reply::Error { message, .. } = reply {
            bail!("cancel: {message}");
        }
        latencies.extend(wait_all(&mut rx, grids, false, sent).await?);
    }
    for r in readers {
        r.abort();
    }
    Ok(latencies)
}

/// Waits until every stream has read a week with Monday 10:00 `booked`
/// (or not); each stream's wait from `sent`.
async fn wait_all(
    rx: &mut mpsc::UnboundedReceiver<(usize, Instant, bool)>,
    grids: usize,
    booked: bool,
    sent: Instant,
) -> anyhow::Result<Vec<Duration>> {
    let mut seen: Vec<Option<Duration>> = vec![None; grids];
    let mut left = grids;
    while left > 0 {
        let next = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        let Ok(Some((g, at, state))) = next else {
            bail!("{left} of {grids} streams did not show the change in 10 s");
        };
        if state == booked && seen[g].is_none() {
            seen[g] = Some(at.saturating_duration_since(sent));
            left -= 1;
        }
    }
    Ok(seen.into_iter().flatten().collect())
}

/// One seed request, retried after 1 s without a reply.
async fn call(
    socket: &UdpSocket,
    server: SocketAddr,
    request: &Request,
    id: &mut u32,
) -> anyhow::Result<Reply> {
    *id += 1;
    let datagram = request.encode(*id);
    let mut buf = vec![0u8; 65536];
    for _ in 0..5 {
        socket.send_to(&datagram, server).await?;
        if let Ok(got) = tokio::time::timeout(Duration::from_secs(1), socket.recv(&mut buf)).await {
            let n = got?;
            return Reply::decode(&buf[..n]).map_err(|e| anyhow::anyhow!("reply: {e}"));
        }
    }
    bail!("no reply from {server}")
}
