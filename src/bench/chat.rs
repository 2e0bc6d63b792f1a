//! `convene bench chat`: the chat service's four targets.
//!
//! - **Fan-out**: one node, one room (its MainHall) of `--fanout` clients; a
//!   few of them send as fast as the others can read, and every line a client
//!   receives counts as a delivery. A sender waits while the slowest reader
//!   could be more than a window behind, so nobody is cut off as a slow
//!   consumer (the run reports it if anyone was).
//! - **Broadcast latency**: `--broadcast` clients spread over three nodes,
//!   each node's clients in its MainHall; one client per node broadcasts its
//!   clock every 50 ms, and every receiver records how long the line took
//!   (websocket-shootout's measure, per room since rooms live on one node).
//! - **Browser broadcast latency**: the same with `--web-broadcast`
//!   browser-protocol clients, WebSockets to the three nodes' `/api/chat`
//!   (issue 14's target: 1,000 clients, p95 under 50 ms).
//! - **Failover**: three nodes with the default election timings; the
//!   coordinator is stopped (its socket simply goes quiet, as after a
//!   `kill -9`) and the clock runs until both others name the new one.
//! - **Idle memory**: a `convene node` child process with `--idle` clients
//!   connected, each logged in and sitting in a room of its own; the growth
//!   of its resident memory, per connection.
//!
//! Nodes run on a 2-worker runtime, clients on their own single-threaded
//! runtime on another thread: on a 2-core machine they share the cores,
//! so the numbers are a floor for a server with the machine to itself.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use convene_cluster::{ClusterConfig, Screen};
use convene_node::RunningNode;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use super::stats::{machine, quantile, rss};

/// How far (in messages) the senders may run ahead of the slowest reader:
/// well inside a connection's outbox, so the benchmark measures delivery,
/// not slow-consumer cut-offs.
const WINDOW: u64 = 300;

pub struct ChatBench {
    pub fanout: usize,
    pub broadcast: usize,
    pub web_broadcast: usize,
    pub seconds: f64,
    pub failovers: usize,
    pub idle: usize,
}

pub fn run(b: &ChatBench) -> anyhow::Result<()> {
    println!("chat service on loopback; machine: {}", machine());
    let dir = std::env::temp_dir().join(format!("convene-bench-chat-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, b);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &Path, b: &ChatBench) -> anyhow::Result<()> {
    let nodes_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let clients_rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if b.fanout > 1 {
        let (_, nodes) = nodes_rt.block_on(start(dir, "fanout", &["c1"]))?;
        let addr = chat_addr(&nodes[0])?;
        let r = clients_rt.block_on(fanout(addr, b.fanout, Duration::from_secs_f64(b.seconds)));
        let slow = nodes[0]
            .chat()
            .stats()
            .slow_consumers
            .load(Ordering::Relaxed);
        nodes_rt.block_on(convene_node::stop_all(nodes));
        let (deliveries, per_second) = r?;
        println!(
            "fan-out: {} clients in one room, {deliveries} deliveries, {per_second:.0} deliveries/s (slow consumers cut: {slow})",
            b.fanout
        );
    }
    if b.broadcast >= 6 {
        let (_, nodes) = nodes_rt.block_on(start(dir, "latency", &["c1", "c2", "c3"]))?;
        let addrs = nodes
            .iter()
            .map(chat_addr)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let r = clients_rt.block_on(latency(&addrs, b.broadcast, 100));
        nodes_rt.block_on(convene_node::stop_all(nodes));
        let mut samples = r?;
        samples.sort_unstable();
        let q = |q| quantile(&samples, q).unwrap_or_default() as f64 / 1000.0;
        println!(
            "broadcast: {} clients over 3 nodes, {} deliveries: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            b.broadcast,
            samples.len(),
            q(0.5),
            q(0.95),
            q(0.99),
            q(1.0)
        );
    }
    if b.web_broadcast >= 6 {
        let (_, nodes) = nodes_rt.block_on(start_with(
            dir,
            "web",
            &["w1", "w2", "w3"],
            "http_port = 0\n",
        ))?;
        let webs = nodes
            .iter()
            .map(|n| n.http_addr().context("the node has no web front"))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let r = clients_rt.block_on(web_latency(&webs, b.web_broadcast, 100));
        nodes_rt.block_on(convene_node::stop_all(nodes));
        let mut samples = r?;
        samples.sort_unstable();
        let q = |q| quantile(&samples, q).unwrap_or_default() as f64 / 1000.0;
        println!(
            "browser broadcast: {} WebSocket clients (/api/chat) over 3 web fronts, {} deliveries: p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            b.web_broadcast,
            samples.len(),
            q(0.5),
            q(0.95),
            q(0.99),
            q(1.0)
        );
    }
    if b.failovers > 0 {
        let times = nodes_rt.block_on(failover(dir, b.failovers))?;
        let ms: Vec<String> = times
            .iter()
            .map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0))
            .collect();
        let worst = times.iter().max().copied().unwrap_or_default();
        println!(
            "failover (default timings): {} runs, ms until both live nodes name the new coordinator: {} (worst {:.2} s)",
            times.len(),
            ms.join(", "),
            worst.as_secs_f64()
        );
    }
    if b.idle > 0 {
        let (connections, per) = clients_rt.block_on(idle_memory(dir, b.idle))?;
        println!(
            "idle connections: {connections} on one node process, {:.1} KB resident per connection",
            per / 1000.0
        );
    }
    Ok(())
}

/// The load generator opens every connection from one address, so the
/// benchmark's cluster files lift the per-address and total caps a real
/// cluster keeps (`[limits]`, 256 and 4,096 by default), for chat's port
/// and the web fronts (whose WebSockets hold their connection's place).
const BENCH_LIMITS: &str = "[limits]\nchat_connections = 1000000\nchat_connections_per_ip = 1000000\n\
     http_connections = 1000000\nhttp_connections_per_ip = 1000000\n";

/// Starts chat-only nodes `ids` (port 0), the benchmark's limits appended.
async fn start(
    dir: &Path,
    name: &str,
    ids: &[&str],
) -> anyhow::Result<(Arc<ClusterConfig>, Vec<RunningNode>)> {
    start_with(dir, name, ids, "").await
}

/// As [`start`], each node's section ending with `extra`.
async fn start_with(
    dir: &Path,
    name: &str,
    ids: &[&str],
    extra: &str,
) -> anyhow::Result<(Arc<ClusterConfig>, Vec<RunningNode>)> {
    let mut toml = format!("database_url = \"sqlite://{name}.db\"\n");
    for id in ids {
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = 0\nchat_port = 0\ndata_dir = \"{name}-{id}\"\n{extra}"
        ));
    }
    toml.push_str(BENCH_LIMITS);
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml)?;
    let cluster = convene_node::load_cluster(&path)?;
    let screen = Screen::discard();
    Ok(convene_node::start_all(cluster, |_| screen.clone()).await?)
}

fn chat_addr(node: &RunningNode) -> anyhow::Result<SocketAddr> {
    node.chat_addr().context("the node has no chat port")
}

/// Connects and logs in as `identity`, retrying while no coordinator has
/// been elected yet (the claim is then refused after a while).
async fn login(
    addr: SocketAddr,
    identity: &str,
) -> anyhow::Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf)> {
    tokio::time::timeout(Duration::from_secs(30), login_once(addr, identity))
        .await
        .with_context(|| format!("{identity}: no answer from {addr} within 30 s"))?
}

async fn login_once(
    addr: SocketAddr,
    identity: &str,
) -> anyhow::Result<(BufReader<OwnedReadHalf>, OwnedWriteHalf)> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(format!("{{\"type\":\"newidentity\",\"identity\":\"{identity}\"}}\n").as_bytes())
        .await?;
    let mut line = String::new();
    read.read_line(&mut line).await?;
    if !line.contains("\"approved\":\"true\"") {
        bail!("{identity} refused: {line}");
    }
    // Its own arrival in the MainHall (others' arrivals may come first).
    let own = format!("\"identity\":\"{identity}\"");
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            bail!("{identity}: connection closed while logging in");
        }
        if line.contains(&own) {
            return Ok((read, write));
        }
    }
}

/// Logs `n` clients into `addr`, `prefix0`, `prefix1`, ...
async fn crowd(
    addr: SocketAddr,
    prefix: &str,
    n: usize,
) -> anyhow::Result<Vec<(BufReader<OwnedReadHalf>, OwnedWriteHalf)>> {
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        clients.push(login(addr, &format!("{prefix}{i}")).await?);
    }
    Ok(clients)
}

/// Counts the lines `read` receives into `counter`, for ever.
async fn count_lines(mut read: BufReader<OwnedReadHalf>, counter: Arc<AtomicU64>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match read.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let lines = buf[..n].iter().filter(|&&b| b == b'\n').count();
                counter.fetch_add(lines as u64, Ordering::Relaxed);
            }
        }
    }
}

async fn fanout(addr: SocketAddr, n: usize, duration: Duration) -> anyhow::Result<(u64, f64)> {
    let clients = crowd(addr, "Fan", n).await?;
    let received = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();
    for (read, write) in clients {
        tokio::spawn(count_lines(read, received.clone()));
        writers.push(write);
    }
    // Let the arrivals' roomchanges drain before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let base = received.load(Ordering::Relaxed);
    let sent = Arc::new(AtomicU64::new(0));
    let per_message = (n - 1) as u64;
    let start = Instant::now();
    let deadline = start + duration;
    let mut senders = Vec::new();
    // Only four talk, but the others' write halves must stay open until the
    // end: dropping one shuts its socket's sending side, which the server
    // rightly takes for the client leaving.
    let mut talkers = writers;
    let listeners = talkers.split_off(4.min(n));
    for mut write in talkers {
        let (sent, received) = (sent.clone(), received.clone());
        senders.push(tokio::spawn(async move {
            let batch: Vec<u8> = "{\"type\":\"message\",\"content\":\"hello, everyone\"}\n"
                .repeat(16)
                .into_bytes();
            while Instant::now() < deadline {
                let behind = (sent.load(Ordering::Relaxed) * per_message)
                    .saturating_sub(received.load(Ordering::Relaxed) - base);
                if behind > WINDOW * per_message {
                    // A timer, not `yield_now`: a task that only yields can
                    // keep a single-threaded runtime from polling its
                    // sockets, starving the very readers it waits for.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    continue;
                }
                if write.write_all(&batch).await.is_err() {
                    return;
                }
                sent.fetch_add(16, Ordering::Relaxed);
            }
        }));
    }
    for s in senders {
        let _ = s.await;
    }
    let elapsed = start.elapsed();
    drop(listeners);
    let delivered = received.load(Ordering::Relaxed) - base;
    Ok((delivered, delivered as f64 / elapsed.as_secs_f64()))
}

/// Broadcast latencies in microseconds.
async fn latency(addrs: &[SocketAddr], n: usize, rounds: usize) -> anyhow::Result<Vec<u64>> {
    let epoch = Instant::now();
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    // Kept open until the end (see `fanout`).
    let mut listeners = Vec::new();
    let per_node = n / addrs.len();
    for (k, addr) in addrs.iter().enumerate() {
        let clients = crowd(*addr, &format!("N{k}x"), per_node).await?;
        for (i, (read, write)) in clients.into_iter().enumerate() {
            if i == 0 {
                senders.push(write);
            } else {
                listeners.push(write);
            }
            tokio::spawn(record_latency(read, epoch, samples.clone()));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..rounds {
        for write in &mut senders {
            let at = epoch.elapsed().as_micros();
            let line = format!("{{\"type\":\"message\",\"content\":\"{at}\"}}\n");
            write.write_all(line.as_bytes()).await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(listeners);
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(samples)
}

/// As [`latency`], with browser-protocol clients: WebSockets to each web
/// front's `/api/chat`, logged in as one account per front.
async fn web_latency(webs: &[SocketAddr], n: usize, rounds: usize) -> anyhow::Result<Vec<u64>> {
    let epoch = Instant::now();
    let samples = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut senders = Vec::new();
    let mut listeners = Vec::new();
    let per_node = n / webs.len();
    for (k, web) in webs.iter().enumerate() {
        let cookie = web_session(*web, &format!("bench{k}")).await?;
        for i in 0..per_node {
            let identity = format!("W{k}x{i}");
            let (mut read, mut write) =
                convene_web::client::websocket::connect(*web, "/api/chat", &cookie).await?;
            write
                .send_text(&format!(
                    "{{\"type\":\"newidentity\",\"identity\":\"{identity}\"}}"
                ))
                .await?;
            let own = format!("\"identity\":\"{identity}\"");
            loop {
                let text = read
                    .next_text(Some(&mut write))
                    .await?
                    .with_context(|| format!("{identity}: closed while logging in"))?;
                if text.contains("\"approved\":\"false\"") {
                    bail!("{identity} refused: {text}");
                }
                if text.contains("roomchange") && text.contains(&own) {
                    break;
                }
            }
            let samples = samples.clone();
            tokio::spawn(async move {
                while let Ok(Some(text)) = read.next_text(None).await {
                    record(&text, epoch, &samples);
                }
            });
            if i == 0 {
                senders.push(write);
            } else {
                listeners.push(write);
            }
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..rounds {
        for write in &mut senders {
            let at = epoch.elapsed().as_micros();
            write
                .send_text(&format!("{{\"type\":\"message\",\"content\":\"{at}\"}}"))
                .await?;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(listeners);
    let samples = std::mem::take(&mut *samples.lock().unwrap_or_else(|e| e.into_inner()));
    Ok(samples)
}

/// Registers and logs in `name` on the web front `web`; its session cookie.
async fn web_session(web: SocketAddr, name: &str) -> anyhow::Result<String> {
    let mut client = convene_web::client::HttpClient::new(web);
    let body = serde_json::json!({"username": name, "password": "bench-password"});
    let r = client.post_json("/api/register", &body).await?;
    if r.status != 201 {
        bail!("registering {name}: {} {}", r.status, r.text());
    }
    let r = client.post_json("/api/login", &body).await?;
    if r.status != 200 {
        bail!("logging in {name}: {} {}", r.status, r.text());
    }
    let token = client
        .cookie("convene_session")
        .context("no session cookie")?;
    Ok(format!("convene_session={token}"))
}

/// Records the latency of a broadcast line whose content is its send time.
fn record(line: &str, epoch: Instant, samples: &std::sync::Mutex<Vec<u64>>) {
    let Some(rest) = line.split("\"content\":\"").nth(1) else {
        return;
    };
    let sent: Option<u128> = rest.split('"').next().and_then(|t| t.parse().ok());
    if let Some(sent) = sent {
        let took = epoch.elapsed().as_micros().saturating_sub(sent) as u64;
        samples.lock().unwrap_or_else(|e| e.into_inner()).push(took);
    }
}

async fn record_latency(
    mut read: BufReader<OwnedReadHalf>,
    epoch: Instant,
    samples: Arc<std::sync::Mutex<Vec<u64>>>,
) {
    let mut line = String::new();
    loop {
        line.clear();
        match read.read_line(&mut line).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        record(&line, epoch, &samples);
    }
}

/// Stops the coordinator of three nodes `runs` times; how long until both
/// others agree on the next.
async fn failover(dir: &Path, runs: usize) -> anyhow::Result<Vec<Duration>> {
    let (cluster, nodes) = start(dir, "failover", &["f1", "f2", "f3"]).await?;
    let mut nodes: Vec<Option<RunningNode>> = nodes.into_iter().map(Some).collect();
    let mut times = Vec::new();
    for _ in 0..runs {
        agree(&nodes, 2).await?;
        let Some(top) = nodes[2].take() else {
            bail!("f3 missing")
        };
        let stopped = Instant::now();
        top.stop().await;
        agree(&nodes, 1).await?;
        times.push(stopped.elapsed());
        let sockets = convene_node::bind_node(&cluster.nodes[2]).await?;
        nodes[2] =
            Some(convene_node::start(cluster.clone(), "f3", sockets, Screen::discard()).await?);
    }
    convene_node::stop_all(nodes.into_iter().flatten().collect()).await;
    Ok(times)
}

/// Waits until every running node names node `coordinator`.
async fn agree(nodes: &[Option<RunningNode>], coordinator: usize) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let all = nodes
            .iter()
            .flatten()
            .all(|n| *n.membership().coordinator().borrow() == Some(coordinator));
        if all {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("no agreement on node {coordinator} within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Resident memory growth of a node process per idle connection (bytes).
async fn idle_memory(dir: &Path, n: usize) -> anyhow::Result<(usize, f64)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = dir.join("idle.toml");
    std::fs::write(
        &config,
        format!(
            "[[node]]\nid = \"c1\"\nhost = \"127.0.0.1\"\npeer_port = 0\nchat_port = {port}\ndata_dir = \"idle\"\n{BENCH_LIMITS}"
        ),
    )?;
    let child = Command::new(std::env::current_exe()?)
        .args(["node", "--config"])
        .arg(&config)
        .args(["--id", "c1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let child = ChildGuard(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    // The first login waits out the election of the only node.
    let deadline = Instant::now() + Duration::from_secs(20);
    let first = loop {
        match login(addr, "Idle0").await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => return Err(e),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    drop(first);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss(child.0.id())?;
    let mut clients = Vec::with_capacity(n);
    for i in 1..=n {
        let (mut read, mut write) = login(addr, &format!("Idle{i}")).await?;
        // A room of its own, so arrivals are not broadcast to everyone.
        write
            .write_all(format!("{{\"type\":\"createroom\",\"roomid\":\"room{i}\"}}\n").as_bytes())
            .await?;
        let mut line = String::new();
        for _ in 0..2 {
            line.clear();
            read.read_line(&mut line).await?;
        }
        clients.push((read, write));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = rss(child.0.id())?;
    drop(clients);
    Ok((n, (after.saturating_sub(before)) as f64 / n as f64))
}

struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
