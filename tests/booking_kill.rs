//! An acknowledged booking outlives `kill -9` of the node that owns it:
//! two `convene node` processes (a front door, and the owner of the
//! facility), a booking made with `convene book` through the front door,
//! the owner killed with SIGKILL the moment the confirmation is printed and
//! started again; the booking is still there, and can be cancelled once.
//!
//! A killed process loses what it had not handed to the operating system;
//! a power cut also loses what the system had not written to the disk. The
//! booking service answers only after its commit, and the store syncs every
//! commit (`synchronous = FULL`, checked by the store's own tests), so the
//! answer survives both.

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::util::{FAST_ELECTION, NodeProcess, convene};

const ROOM: &str = "Meeting Room A";

fn spawn(config: &Path, id: &str) -> NodeProcess {
    NodeProcess::start("--config", config, id, &[])
}

/// A free UDP port on loopback (the OS may hand it out again; the test
/// starts the cluster again if a node cannot bind).
fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// `convene book --server <server> <args>`, with short retries.
async fn book(server: &str, args: &[&str]) -> Output {
    let mut all: Vec<String> = [
        "book",
        "--server",
        server,
        "--timeout",
        "0.5",
        "--retries",
        "10",
    ]
    .map(String::from)
    .to_vec();
    all.extend(args.iter().map(|s| s.to_string()));
    tokio::task::spawn_blocking(move || convene().args(&all).output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Cluster {
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
    front: String,
    nodes: Vec<NodeProcess>,
}

/// A front door (F) and the owner of the room (O), both started; a node
/// that exits at start (a port taken meanwhile) means new ports.
async fn start() -> Cluster {
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let booking_port = free_udp_port();
        let toml = format!(
            "[[node]]\nid = \"F\"\nhost = \"127.0.0.1\"\npeer_port = {}\nbooking_port = {booking_port}\n\
             [[node]]\nid = \"O\"\nhost = \"127.0.0.1\"\npeer_port = {}\n\
             [node.booking]\nfacilities = [\"{ROOM}\"]\n{FAST_ELECTION}",
            free_udp_port(),
            free_udp_port(),
        );
        let config = dir.path().join("cluster.toml");
        std::fs::write(&config, toml).unwrap();
        let nodes = vec![spawn(&config, "F"), spawn(&config, "O")];
        let mut c = Cluster {
            dir,
            config,
            front: format!("127.0.0.1:{booking_port}"),
            nodes,
        };
        if started(&mut c, &["F", "O"]).await {
            return c;
        }
        eprintln!("starting again on other ports");
    }
    panic!("the node processes never started");
}

/// Waits until each of `ids` says it started; `false` if one exits first.
async fn started(c: &mut Cluster, ids: &[&str]) -> bool {
    let give_up = Instant::now() + Duration::from_secs(20);
    for id in ids {
        let i = if *id == "F" { 0 } else { 1 };
        loop {
            if log(c, id).contains("node started") {
                break;
            }
            if c.nodes[i].has_exited() {
                return false;
            }
            assert!(
                Instant::now() < give_up,
                "node {id} never started:\n{}",
                log(c, id)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    true
}

fn log(c: &Cluster, id: &str) -> String {
    std::fs::read_to_string(c.dir.path().join(format!("{id}.log"))).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_booking_survives_kill_9_of_its_owner() {
    let mut c = start().await;
    let booked = book(
        &c.front,
        &[
            "book",
            "--facility",
            ROOM,
            "--start",
            "Tue:09:00",
            "--end",
            "Tue:10:30",
        ],
    )
    .await;
    let id = text(&booked.stdout).trim().to_string();
    assert!(
        booked.status.success() && id.starts_with("CONF"),
        "{booked:?}\n{}",
        log(&c, "O")
    );

    // The confirmation is printed: kill the owner at once, no goodbye.
    c.nodes[1].0.kill().unwrap(); // SIGKILL
    c.nodes[1].0.wait().unwrap();
    c.nodes[1] = spawn(&c.config, "O");
    // Its log starts anew with the new process.
    assert!(started(&mut c, &["O"]).await, "{}", log(&c, "O"));

    let query = book(&c.front, &["query", "--facility", ROOM, "--days", "1"]).await;
    assert_eq!(
        text(&query.stdout),
        "Tuesday 00:00-09:00 10:30-24:00\n",
        "{query:?}"
    );
    let again = book(
        &c.front,
        &[
            "book",
            "--facility",
            ROOM,
            "--start",
            "Tue:10:00",
            "--end",
            "Tue:11:00",
        ],
    )
    .await;
    assert_eq!(
        again.status.code(),
        Some(1),
        "the slot is free again: {again:?}"
    );
    let cancel = book(&c.front, &["cancel", "--id", &id]).await;
    assert_eq!(
        text(&cancel.stdout),
        "Booking cancelled successfully\n",
        "{cancel:?}"
    );
    let twice = book(&c.front, &["cancel", "--id", &id]).await;
    assert_eq!(
        text(&twice.stderr),
        "Error [7]: Booking has already been cancelled\n"
    );
}
