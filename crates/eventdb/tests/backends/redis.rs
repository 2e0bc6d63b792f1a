//! The working sets: memory always, Redis when `CONVENE_TEST_REDIS_URL` is
//! set.

use convene_eventdb::{OpenError, open_working_set, redis::key};
use convene_events::DbError;

use crate::conformance::{self, run_id};
use crate::service_url;

const VAR: &str = "CONVENE_TEST_REDIS_URL";

#[tokio::test]
async fn memory_working_set_conforms() {
    let ws = open_working_set(None).await.unwrap();
    assert_eq!(ws.kind(), "memory");
    conformance::working_set(ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_working_set_conforms() {
    let Some(url) = service_url(VAR) else { return };
    let ws = open_working_set(Some(&url)).await.unwrap();
    assert_eq!(ws.kind(), "redis");
    conformance::working_set(ws).await;
}

#[tokio::test]
async fn redis_reports_a_corrupt_entry() {
    let Some(url) = service_url(VAR) else { return };
    let ws = open_working_set(Some(&url)).await.unwrap();
    let (server, event) = (format!("srv-{}", run_id()), run_id());
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("SET")
        .arg(key(&server, &event))
        .arg("open|9-5")
        .query_async::<()>(&mut conn)
        .await
        .unwrap();
    assert!(matches!(
        ws.get(&server, &event).await,
        Err(DbError::Corrupt(_))
    ));
    ws.remove(&server, &event).await.unwrap();
    assert_eq!(ws.get(&server, &event).await.unwrap(), None);
}

#[tokio::test]
async fn unreachable_or_wrong_redis_urls_are_clear_errors() {
    for url in ["redis://:secret@127.0.0.1:1", "http://127.0.0.1:6379"] {
        let err = open_working_set(Some(url)).await.err().unwrap();
        let text = err.to_string();
        assert!(matches!(err, OpenError::Redis { .. }), "{text}");
        assert!(text.starts_with("cannot connect to Redis at "), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
}

/// A TCP relay in front of Redis whose connections the test can cut, as a
/// Redis restart or a network failure would.
struct Relay {
    addr: std::net::SocketAddr,
    cut: tokio::sync::broadcast::Sender<()>,
}

impl Relay {
    async fn start(target: String) -> Relay {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (cut, _) = tokio::sync::broadcast::channel(4);
        let cuts = cut.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut server = tokio::net::TcpStream::connect(&target).await.unwrap();
                let mut cut = cuts.subscribe();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.recv() => {}
                    }
                });
            }
        });
        Relay { addr, cut }
    }

    /// Drops every connection open now.
    fn cut(&self) {
        let _ = self.cut.send(());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_reconnects_after_the_connection_breaks() {
    let Some(url) = service_url(VAR) else { return };
    let target = url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_string();
    let relay = Relay::start(target).await;
    let ws = open_working_set(Some(&format!("redis://{}", relay.addr)))
        .await
        .unwrap();
    let (server, event) = (format!("srv-{}", run_id()), run_id());
    let entry = convene_events::working::Entry::default();
    ws.put(&server, &event, &entry).await.unwrap();

    relay.cut();
    // The call that finds the connection broken may fail, as unavailable
    // (never as a bad query); a later one reconnects.
    let mut failures = 0;
    loop {
        match ws.get(&server, &event).await {
            Ok(found) => {
                assert_eq!(found, Some(entry.clone()));
                break;
            }
            Err(DbError::Unavailable(_)) if failures < 3 => failures += 1,
            Err(e) => panic!("after {failures} failures: {e}"),
        }
    }
    eprintln!("reconnected after {failures} failed call(s)");
    ws.remove(&server, &event).await.unwrap();
}
