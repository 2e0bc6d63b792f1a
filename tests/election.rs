//! Membership and the Fast Bully coordinator on real nodes over loopback:
//! agreement, failover, takeover by a recovering higher node, and
//! `convene status`.

use std::time::Duration;

use crate::util::{
    FAST_ELECTION, NodeSpec, SECRET, TestCluster, convene, eventually, plain, ready, web,
};

/// Three plain nodes; priorities follow file order (M=1, A=2, B=3).
const NODES: [NodeSpec; 3] = [plain("M"), plain("A"), plain("B")];

/// Waits until every running node named in `ids` follows `expected`.
async fn agree(c: &TestCluster, ids: &[&str], expected: &str) {
    let want = c.cluster.index_of(expected).unwrap();
    let what = format!("nodes {ids:?} to follow {expected}");
    eventually(Duration::from_secs(10), &what, || async {
        let views: Vec<Option<usize>> = ids
            .iter()
            .map(|id| *c.node(id).membership().coordinator().borrow())
            .collect();
        ready(
            views.iter().all(|v| *v == Some(want)),
            format!("they follow {views:?}"),
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_highest_live_node_coordinates_through_failure_and_recovery() {
    let mut c = TestCluster::start(&NODES).await;
    agree(&c, &["M", "A", "B"], "B").await;

    // The coordinator stops: the others elect the next highest.
    c.stop_node("B").await;
    agree(&c, &["M", "A"], "A").await;
    let live = c.node("M").membership().live().borrow().clone();
    assert_eq!(live, vec![0, 1], "M sees B down");

    // B comes back: it takes over again (not the seed's first-come rule).
    c.start_node("B").await;
    agree(&c, &["M", "A", "B"], "B").await;

    // A lower node that restarts accepts B without taking over.
    c.stop_node("M").await;
    c.start_node("M").await;
    agree(&c, &["M", "A", "B"], "B").await;
    c.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn convene_status_shows_who_is_up_and_who_coordinates() {
    // Asked of a web front (M's, the first), as the operator.
    let mut c =
        TestCluster::bind_full(&[web("M"), web("A"), web("B")], SECRET, FAST_ELECTION).await;
    for id in ["M", "A", "B"] {
        c.start_node(id).await;
    }
    agree(&c, &["M", "A", "B"], "B").await;
    let config = c.write_bound_config();
    let status = |config: std::path::PathBuf| async move {
        tokio::task::spawn_blocking(move || {
            convene()
                .args(["status", "--config"])
                .arg(config)
                .output()
                .unwrap()
        })
        .await
        .unwrap()
    };
    let out = status(config.clone()).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    for id in ["M", "A", "B"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(id) && l.contains(" up ")),
            "{stdout}"
        );
    }
    assert!(stdout.contains("coordinator: B (priority 3)"), "{stdout}");

    c.stop_node("B").await;
    agree(&c, &["M", "A"], "A").await;
    let out = status(config).await;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with('B') && l.contains(" down ")),
        "{stdout}"
    );
    assert!(stdout.contains("coordinator: A (priority 2)"), "{stdout}");
    c.stop().await;
}
