//! The main node's TCP front door for meet clients.
//!
//! One task per connection, so many clients are served at once. Each
//! connection is a loop of one request line, one reply line (see
//! [`crate::protocol`]). A bad line gets an `error` reply and the connection
//! stays usable; a line over the size limit or not UTF-8 gets an error and
//! the connection is closed, since the stream can no longer be trusted to be
//! in step.
//!
//! What one client may hold:
//!
//! - Connections are capped in all (`meet_connections`) and per address
//!   (`meet_connections_per_ip`). One beyond a cap is accepted, told
//!   `error …` (which cap) and closed at once, rather than left waiting in
//!   the kernel's queue, where it would hold up everyone behind it.
//! - A connection that sends no complete line for `meet_idle_timeout`
//!   (default 5 minutes) is closed without a word: the protocol has no
//!   keep-alive and a reply only ever answers a request. Convene's client
//!   reconnects on its next request, so a person who thinks for a long time
//!   sees nothing of this.

use std::sync::Arc;
use std::time::Duration;

use convene_cluster::Limits;
use convene_cluster::admission::ConnectionLimiter;
use convene_cluster::refusal::{Refusals, say_and_close};
use convene_cluster::shutdown::Shutdown;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::MainRole;
use crate::lines;
use crate::protocol::{MAX_LINE, Reply, Request};

/// Accepts clients until shutdown.
pub(super) async fn serve(
    listener: TcpListener,
    main: Arc<MainRole>,
    limits: Limits,
    shutdown: Shutdown,
) {
    let port = listener.local_addr().map_or(0, |a| a.port());
    let limiter = ConnectionLimiter::new(limits.meet_connections, limits.meet_connections_per_ip);
    let refusals = Refusals::default();
    let idle = limits.meet_idle_timeout;
    let mut backoff = Duration::from_millis(1);
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.wait() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = Duration::from_millis(1);
                let permit = match limiter.admit(peer.ip()) {
                    Ok(permit) => permit,
                    Err(refused) => {
                        tracing::debug!(%peer, %refused, "meet connection refused");
                        let notice = Reply::Error(refused.to_string()).to_line();
                        refusals
                            .spawn(async move { say_and_close(stream, notice.as_bytes()).await });
                        continue;
                    }
                };
                let main = main.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    connection(stream, port, main, idle, shutdown).await;
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

async fn connection(
    stream: TcpStream,
    port: u16,
    main: Arc<MainRole>,
    idle: Duration,
    shutdown: Shutdown,
) {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut line = Vec::with_capacity(128);
    loop {
        line.clear();
        let mut limited = (&mut read).take(MAX_LINE as u64);
        // The whole line must come within the idle time: trickling a byte
        // at a time does not keep a connection.
        let n = tokio::select! {
            n = tokio::time::timeout(idle, limited.read_until(b'\n', &mut line)) => match n {
                Ok(n) => n,
                Err(_) => {
                    tracing::debug!(port, "meet client idle for {idle:?}; closed");
                    return;
                }
            },
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
