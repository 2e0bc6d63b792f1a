//! The main node's TCP front door for meet clients.
//!
//! One task per connection, capped by a semaphore (mini-redis' pattern), so
//! many clients are served at once. Each connection is a loop of one request
//! line, one reply line (see [`crate::protocol`]). A bad line gets an `error`
//! reply and the connection stays usable; a line over the size limit or
//! not UTF-8 gets an error and the connection is closed, since the stream can
//! no longer be trusted to be in step.

use std::sync::Arc;
use std::time::Duration;

use convene_cluster::shutdown::Shutdown;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use super::MainRole;
use crate::lines;
use crate::protocol::{MAX_LINE, Reply, Request};

/// Connections served at once; more wait in the kernel's accept queue.
const MAX_CONNECTIONS: usize = 4096;

/// Accepts clients until shutdown.
pub(super) async fn serve(listener: TcpListener, main: Arc<MainRole>, shutdown: Shutdown) {
    let port = listener.local_addr().map_or(0, |a| a.port());
    let limit = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = Duration::from_millis(1);
    loop {
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => p.expect("semaphore never closed"),
            _ = shutdown.wait() => return,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                backoff = Duration::from_millis(1);
                let main = main.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    connection(stream, port, main, shutdown).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // Usually out of file descriptors: wait, then try again.
                tracing::warn!("accept failed: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
        }
    }
}

async fn connection(stream: TcpStream, port: u16, main: Arc<MainRole>, shutdown: Shutdown) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        let mut limited = (&mut read).take(MAX_LINE as u64);
        let n = tokio::select! {
            n = limited.read_until(b'\n', &mut line) => n,
            _ = shutdown.wait() => return,
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        main.screen().line(lines::main_got_request(port));
        let complete = line.last() == Some(&b'\n');
        let (reply, keep_open) = match std::str::from_utf8(&line) {
            _ if !complete && line.len() >= MAX_LINE => (
                Reply::Error(format!(
                    "request longer than {MAX_LINE} bytes; closing the connection"
                )),
                false,
            ),
            Err(_) => (
                Reply::Error("request is not UTF-8 text; closing the connection".into()),
                false,
            ),
            Ok(text) => match Request::parse(text) {
                Err(e) => (Reply::Error(e.to_string()), true),
                Ok(Request::Query(names)) => (main.query(names).await, true),
                Ok(Request::Register(slot, names)) => {
                    main.screen()
                        .line(lines::main_got_registration(&slot, &names, port));
                    (main.register(slot, names).await, true)
                }
            },
        };
        let registered = matches!(reply, Reply::Registered(_));
        if write.write_all(reply.to_line().as_bytes()).await.is_err() {
            return;
        }
        main.screen().line(if registered {
            lines::MAIN_REGISTERED
        } else {
            lines::MAIN_SENT
        });
        if !keep_open || !complete {
            return;
        }
    }
}
