//! Every backend against one conformance suite ([`conformance`]).
//!
//! SQLite and the memory working set always run. The servers run when
//! their URL is in the environment (their tests pass, saying "skipped",
//! otherwise, or fail under `CONVENE_REQUIRE_DATABASES=1`, as `.ci/run`
//! sets):
//!
//! - `CONVENE_TEST_MYSQL_URL`, e.g. `mysql://root@127.0.0.1:3306/test`
//!   (MySQL or MariaDB);
//! - `CONVENE_TEST_POSTGRES_URL`, e.g. `postgres://postgres@127.0.0.1:5432/test`;
//! - `CONVENE_TEST_REDIS_URL`, e.g. `redis://127.0.0.1:6379`.
//!
//! The servers' databases are shared with whatever else runs: the tests
//! use random names and never drop tables.

mod booking;
mod conformance;
mod files_book;
mod redis;
mod servers;
mod sqlite;

/// The URL in `var`, or `None` after saying the test is skipped (a test
/// failure instead under `CONVENE_REQUIRE_DATABASES=1`).
pub fn service_url(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CONVENE_REQUIRE_DATABASES").as_deref() != Ok("1"),
                "{var} is not set, and CONVENE_REQUIRE_DATABASES=1 requires it"
            );
            eprintln!("skipped: set {var} to run this test against a server");
            None
        }
    }
}

/// How long creating (and reading back) an event of 10,000 participants
/// takes on each backend available.
///
/// `cargo test -p convene-eventdb --test backends -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run by hand"]
async fn ten_thousand_participants() {
    let dir = tempfile::tempdir().unwrap();
    let mut urls = vec![format!("sqlite://{}", dir.path().join("big.db").display())];
    for var in ["CONVENE_TEST_MYSQL_URL", "CONVENE_TEST_POSTGRES_URL"] {
        urls.extend(service_url(var));
    }
    for url in urls {
        let db = convene_eventdb::open(&url).await.unwrap();
        conformance::big_event_of(&db, 10_000).await;
    }
}
