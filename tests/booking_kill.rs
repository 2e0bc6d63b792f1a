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

use std::process::Output;

use crate::util::{FAST_ELECTION, Held, NodeProcess, convene};

const ROOM: &str = "Meeting Room A";

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
    front: String,
    /// The front door (F) and the owner of the room (O).
    nodes: [NodeProcess; 2],
    _dir: tempfile::TempDir,
}

fn log(c: &Cluster, id: &str) -> String {
    c.nodes[if id == "F" { 0 } else { 1 }].log()
}

/// A front door (F) and the owner of the room (O), both started, each on
/// a peer socket the test bound (the other must know it); F's front door
/// on a port of its choosing (port 0, read from its ports file).
async fn start() -> Cluster {
    let dir = tempfile::tempdir().unwrap();
    let (f_peer, o_peer) = (Held::udp("peer"), Held::udp("peer"));
    let toml = format!(
        "[[node]]\nid = \"F\"\nhost = \"127.0.0.1\"\npeer_port = {}\nbooking_port = 0\n\
         [[node]]\nid = \"O\"\nhost = \"127.0.0.1\"\npeer_port = {}\n\
         [node.booking]\nfacilities = [\"{ROOM}\"]\n{FAST_ELECTION}",
        f_peer.port(),
        o_peer.port(),
    );
    let config = dir.path().join("cluster.toml");
    std::fs::write(&config, toml).unwrap();
    let mut nodes = [
        NodeProcess::spawn("--config", &config, "F", &[], vec![f_peer]),
        NodeProcess::spawn("--config", &config, "O", &[], vec![o_peer]),
    ];
    for node in &mut nodes {
        node.started().await;
    }
    Cluster {
        front: nodes[0].addr("booking").to_string(),
        nodes,
        _dir: dir,
    }
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
    c.nodes[1].kill(); // SIGKILL
    // On the same peer socket, with a new log; started when it returns.
    c.nodes[1].restart().await;

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
