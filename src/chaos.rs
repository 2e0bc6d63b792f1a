//! `convene chaos`: a cluster of its own under a mixed workload while a
//! seeded schedule kills nodes with `kill -9` and restarts them, and cuts
//! minorities off the network and heals them; then checks what the clients
//! were told against what the cluster holds.
//!
//! The nodes are `convene node` processes in network namespaces
//! (`convene_netns`, needs root and `ip`); elsewhere on loopback, where
//! there are kills but no partitions (it says so). The schedule is a pure
//! function of the seed (`schedule::schedule`), printed as it runs: the
//! same seed replays it. The workload's timing depends on the machine, so
//! a replay exercises the same faults, not the same requests.
//!
//! Checked (each in its module), once every fault has ended:
//! - bookings, through the seed's UDP protocol under at-most-once
//!   (`booking`): every acknowledged booking present, once, where its
//!   history puts it, and no request executed twice;
//! - chat, through the course protocol (`chat`): no identity or room held
//!   by two clients at once;
//! - files, in the nodes' shared folders (`files`): every acknowledged edit
//!   that no later edit replaced knowingly is in every folder, as the file
//!   or a conflict copy;
//! - events, through the web front's JSON API (`events`): every event final,
//!   with one result on every front, counting every acknowledged answer.
//!
//! Not covered: file locks and their held updates, the meet service, and
//! lossy links other than the booking front doors' own loss injection
//! (this kernel has no `netem`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

mod booking;
mod chat;
mod cluster;
mod events;
mod files;
mod rng;
mod schedule;

use cluster::{Hosts, Node};
use rng::Rng;
use schedule::{Action, node_name};

/// `convene chaos`'s options.
#[derive(clap::Args)]
pub struct ChaosArgs {
    /// How long the faults and the workload last.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The schedule's seed (default: from the clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
    /// Nodes in the cluster (3 to 7); at most a minority is faulty at once.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(3..=7))]
    nodes: u64,
    /// Run on loopback even where network namespaces can be made (kills only).
    #[arg(long)]
    loopback: bool,
    /// The booking front doors' own loss injection: the probability that a
    /// request, and that a reply, is dropped.
    #[arg(long, default_value_t = 0.02)]
    loss: f64,
    /// Keep the cluster's files (config, logs, history) in DIR (default: a
    /// temporary folder, kept only when a check fails).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Booking workers (each a seed client, one request at a time).
const BOOKING_WORKERS: usize = 4;
/// Chat clients.
const CHAT_CLIENTS: usize = 6;

/// Runs the chaos test; exits nonzero when a check fails.
pub fn run(args: ChaosArgs) -> anyhow::Result<ExitCode> {
    let seed = args.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64 % 1_000_000_000)
            .unwrap_or(1)
    });
    if !(0.0..=0.5).contains(&args.loss) {
        anyhow::bail!("--loss {} must be between 0 and 0.5", args.loss);
    }
    let nodes = args.nodes as usize;
    println!(
        "chaos: seed {seed}, {} s, {nodes} nodes (replay with --seed {seed})",
        args.seconds
    );
    let (hosts, how) = Hosts::new(nodes, args.loopback);
    if hosts.partitions() {
        println!("cluster: {how}; faults: kill -9 and restart, cut off and heal");
    } else {
        println!("cluster: {how}; faults: kill -9 and restart only (no partitions)");
    }
    let temp = match &args.dir {
        Some(_) => None,
        None => Some(tempfile::tempdir()?),
    };
    let dir: PathBuf = match (&args.dir, &temp) {
        (Some(d), _) => {
            std::fs::create_dir_all(d)?;
            d.clone()
        }
        (None, Some(t)) => t.path().to_path_buf(),
        (None, None) => unreachable!(),
    };
    let failed = run_in(&dir, &hosts, nodes, seed, &args)?;
    println!("the run's files (config, logs, history): {}", dir.display());
    if let Some(temp) = temp
        && failed
    {
        let kept = temp.keep();
        println!("kept {} (a check failed)", kept.display());
    }
    Ok(if failed {
        println!("chaos: FAILED (seed {seed})");
        ExitCode::FAILURE
    } else {
        println!("chaos: every check passed (seed {seed})");
        ExitCode::SUCCESS
    })
}

/// Starts the cluster in `dir`, runs the workload and the schedule, checks.
/// `Ok(true)` when a check failed.
fn run_in(
    dir: &Path,
    hosts: &Hosts,
    nodes: usize,
    seed: u64,
    args: &ChaosArgs,
) -> anyhow::Result<bool> {
    let config = cluster::write_config(dir, hosts, nodes, args.loss, seed)?;
    let mut procs: Vec<Node> = (0..nodes).map(Node::new).collect();
    for node in &mut procs {
        node.spawn(hosts, dir, &config)?;
    }
    for node in &mut procs {
        node.wait_started(dir, Duration::from_secs(30))?;
    }
    let facilities: Vec<String> = (0..nodes).flat_map(cluster::facilities).collect();
    let fronts: Vec<_> = (0..nodes)
        .map(|i| cluster::booking_addr(hosts, i))
        .collect();
    let servers: Vec<_> = (0..nodes)
        .map(|i| (node_name(i), cluster::chat_addr(hosts, i)))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    wait_ready(&runtime, &servers).context("the cluster did not become ready")?;
    let names: Vec<String> = (0..nodes).map(node_name).collect();
    let folders: Vec<PathBuf> = names.iter().map(|n| dir.join(files::folder(n))).collect();
    files::prepare(&folders, Duration::from_secs(30))?;
    let webs: Vec<_> = (0..nodes).map(|i| cluster::http_addr(hosts, i)).collect();
    runtime.block_on(events::prepare(&webs))?;

    // Ctrl-C or SIGTERM ends the run early, but through the normal way
    // out, so the nodes are killed and the namespaces deleted.
    let interrupted = Arc::new(AtomicBool::new(false));
    runtime.spawn({
        let interrupted = interrupted.clone();
        async move {
            crate::cli::stop_signal().await;
            interrupted.store(true, Ordering::Relaxed);
        }
    });
    let steps = schedule::schedule(seed, args.seconds, nodes, hosts.partitions());
    let mut rng = Rng::new(seed ^ 0x5EED_F00D);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let booking_workers: Vec<_> = (0..BOOKING_WORKERS)
        .map(|w| {
            let (facilities, fronts, rng, stop) =
                (facilities.clone(), fronts.clone(), rng.fork(), stop.clone());
            std::thread::spawn(move || {
                booking::worker(w, BOOKING_WORKERS, facilities, fronts, rng, stop, started)
            })
        })
        .collect();
    let chat_clients: Vec<_> = (0..CHAT_CLIENTS)
        .map(|c| {
            runtime.spawn(chat::client(
                c,
                CHAT_CLIENTS,
                servers.clone(),
                rng.fork(),
                stop.clone(),
                started,
            ))
        })
        .collect();

    let files_worker = {
        let (folders, names, rng, stop) =
            (folders.clone(), names.clone(), rng.fork(), stop.clone());
        std::thread::spawn(move || files::worker(folders, names, rng, stop))
    };

    let events_worker = runtime.spawn(events::worker(webs.clone(), rng.fork(), stop.clone()));

    let mut history = String::new();
    for step in &steps {
        let wait = step.at.saturating_sub(started.elapsed());
        sleep_unless(wait, &interrupted)?;
        let at = started.elapsed().as_secs_f64();
        let line = format!("t={at:6.1} s  {}", step.action);
        println!("{line}");
        history.push_str(&line);
        history.push('\n');
        match step.action {
            Action::Kill(n) => procs[n].kill(),
            Action::Restart(n) => {
                procs[n].spawn(hosts, dir, &config)?;
                procs[n].wait_started(dir, Duration::from_secs(30))?;
            }
            Action::Cut(n) => hosts.set_cut(n, true)?,
            Action::Heal(n) => hosts.set_cut(n, false)?,
        }
    }
    sleep_unless(
        Duration::from_secs(args.seconds).saturating_sub(started.elapsed()),
        &interrupted,
    )?;
    stop.store(true, Ordering::Relaxed);
    println!(
        "t={:6.1} s  workload stopped; every node up and connected; checking",
        started.elapsed().as_secs_f64()
    );
    let booking_results: Vec<_> = booking_workers
        .into_iter()
        .map(|w| w.join().expect("a booking worker panicked"))
        .collect();
    let chat_tallies: Vec<chat::Tally> = runtime.block_on(async {
        let mut all = Vec::new();
        for c in chat_clients {
            all.push(c.await.expect("a chat client panicked"));
        }
        all
    });

    let files_tally = files_worker.join().expect("the files worker panicked");

    let (tally, checked) = booking::check(
        booking_results,
        &facilities,
        &fronts,
        Duration::from_secs(30),
    );
    let mut failed = false;
    println!(
        "booking: {} books, {} changes, {} cancels sent; {} / {} / {} acknowledged; \
         {} without a clear answer; {} retried",
        tally.sent[0],
        tally.sent[1],
        tally.sent[2],
        tally.acknowledged[0],
        tally.acknowledged[1],
        tally.acknowledged[2],
        tally.uncertain,
        tally.retried,
    );
    println!(
        "booking check: {} windows of {} facilities; {} acknowledged bookings present once where \
         acknowledged, {} acknowledged cancels absent, {} unclear windows in a state their history \
         allows, {} unused windows empty; executed twice: {}; wrong: {}",
        checked.windows,
        facilities.len(),
        checked.present,
        checked.cancelled_absent,
        checked.uncertain_ok,
        checked.untouched,
        tally.violations.len(),
        checked.violations.len(),
    );
    for v in tally.violations.iter().chain(&checked.violations) {
        println!("  FAILED: {v}");
        failed = true;
    }

    let sum = |f: fn(&chat::Tally) -> u64| chat_tallies.iter().map(f).sum::<u64>();
    let overlaps = chat::overlaps(&chat_tallies);
    println!(
        "chat: {} logins: {} approved, {} refused, {} failed (no answer or connection lost); \
         {} rooms asked: {} created, {} refused; {} questions answered",
        sum(|t| t.logins[0]),
        sum(|t| t.logins[1]),
        sum(|t| t.logins[2]),
        sum(|t| t.logins[3]),
        sum(|t| t.rooms[0]),
        sum(|t| t.rooms[1]),
        sum(|t| t.rooms[2]),
        sum(|t| t.questions),
    );
    println!(
        "chat check: {} holdings of identities and rooms; held by two clients at once: {}",
        chat_tallies.iter().map(|t| t.held.len()).sum::<usize>(),
        overlaps.len()
    );
    for o in &overlaps {
        println!("  FAILED: {o}");
        failed = true;
    }
    let files_checked = files::check(&files_tally, &folders, &names, Duration::from_secs(90));
    println!(
        "files: {} edits of {} files acknowledged, {} failed, {} saved to a file a synced \
         version replaced while it was open",
        files_tally.edits.len(),
        files::FILES,
        files_tally.failed,
        files_tally.replaced_while_open
    );
    println!(
        "files check: folders {} after {:.1} s; {} acknowledged edits not replaced by a later one: \
         {} under the file's name, {} as a conflict copy ({} conflict copies in all); missing: {}",
        if files_checked.agreed {
            "agreed"
        } else {
            "did NOT agree"
        },
        files_checked.after.as_secs_f64(),
        files_checked.must_survive,
        files_checked.as_file,
        files_checked.as_conflict_copy,
        files_checked.conflict_copies,
        files_checked.violations.len(),
    );
    for v in &files_checked.violations {
        println!("  FAILED: {v}");
        failed = true;
    }
    let events_tally = runtime
        .block_on(events_worker)
        .expect("the events worker panicked");
    let events_checked =
        runtime.block_on(events::check(&events_tally, &webs, Duration::from_secs(60)));
    println!(
        "events: {} asked, {} created; answers: {} acknowledged, {} refused, {} without a clear answer",
        events_tally.asked,
        events_tally.created.len(),
        events_tally.answers[0],
        events_tally.answers[1],
        events_tally.answers[2],
    );
    println!(
        "events check: {} events final with one result on every front; {} acknowledged answers \
         counted; wrong: {}",
        events_checked.final_once,
        events_checked.counted,
        events_checked.violations.len(),
    );
    for v in &events_checked.violations {
        println!("  FAILED: {v}");
        failed = true;
    }
    // The rest of the history: what each workload recorded.
    let mut record = |title: &str, lines: Vec<String>| {
        history.push_str(&format!("\n# {title}\n"));
        for line in lines {
            history.push_str(&line);
            history.push('\n');
        }
    };
    record(
        "booking windows used (allowed states, found)",
        checked.history,
    );
    record(
        "chat holdings",
        chat_tallies
            .iter()
            .flat_map(|t| t.held.iter().map(|h| format!("{h:?}")))
            .collect(),
    );
    record(
        "file edits",
        files_tally.edits.iter().map(|e| format!("{e:?}")).collect(),
    );
    record(
        "events",
        events_tally
            .created
            .iter()
            .map(|e| format!("{e:?}"))
            .collect(),
    );
    std::fs::write(dir.join("history.txt"), history)?;
    drop(procs);
    Ok(failed)
}

/// Sleeps for `wait`, or until `interrupted`, which is an error.
fn sleep_unless(wait: Duration, interrupted: &AtomicBool) -> anyhow::Result<()> {
    let until = Instant::now() + wait;
    loop {
        if interrupted.load(Ordering::Relaxed) {
            anyhow::bail!("interrupted; the cluster is stopped and its namespaces removed");
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        std::thread::sleep(left.min(Duration::from_millis(100)));
    }
}

/// Waits (at most 30 s) until every chat server approves a first client:
/// a coordinator holds a majority's leases.
fn wait_ready(
    runtime: &tokio::runtime::Runtime,
    servers: &[(String, std::net::SocketAddr)],
) -> anyhow::Result<()> {
    runtime.block_on(async {
        for (i, (_, server)) in servers.iter().enumerate() {
            let name = format!("ready{i}");
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match convene_chat::client::ChatSession::login(
                    *server,
                    &name,
                    Duration::from_secs(5),
                )
                .await
                {
                    Ok(mut s) => {
                        let _ = s.send(&convene_chat::ClientMessage::Quit).await;
                        break;
                    }
                    Err(e) if Instant::now() > deadline => {
                        anyhow::bail!("node {}'s chat server: {e}", node_name(i))
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(300)).await,
                }
            }
        }
        Ok(())
    })
}
