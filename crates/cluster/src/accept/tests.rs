use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::*;
use crate::refusal::say_and_close;
use crate::shutdown::Shutdown;

/// A listener that answers each `accept` from a script, then waits for ever,
/// and notes when each scripted answer was given. (An `accept` that waits
/// may be dropped and made again when a connection is reaped: not noted.)
struct Scripted {
    script: VecDeque<io::Result<u32>>,
    calls: Arc<Mutex<Vec<Instant>>>,
}

impl Listener for Scripted {
    type Stream = u32;

    async fn accept(&mut self) -> io::Result<(u32, SocketAddr)> {
        match self.script.pop_front() {
            Some(result) => {
                self.calls.lock().unwrap().push(Instant::now());
                result.map(|n| (n, peer(n)))
            }
            None => std::future::pending().await,
        }
    }
}

/// Connections from a channel: a test hands them in one by one.
struct Fed(mpsc::UnboundedReceiver<u32>);

impl Listener for Fed {
    type Stream = u32;

    async fn accept(&mut self) -> io::Result<(u32, SocketAddr)> {
        match self.0.recv().await {
            Some(n) => Ok((n, peer(n))),
            None => std::future::pending().await,
        }
    }
}

/// Connection `n` comes from 10.0.0.n.
fn peer(n: u32) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, n as u8], 4000))
}

fn failure(kind: io::ErrorKind) -> io::Result<u32> {
    Err(io::Error::new(kind, "scripted"))
}

fn roomy() -> ConnectionLimiter {
    ConnectionLimiter::new(100, 100)
}

#[tokio::test(start_paused = true)]
async fn errors_are_waited_out_doubling_and_reset_by_a_success() {
    use io::ErrorKind::{ConnectionReset, Other, OutOfMemory};
    let calls = Arc::new(Mutex::new(Vec::new()));
    let listener = Scripted {
        script: VecDeque::from([
            failure(Other),
            failure(OutOfMemory),
            failure(Other),
            Ok(1),
            failure(Other),
            failure(ConnectionReset),
            failure(Other),
            Ok(2),
        ]),
        calls: calls.clone(),
    };
    let (trigger, shutdown) = Shutdown::new();
    let door = tokio::spawn(async move {
        accept_until(
            "test",
            listener,
            roomy(),
            async move { shutdown.wait().await },
            |_, _, _permit| async {},
            |_, _| async {},
        )
        .await
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    trigger.trigger();
    door.await.unwrap();
    let calls = calls.lock().unwrap();
    let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
    let ms = Duration::from_millis;
    assert_eq!(
        gaps,
        [
            ms(1), // after the first error
            ms(2), // doubled
            ms(4), // doubled again
            ms(0), // the success: straight on
            ms(1), // an error after a success starts from 1 ms again
            ms(0), // a reset connection: straight on
            ms(2), // the next error carries on doubling; then a success
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn the_longest_wait_is_a_second_and_shutdown_ends_it() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let listener = Scripted {
        script: (0..20).map(|_| failure(io::ErrorKind::Other)).collect(),
        calls: calls.clone(),
    };
    let (trigger, shutdown) = Shutdown::new();
    let start = Instant::now();
    let door = tokio::spawn(async move {
        accept_until(
            "test",
            listener,
            roomy(),
            async move { shutdown.wait().await },
            |_, _, _permit| async {},
            |_, _| async {},
        )
        .await
    });
    // 1 + 2 + … + 512 ms = 1023 ms of waits, then one of 1 s (not 1024 ms),
    // from 1023 ms to 2023 ms.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    {
        let calls = calls.lock().unwrap();
        let gaps: Vec<Duration> = calls.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps.len(), 10, "{gaps:?}");
        assert_eq!(gaps.last(), Some(&Duration::from_millis(512)));
    }
    trigger.trigger();
    door.await.unwrap();
    assert!(
        start.elapsed() < Duration::from_millis(1600),
        "the loop ends at the shutdown, not at the end of its wait ({:?})",
        start.elapsed()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(calls.lock().unwrap().len(), 11, "no accept after the end");
}

#[tokio::test(start_paused = true)]
async fn finished_connections_are_reaped_and_open_ones_handed_back() {
    let (feed, fed) = mpsc::unbounded_channel();
    let (trigger, shutdown) = Shutdown::new();
    let limiter = roomy();
    let (hold, held) = oneshot::channel::<()>();
    let mut held = Some(held);
    let door = tokio::spawn({
        let limiter = limiter.clone();
        async move {
            accept_until(
                "test",
                Fed(fed),
                limiter,
                async move { shutdown.wait().await },
                move |n, _, permit| {
                    // Connection 1 stays open until the test says; the others
                    // end at once.
                    let wait = if n == 1 { held.take() } else { None };
                    async move {
                        if let Some(wait) = wait {
                            let _ = wait.await;
                        }
                        drop(permit);
                    }
                },
                |_, _| async {},
            )
            .await
        }
    });
    for n in 1..=5 {
        feed.send(n).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(limiter.open(), 1, "four ended, their places given back");
    trigger.trigger();
    let mut open = door.await.unwrap();
    assert_eq!(open.len(), 1, "only the open connection is handed back");
    drop(hold);
    assert!(open.join_next().await.unwrap().is_ok());
    assert_eq!(limiter.open(), 0);
}

#[tokio::test]
async fn past_the_cap_a_connection_is_refused_and_told_why() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (trigger, shutdown) = Shutdown::new();
    let door = tokio::spawn(async move {
        accept_until(
            "test",
            listener,
            ConnectionLimiter::new(1, 1),
            async move { shutdown.wait().await },
            |mut stream: TcpStream, _, permit| async move {
                let _ = stream.write_all(b"welcome\n").await;
                // Open until the client leaves.
                let _ = stream.read(&mut [0; 1]).await;
                drop(permit);
            },
            |stream, refused| async move {
                say_and_close(stream, format!("refused: {refused}\n").as_bytes()).await;
            },
        )
        .await
    });
    let mut first = TcpStream::connect(addr).await.unwrap();
    let mut welcome = [0; 8];
    first.read_exact(&mut welcome).await.unwrap();
    assert_eq!(&welcome, b"welcome\n");
    let mut second = TcpStream::connect(addr).await.unwrap();
    let mut heard = String::new();
    second.read_to_string(&mut heard).await.unwrap();
    assert_eq!(
        heard,
        "refused: the server is at its limit of 1 connections; try again later\n"
    );
    // The first leaves; its place is given back and a third gets in.
    drop(first);
    let mut third = loop {
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut reply = [0; 8];
        if third.read_exact(&mut reply).await.is_ok() && &reply == b"welcome\n" {
            break third;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    trigger.trigger();
    let open = door.await.unwrap();
    assert_eq!(open.len(), 1);
    // The listener is closed once the loop ends.
    assert!(TcpStream::connect(addr).await.is_err());
    third.shutdown().await.unwrap();
}
