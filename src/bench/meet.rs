//! `convene bench meet`: clients -> main -> two backends, end to end.
//!
//! The cluster (a main node and two backends) runs in this process on its own
//! two-worker runtime, on loopback with ports chosen by the OS, printing its
//! on-screen lines into a sink (the cost of formatting and queueing them is
//! measured, the terminal is not). The clients run on a separate
//! single-threaded runtime: each holds one TCP connection and sends queries
//! of 2 to 10 random names from both backends back to back.
//!
//! Backend memory is measured apart, on real processes: a backend node is
//! started as a child with the full file and again with an empty one, and
//! the difference in resident memory is divided by the number of intervals.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use convene_cluster::Screen;
use convene_rpc::SplitMix64;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;

use super::data::{name, random_list};
use super::stats::{machine, quantile};

/// Intervals per generated user (EE450 allows 1 to 10).
const INTERVALS_PER_USER: usize = 5;

pub fn run(users: usize, clients: &[usize], seconds: f64, memory: bool) -> anyhow::Result<()> {
    let dir = BenchDir::new()?;
    println!(
        "meet end to end: main + 2 backends, {users} users per backend, {INTERVALS_PER_USER} intervals per user"
    );
    println!("machine: {}", machine());
    let a = write_availability(&dir.0.join("a.txt"), 'a', users)?;
    write_availability(&dir.0.join("b.txt"), 'b', users)?;
    let intervals = a;

    let cluster_file = dir.0.join("cluster.toml");
    std::fs::write(
        &cluster_file,
        "[[node]]\nid = \"M\"\nhost = \"127.0.0.1\"\npeer_port = 0\nclient_port = 0\n\
         [[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\n[node.meet]\navailability = \"a.txt\"\n\
         [[node]]\nid = \"B\"\nhost = \"127.0.0.1\"\npeer_port = 0\n[node.meet]\navailability = \"b.txt\"\n",
    )?;
    let cluster = convene_node::load_cluster(&cluster_file)?;
    let servers = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (nodes, main_addr) = servers.block_on(async {
        let screen = Screen::writer(std::io::sink());
        let (_, nodes) = convene_node::start_all(cluster, |_| screen.clone()).await?;
        let main_addr = nodes[0].client_addr().context("main has a client port")?;
        let t = Instant::now();
        while nodes[0].meet().known_users() < 2 * users {
            if t.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the main node learnt only {} users in 60 s",
                    nodes[0].meet().known_users()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        println!(
            "directory ready: {} users in {:.2} s",
            2 * users,
            t.elapsed().as_secs_f64()
        );
        anyhow::Ok((nodes, main_addr))
    })?;

    println!(
        "{:>8} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "clients", "queries", "queries/s", "p50 µs", "p99 µs", "errors"
    );
    let load = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for &n in clients {
        let r = load.block_on(drive(main_addr, n, users, Duration::from_secs_f64(seconds)))?;
        println!(
            "{:>8} {:>10} {:>12.0} {:>10} {:>10} {:>10}",
            n, r.queries, r.rate, r.p50_us, r.p99_us, r.errors
        );
    }
    servers.block_on(convene_node::stop_all(nodes));

    if memory {
        let full = backend_rss(&dir.0, "a.txt")?;
        std::fs::write(dir.0.join("empty.txt"), "")?;
        let empty = backend_rss(&dir.0, "empty.txt")?;
        let per = (full.saturating_sub(empty)) as f64 / intervals as f64;
        println!(
            "backend memory: {} KiB resident with {users} users / {intervals} intervals, {} KiB empty: {per:.1} bytes per stored interval",
            full / 1024,
            empty / 1024
        );
    }
    Ok(())
}

struct LoadResult {
    queries: usize,
    rate: f64,
    p50_us: u64,
    p99_us: u64,
    errors: usize,
}

async fn drive(
    server: std::net::SocketAddr,
    clients: usize,
    users: usize,
    duration: Duration,
) -> anyhow::Result<LoadResult> {
    let start = Instant::now();
    let deadline = start + duration;
    let mut tasks = Vec::new();
    for c in 0..clients {
        tasks.push(tokio::spawn(one_client(server, users, deadline, c as u64)));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await?);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut latencies: Vec<u64> = Vec::new();
    let mut errors = 0;
    for r in results {
        let (lat, err) = r?;
        latencies.extend(lat);
        errors += err;
    }
    latencies.sort_unstable();
    Ok(LoadResult {
        queries: latencies.len(),
        rate: latencies.len() as f64 / elapsed,
        p50_us: quantile(&latencies, 0.5).unwrap_or(0),
        p99_us: quantile(&latencies, 0.99).unwrap_or(0),
        errors,
    })
}

async fn one_client(
    server: std::net::SocketAddr,
    users: usize,
    deadline: Instant,
    seed: u64,
) -> anyhow::Result<(Vec<u64>, usize)> {
    let stream = TcpStream::connect(server).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = AsyncBufReader::new(read);
    let mut rng = SplitMix64::new(0xbe7c4 ^ seed);
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut request = String::new();
    let mut reply = String::new();
    while Instant::now() < deadline {
        request.clear();
        request.push_str("query");
        let k = 2 + (rng.next_u64() % 9) as usize;
        for i in 0..k {
            let prefix = if i % 2 == 0 { 'a' } else { 'b' };
            let _ = write!(
                request,
                " {}",
                name(prefix, (rng.next_u64() % users as u64) as usize)
            );
        }
        request.push('\n');
        let t = Instant::now();
        write.write_all(request.as_bytes()).await?;
        reply.clear();
        if read.read_line(&mut reply).await? == 0 {
            bail!("the main node closed a connection");
        }
        latencies.push(t.elapsed().as_micros() as u64);
        if !reply.starts_with("result") {
            errors += 1;
        }
    }
    Ok((latencies, errors))
}

/// Writes a backend file; returns the number of intervals.
fn write_availability(path: &Path, prefix: char, users: usize) -> anyhow::Result<usize> {
    let mut rng = SplitMix64::new(prefix as u64);
    let mut text = String::with_capacity(users * 64);
    let mut intervals = 0;
    for i in 0..users {
        // Short gaps and long intervals, so random groups often share time.
        let list = random_list(&mut rng, INTERVALS_PER_USER, 10, 40);
        intervals += list.len();
        let _ = writeln!(text, "{};{}", name(prefix, i), list);
    }
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(intervals)
}

/// Resident memory (bytes) of a backend node process serving `file`, once it
/// is up.
fn backend_rss(dir: &Path, file: &str) -> anyhow::Result<u64> {
    let config = dir.join(format!("memory-{file}.toml"));
    std::fs::write(
        &config,
        format!(
            // M is never started: a backend needs a main node in its cluster file.
            "[[node]]\nid = \"M\"\nhost = \"127.0.0.1\"\npeer_port = 0\nclient_port = 0\n\
             [[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\ndata_dir = \"mem-{file}\"\n[node.meet]\navailability = \"{file}\"\n"
        ),
    )?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["node", "--config"])
        .arg(&config)
        .args(["--id", "A"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("child stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let up = lines.any(|l| l.is_ok_and(|l| l.contains("is up and running")));
    // Let allocations settle before reading.
    std::thread::sleep(Duration::from_millis(300));
    let resident = super::stats::rss(child.id());
    let _ = child.kill();
    let _ = child.wait();
    if !up {
        bail!("the backend node did not start");
    }
    resident
}

/// A scratch directory removed when the benchmark ends.
struct BenchDir(PathBuf);

impl BenchDir {
    fn new() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!("convene-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(BenchDir(dir))
    }
}

impl Drop for BenchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
