//! A node whose start fails part-way leaves nothing behind: every port it
//! was given can be bound again at once, and its store is closed.

use std::path::Path;

use convene_store::{BookingRow, BookingWrite};

use super::*;
use crate::{bind_cluster, bind_node};

/// A one-node cluster file in `dir` whose node runs every service: meet
/// (a main node and a backend, with `availability`), chat, files, the web
/// front with events, and booking (a front door owning `Room`).
fn write_cluster(dir: &Path, availability: &str) -> ClusterConfig {
    std::fs::create_dir_all(dir.join("shared")).unwrap();
    std::fs::write(dir.join("a.txt"), availability).unwrap();
    let toml = "[[node]]\nid = \"A\"\nhost = \"127.0.0.1\"\npeer_port = 0\nclient_port = 0\n\
                chat_port = 0\nhttp_port = 0\nbooking_port = 0\n\
                [node.meet]\navailability = \"a.txt\"\n\
                [node.files]\ndir = \"shared\"\n\
                [node.booking]\nfacilities = [\"Room\"]\n";
    let path = dir.join("cluster.toml");
    std::fs::write(&path, toml).unwrap();
    crate::load_cluster(&path).unwrap()
}

/// Starts the node on sockets bound for it; the cluster has the ports the
/// OS chose, so they can be bound again by number.
async fn try_start(cluster: ClusterConfig) -> (Arc<ClusterConfig>, Result<RunningNode, NodeError>) {
    let (cluster, mut sockets) = bind_cluster(cluster).await.unwrap();
    let cluster = Arc::new(cluster);
    let started = start(cluster.clone(), "A", sockets.remove(0), Screen::discard()).await;
    (cluster, started)
}

/// Every port of the node is free, and its store closed: SQLite removes
/// the write-ahead log when its last connection closes.
async fn assert_nothing_left(cluster: &ClusterConfig) {
    let node = cluster.node("A").unwrap();
    let sockets = bind_node(node).await.expect("every port is free again");
    assert!(sockets.client.is_some() && sockets.chat.is_some() && sockets.http.is_some());
    assert!(sockets.booking.is_some());
    let wal = node.data_dir.join("convene.db-wal");
    assert!(!wal.exists(), "the store is still open: {}", wal.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_store_that_cannot_be_read_stops_everything_started_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = write_cluster(dir.path(), "alice;[[1,2]]\n");
    // A booking an earlier version stored that ends before it starts: the
    // booking service, the last to start, refuses to copy it into the
    // cluster's database.
    let row = |id: &str, start, end| BookingWrite {
        booking: Some(BookingRow {
            id: id.into(),
            facility: "Room".into(),
            start,
            end,
            original_end: end,
            cancelled: false,
        }),
        ..BookingWrite::default()
    };
    let data_dir = cluster.node("A").unwrap().data_dir.clone();
    let store = Store::open(&data_dir).unwrap();
    store
        .commit_booking_writes(&[row("CONF0-1", 600, 660), row("CONF0-2", 700, 690)])
        .unwrap();
    drop(store);

    let (cluster, started) = try_start(cluster).await;
    let error = started.err().expect("the node must not start");
    assert!(matches!(error, NodeError::Booking { .. }), "{error}");
    assert!(
        error.to_string().contains("CONF0-2 spans 700..690"),
        "{error}"
    );
    assert_nothing_left(&cluster).await;

    // With the row mended, the same node starts.
    let store = Store::open(&data_dir).unwrap();
    store
        .commit_booking_writes(&[row("CONF0-2", 630, 690)])
        .unwrap();
    drop(store);
    let sockets = bind_node(cluster.node("A").unwrap()).await.unwrap();
    let node = start(cluster.clone(), "A", sockets, Screen::discard())
        .await
        .expect("the node starts once its store is sound");
    node.stop().await;
    assert_nothing_left(&cluster).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_availability_file_stops_the_transport_and_membership_started_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = write_cluster(dir.path(), "alice;[[2,1]]\n");
    let (cluster, started) = try_start(cluster).await;
    let error = started.err().expect("the node must not start");
    assert!(matches!(error, NodeError::Meet { .. }), "{error}");
    assert_nothing_left(&cluster).await;
}
