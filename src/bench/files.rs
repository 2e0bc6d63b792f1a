//! `convene bench files`: the files service's propagation latency, large
//! file throughput and start-up reconciliation time.
//!
//! Two files nodes run in this process (a 2-worker runtime), each sharing a
//! folder under a scratch directory. The load is made by writing to the
//! folders directly, as any program would, and timed by polling the other
//! folder (every millisecond) until the change is there, whole.
//!
//! - **Propagation:** `--changes` small files created on A, then each
//!   modified, then each deleted, one at a time; the delay until B's folder
//!   shows it (p50, p99 per kind).
//! - **Large file:** one file of `--large-mib` MiB created on A; MB/s until
//!   B has it whole, and the process's peak resident memory growth.
//! - **Reconcile:** `--reconcile` small files on A before either node
//!   starts; the time from starting both until B has them all.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use convene_cluster::{ClusterConfig, Screen};

use super::stats::{machine, quantile, rss};

pub struct FilesBench {
    pub changes: usize,
    pub large_mib: usize,
    pub reconcile: usize,
}

pub fn run(b: &FilesBench) -> anyhow::Result<()> {
    println!("files service on loopback; machine: {}", machine());
    let dir = std::env::temp_dir().join(format!("convene-bench-files-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, b);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_in(dir: &Path, b: &FilesBench) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if b.changes > 0 || b.large_mib > 0 {
        let (a, bdir) = folders(dir, "live")?;
        let (_, nodes) = rt.block_on(start(dir, "live"))?;
        if b.changes > 0 {
            propagation(&a, &bdir, b.changes)?;
        }
        if b.large_mib > 0 {
            large(&a, &bdir, b.large_mib)?;
        }
        rt.block_on(convene_node::stop_all(nodes));
    }
    if b.reconcile > 0 {
        let (a, bdir) = folders(dir, "reconcile")?;
        for i in 0..b.reconcile {
            std::fs::write(a.join(format!("f{i:06}.txt")), format!("file {i}"))?;
        }
        let started = Instant::now();
        let (_, nodes) = rt.block_on(start(dir, "reconcile"))?;
        wait_until(Duration::from_secs(600), || {
            count_files(&bdir) >= b.reconcile
        })?;
        let took = started.elapsed();
        rt.block_on(convene_node::stop_all(nodes));
        println!(
            "reconcile: {} files only on A at start, on B after {:.2} s",
            b.reconcile,
            took.as_secs_f64()
        );
    }
    Ok(())
}

fn folders(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, PathBuf)> {
    let (a, b) = (dir.join(format!("{name}-a")), dir.join(format!("{name}-b")));
    std::fs::create_dir_all(&a)?;
    std::fs::create_dir_all(&b)?;
    Ok((a, b))
}

async fn start(
    dir: &Path,
    name: &str,
) -> anyhow::Result<(
    std::sync::Arc<ClusterConfig>,
    Vec<convene_node::RunningNode>,
)> {
    let mut toml = String::new();
    for id in ["A", "B"] {
        toml.push_str(&format!(
            "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = 0\ndata_dir = \"{name}-data-{id}\"\n\
             [node.files]\ndir = \"{name}-{}\"\n",
            id.to_lowercase()
        ));
    }
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, toml)?;
    let cluster = convene_node::load_cluster(&path)?;
    let screen = Screen::discard();
    Ok(convene_node::start_all(cluster, |_| screen.clone()).await?)
}

fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while !done() {
        if Instant::now() > deadline {
            bail!("not synchronized within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| {
        entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with(".convene-"))
            .count()
    })
}

fn propagation(a: &Path, b: &Path, n: usize) -> anyhow::Result<()> {
    let limit = Duration::from_secs(10);
    let mut created = Vec::with_capacity(n);
    let mut modified = Vec::with_capacity(n);
    let mut deleted = Vec::with_capacity(n);
    for i in 0..n {
        let name = format!("p{i:04}.txt");
        let started = Instant::now();
        std::fs::write(a.join(&name), b"created")?;
        wait_until(limit, || {
            std::fs::read(b.join(&name)).is_ok_and(|c| c == b"created")
        })?;
        created.push(started.elapsed());
    }
    // Edits with a distinct size, so a poll never mistakes the old content.
    for i in 0..n {
        let name = format!("p{i:04}.txt");
        let started = Instant::now();
        std::fs::write(a.join(&name), b"modified!")?;
        wait_until(limit, || {
            std::fs::read(b.join(&name)).is_ok_and(|c| c == b"modified!")
        })?;
        modified.push(started.elapsed());
    }
    for i in 0..n {
        let name = format!("p{i:04}.txt");
        let started = Instant::now();
        std::fs::remove_file(a.join(&name))?;
        wait_until(limit, || !b.join(&name).exists())?;
        deleted.push(started.elapsed());
    }
    for (kind, mut samples) in [
        ("create", created),
        ("modify", modified),
        ("delete", deleted),
    ] {
        samples.sort_unstable();
        let ms = |q| quantile(&samples, q).unwrap_or_default().as_secs_f64() * 1000.0;
        println!(
            "propagation, {kind}: {n} changes, p50 {:.0} ms, p99 {:.0} ms",
            ms(0.5),
            ms(0.99)
        );
    }
    Ok(())
}

fn large(a: &Path, b: &Path, mib: usize) -> anyhow::Result<()> {
    let before = rss(std::process::id())?;
    let size = mib * 1024 * 1024;
    // Written whole, then moved in, so the watcher sees one finished file.
    let staging = a.join(".convene-bench-staging");
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&staging)?;
        let block: Vec<u8> = (0..1024 * 1024).map(|i| (i % 251) as u8).collect();
        for _ in 0..mib {
            file.write_all(&block)?;
        }
        file.sync_all()?;
    }
    let started = Instant::now();
    std::fs::rename(&staging, a.join("large.bin")).context("moving the large file in")?;
    let mut peak = before;
    wait_until(Duration::from_secs(600), || {
        peak = peak.max(rss(std::process::id()).unwrap_or(0));
        std::fs::metadata(b.join("large.bin")).is_ok_and(|m| m.len() == size as u64)
    })?;
    let took = started.elapsed().as_secs_f64();
    println!(
        "large file: {mib} MiB in {took:.2} s, {:.0} MB/s; resident memory grew by {:.1} MiB at most",
        size as f64 / took / 1e6,
        peak.saturating_sub(before) as f64 / (1024.0 * 1024.0)
    );
    Ok(())
}
