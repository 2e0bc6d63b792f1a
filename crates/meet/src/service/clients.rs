//! The main node's TCP front door for meet clients.
//!
//! One task per connection, so many clients are served at once. Each
//! connection is a loop of one request line, one reply line (see
//! [`crate::protocol`]). A bad line gets an `error` reply and the connection
//! stays usable; a line over the size limit (more than
//! [`MAX_LINE`](crate::protocol::MAX_LINE) bytes with its `\n`; a `\r\n`
//! ending counts as one byte) or not UTF-8 gets an error and the connection
//! is closed, since the stream can no longer be trusted to be in step.
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

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use convene_cluster::Limits;
use convene_cluster::accept::accept_until;
use convene_cluster::admission::ConnectionLimiter;
use convene_cluster::line::{LineError, LineReader, read_line};
use convene_cluster::refusal::say_and_close;
use convene_cluster::shutdown::Shutdown;
use convene_metrics::Metrics;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tracing::Instrument;

use super::MainRole;
use crate::lines;
use crate::observe::{self, kinds, outcomes};
use crate::protocol::{MAX_LINE, Reply, Request};

/// Accepts clients until shutdown, through the front doors' one loop
/// ([`accept_until`]). Each connection watches the shutdown itself, so the
/// ones still open are left to end on their own.
pub(super) async fn serve(
    listener: TcpListener,
    main: Arc<MainRole>,
    limits: Limits,
    shutdown: Shutdown,
    metrics: Metrics,
) {
    let port = listener.local_addr().map_or(0, |a| a.port());
    let limiter = ConnectionLimiter::new(limits.meet_connections, limits.meet_connections_per_ip);
    let idle = limits.meet_idle_timeout;
    let mut connections = accept_until(
        "meet",
        listener,
        limiter,
        shutdown.wait(),
        |stream, peer, permit| {
            let main = main.clone();
            let shutdown = shutdown.clone();
            let metrics = metrics.clone();
            async move {
                let _open = metrics.connection(observe::SERVICE, observe::TCP);
                let door = Door {
                    port,
                    peer,
                    metrics,
                };
                connection(stream, door, main, idle, shutdown).await;
                drop(permit);
            }
        },
        |stream, refused| {
            let notice = Reply::Error(refused.to_string()).to_line();
            async move { say_and_close(stream, notice.as_bytes()).await }
        },
    )
    .await;
    connections.detach_all();
}

/// The longest request line, its ending not counted: a line of
/// [`MAX_LINE`] bytes with its `\n` is the longest taken.
const LINE_LIMIT: usize = MAX_LINE - 1;

/// Where a connection came in, and where its requests are counted.
struct Door {
    port: u16,
    peer: SocketAddr,
    metrics: Metrics,
}

impl Door {
    /// Starts counting one request of `kind` (see [`observe`]).
    fn begin(&self, kind: &'static str) -> convene_metrics::Request {
        self.metrics
            .begin(observe::SERVICE, observe::TCP, kind, Some(self.peer))
    }
}

async fn connection(
    stream: TcpStream,
    door: Door,
    main: Arc<MainRole>,
    idle: Duration,
    shutdown: Shutdown,
) {
    let port = door.port;
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let mut framer = LineReader::new(LINE_LIMIT);
    loop {
        // The whole line must come within the idle time: trickling a byte
        // at a time does not keep a connection.
        let line = tokio::select! {
            line = tokio::time::timeout(idle, read_line(&mut read, &mut framer)) => match line {
                Ok(line) => line,
                Err(_) => {
                    tracing::debug!(port, "meet client idle for {idle:?}; closed");
                    return;
                }
            },
            _ = shutdown.wait() => return,
        };
        let line = match line {
            Ok(Ok(line)) => Ok(line),
            Ok(Err(LineError::TooLong { .. })) => Err(()),
            Ok(Err(LineError::Closed)) | Err(_) => return,
        };
        main.screen().line(lines::main_got_request(port));
        let invalid = |reply: Reply, keep_open| {
            door.begin(kinds::INVALID).finish(outcomes::BAD_REQUEST);
            (reply, keep_open)
        };
        let (reply, keep_open) = match line.as_deref().map(std::str::from_utf8) {
            Err(()) => invalid(
                Reply::Error(format!(
                    "request longer than {MAX_LINE} bytes; closing the connection"
                )),
                false,
            ),
            Ok(Err(_)) => invalid(
                Reply::Error("request is not UTF-8 text; closing the connection".into()),
                false,
            ),
            Ok(Ok(text)) => match Request::parse(text) {
                Err(e) => invalid(Reply::Error(e.to_string()), true),
                Ok(Request::Query(names)) => {
                    let request = door.begin(kinds::QUERY);
                    let (reply, outcome) =
                        match main.common(names).instrument(request.span().clone()).await {
                            Ok(common) => (common.to_reply(), observe::query_outcome(&common)),
                            Err(message) => (Reply::Error(message), outcomes::ERROR),
                        };
                    request.finish(outcome);
                    (reply, true)
                }
                Ok(Request::Register(slot, names)) => {
                    let request = door.begin(kinds::REGISTER);
                    main.screen()
                        .line(lines::main_got_registration(&slot, &names, port));
                    let (reply, outcome) = main
                        .register_observed(slot, names)
                        .instrument(request.span().clone())
                        .await;
                    request.finish(outcome);
                    (reply, true)
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
        // A last line cut short by the end of the stream was answered like
        // any other; the next read finds the end.
        if !keep_open {
            return;
        }
    }
}
