//! The SQLite backend: a file, shared by several nodes, and in memory.

use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_eventdb::{OpenError, SqliteDb, open};
use convene_events::EventDb;
use tokio::task::JoinSet;

use crate::conformance::{self, Names, constraint, make_user, make_users, new_event};

fn url(path: &std::path::Path) -> String {
    format!("sqlite://{}", path.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_file_conforms() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that does not exist yet is created.
    let db = open(&url(&dir.path().join("sub/dir/events.db")))
        .await
        .unwrap();
    assert_eq!(db.backend(), "sqlite");
    conformance::conformance(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_conforms() {
    let db = open("sqlite::memory:").await.unwrap();
    conformance::conformance(db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_open_one_file_at_once_and_all_conform() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir.path().join("shared.db"));
    // Three nodes open a file that does not exist yet, at the same moment:
    // one creates the schema, the others wait and find it.
    let mut opening = JoinSet::new();
    for _ in 0..3 {
        let url = url.clone();
        opening.spawn(async move { open(&url).await });
    }
    let nodes: Vec<Arc<dyn EventDb>> = opening
        .join_all()
        .await
        .into_iter()
        .map(|r| r.expect("every node opens"))
        .collect();
    // What one node writes, the others read.
    let n = Names::new();
    let ann = n.user("ann");
    make_user(&*nodes[0], &ann).await;
    let event = new_event(&ann, &[&ann], 1_900_000_000, &n.server("a"));
    nodes[1].create_event(&event).await.unwrap();
    assert!(nodes[2].event(&event.id).await.unwrap().is_some());
    // And all three pass the suite at the same time, on the one file.
    let mut suites = JoinSet::new();
    for node in nodes {
        suites.spawn(conformance::conformance(node));
    }
    suites.join_all().await;
    // The schema was applied once.
    let conn = rusqlite::Connection::open(dir.path().join("shared.db")).unwrap();
    let versions: i64 = conn
        .query_row("SELECT COUNT(*) FROM convene_events_schema", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(
        versions,
        convene_eventdb::migrations::latest(convene_eventdb::migrations::SQLITE)
    );
}

#[tokio::test]
async fn reopening_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = url(&dir.path().join("events.db"));
    let db = open(&url).await.unwrap();
    let n = Names::new();
    let ann = n.user("ann");
    make_user(&*db, &ann).await;
    drop(db);
    let again = open(&url).await.unwrap();
    assert_eq!(again.user(&ann).await.unwrap().unwrap().name, ann);
}

#[tokio::test]
async fn a_schema_from_a_newer_build_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    drop(open(&url(&path)).await.unwrap());
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "INSERT INTO convene_events_schema (version, name, applied_at) VALUES (999, 'future', 0)",
        [],
    )
    .unwrap();
    drop(conn);
    let err = open(&url(&path)).await.err().unwrap();
    assert!(matches!(err, OpenError::TooNew { found: 999, .. }), "{err}");
    assert!(err.to_string().contains("upgrade Convene"), "{err}");
}

#[tokio::test]
async fn a_corrupt_result_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let db = open(&url(&path)).await.unwrap();
    conformance::corrupt_result(&db, |id| async move {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.busy_timeout(Duration::from_secs(5)).unwrap();
        conn.execute("UPDATE events SET result = '20-10' WHERE id = ?1", [id])
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_directory_that_cannot_be_made_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let err = open(&url(&file.join("sub/events.db"))).await.err().unwrap();
    assert!(matches!(err, OpenError::CreateDir { .. }), "{err}");
    assert!(
        err.to_string().contains("cannot create the directory"),
        "{err}"
    );
}

#[tokio::test]
async fn bad_urls_are_clear_errors() {
    let err = open("mongodb://app:secret@db/convene").await.err().unwrap();
    assert!(matches!(err, OpenError::UnsupportedUrl { .. }), "{err}");
    let text = err.to_string();
    for scheme in ["sqlite://", "mysql://", "postgres://"] {
        assert!(text.contains(scheme), "{text}");
    }
    assert!(!text.contains("secret"), "{text}");
    // Nothing listens on port 1: the error names the server, not the password.
    for url in [
        "mysql://app:secret@127.0.0.1:1/convene",
        "postgres://app:secret@127.0.0.1:1/convene",
    ] {
        let err = open(url).await.err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, OpenError::Connect { .. }), "{text}");
        assert!(text.starts_with("cannot connect to "), "{text}");
        assert!(text.contains("127.0.0.1:1/convene"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
    let err = open("postgres://u@h:notaport/d").await.err().unwrap();
    assert!(matches!(err, OpenError::BadUrl { .. }), "{err}");
    let err = open("mysql://root@127.0.0.1:1").await.err().unwrap();
    assert!(err.to_string().contains("no database named"), "{err}");
}

/// How long 10,000 `add_constraint` calls take on one SQLite file shared
/// by three nodes (each opened separately, as three processes would):
/// one after another on one node, then 64 tasks spread over the three.
///
/// `cargo test -p convene-eventdb --release --test backends -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand, in release mode"]
async fn add_constraint_throughput() {
    const CALLS: usize = 10_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.db");
    let mut nodes: Vec<Arc<dyn EventDb>> = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(SqliteDb::open(&path).unwrap()));
    }
    let n = Names::new();
    let users: Vec<String> = (0..100).map(|i| n.user(&format!("u{i}"))).collect();
    make_users(&nodes[0], &users).await;
    let refs: Vec<&str> = users.iter().map(String::as_str).collect();
    let mut events = Vec::new();
    for i in 0..10 {
        let e = new_event(&users[0], &refs, 1_900_000_000 + i, &n.server("a"));
        nodes[0].create_event(&e).await.unwrap();
        events.push(e.id);
    }
    let servers: Vec<String> = (0..3).map(|i| n.server(&i.to_string())).collect();
    let work = |i: usize| {
        constraint(
            &events[i % events.len()],
            &users[i % users.len()],
            &servers[i % 3],
            &[
                (1_900_000_000, 1_900_003_600),
                (1_900_007_200, 1_900_010_800),
            ],
            i as i64,
        )
    };

    let started = Instant::now();
    for i in 0..CALLS {
        assert!(nodes[i % 3].add_constraint(&work(i)).await.unwrap());
    }
    let sequential = started.elapsed();

    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for t in 0..64 {
        let node = nodes[t % 3].clone();
        let mine: Vec<_> = (0..CALLS).filter(|i| i % 64 == t).map(work).collect();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(mine.len());
            for c in &mine {
                let call = Instant::now();
                assert!(node.add_constraint(c).await.unwrap());
                latencies.push(call.elapsed());
            }
            latencies
        });
    }
    let mut latencies: Vec<Duration> = tasks.join_all().await.into_iter().flatten().collect();
    let concurrent = started.elapsed();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    let max = latencies[latencies.len() - 1];

    let rate = |d: Duration| CALLS as f64 / d.as_secs_f64();
    eprintln!(
        "{CALLS} add_constraint, 3 nodes on one file: sequential {sequential:?} ({:.0}/s), \
         64 tasks {concurrent:?} ({:.0}/s, a call's p99 {p99:?}, max {max:?})",
        rate(sequential),
        rate(concurrent)
    );
}
