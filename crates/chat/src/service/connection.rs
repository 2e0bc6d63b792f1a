//! One client connection: a reader task that frames and parses lines, and a
//! writer task that empties the connection's outbox onto the socket. The
//! socket is a TCP client's, or the server's end of an in-process pipe
//! (a browser's, through the web front); both are served by [`serve`].
//!
//! Reading is where untrusted bytes arrive, so every way a line can be wrong
//! ends here with a clear answer for that client alone:
//!
//! | what the client sends              | what happens                                  |
//! |------------------------------------|-----------------------------------------------|
//! | not UTF-8, not JSON, unknown type, a missing field | an `error` line, the connection stays |
//! | a line over [`MAX_LINE`]           | an `error` line, then the connection closes   |
//! | no approved identity within `chat_identify_timeout` (default 30 s), whatever it sends meanwhile | an `error` line, then the connection closes |
//! | nothing after its identity is approved | nothing: idle members are normal in a chat (the protocol has no keep-alive) |
//! | never reads what it is sent        | cut when its outbox fills ([`OUTBOX_LINES`](super::hub::OUTBOX_LINES)) |
//!
//! The identity timer is what keeps a connection from being held for free:
//! until the cluster has approved a `newidentity` (or a `movejoin`), the
//! connection is nobody's, and lines that are junk, or valid but not an
//! identity (`list`, `who`), do not stop the clock.
//!
//! The `error` line, `{"type":"error","reason":"…"}`, is not in the course
//! protocol; the Java client prints unknown types only in debug mode and
//! otherwise ignores them, so it harms no client and tells a person at a
//! terminal what went wrong.
//!
//! When the server closes after an `error` line, it first lets the writer
//! send everything queued (the notice included) and close its side, then
//! lets go of the socket: the notice is never lost to a close that came
//! first.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use convene_cluster::admission::ConnectionPermit;
use convene_cluster::line::{LineError, LineReader, read_line};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

use super::chat_node::ChatNode;
use super::hub::Frame;
use super::observe;
use crate::{ClientMessage, MAX_LINE};
use convene_rpc::DatagramSocket;

/// How long the writer may take to send a closing notice before the
/// connection is cut anyway (a client that does not read).
const NOTICE_PATIENCE: Duration = Duration::from_secs(5);

/// Read buffer per connection: small, since most lines are short and idle
/// connections should cost little; a longer line grows the [`LineReader`]'s
/// buffer instead, and each line's bytes are let go once it is handled.
const READ_BUFFER: usize = 1024;

/// Takes one admitted connection: attaches it to the hub and starts its
/// writer now (so a shutdown's `detach_all` that comes after this call finds
/// it), and returns the reader, which serves the connection until it ends.
/// `permit` is its place under the node's connection caps, held until both
/// halves are done.
pub(crate) fn start<S: DatagramSocket>(
    node: Arc<ChatNode<S>>,
    stream: TcpStream,
    permit: ConnectionPermit,
    identify_within: Duration,
) -> impl Future<Output = ()> + Send + 'static {
    let _ = stream.set_nodelay(true);
    let door = Door {
        name: observe::TCP,
        peer: stream.peer_addr().ok(),
    };
    serve(
        node,
        stream.into_split(),
        door,
        Some(permit),
        identify_within,
    )
}

/// Which front door a connection came through, and from where (a TCP
/// client's address; a browser's is the web front's business), for its
/// metrics.
pub(crate) struct Door {
    /// [`observe::TCP`] or [`observe::WEBSOCKET`].
    pub name: &'static str,
    /// The client's address, if it has one.
    pub peer: Option<SocketAddr>,
}

/// Serves one connection over any byte stream split in two halves: a TCP
/// socket's, or the server's end of an in-process pipe (see
/// [`ChatHandle::connect`](super::ChatHandle::connect)). Everything that
/// makes a connection safe to serve (the identity timer, the line limit,
/// the outbox, the `error` lines) lives here, so both kinds get the same.
pub(crate) fn serve<S, R, W>(
    node: Arc<ChatNode<S>>,
    (read, write): (R, W),
    door: Door,
    permit: Option<ConnectionPermit>,
    identify_within: Duration,
) -> impl Future<Output = ()> + Send + 'static
where
    S: DatagramSocket,
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let attached = node.hub.attach();
    let id = attached.id;
    let permit = Arc::new(permit);
    let writer_permit = permit.clone();
    let (outbox, kill) = (attached.outbox, attached.kill);
    let writer_kill = kill.clone();
    let mut writer = tokio::spawn(async move {
        write_lines(write, outbox, writer_kill).await;
        drop(writer_permit);
    });
    async move {
        let _open = node.metrics.connection(observe::SERVICE, door.name);
        let end = read_lines(&node, &door, id, read, kill, identify_within).await;
        // Letting go of the outbox tells the writer to send what is queued
        // and close.
        node.hub.detach(id);
        if end == End::AfterNotice
            && tokio::time::timeout(NOTICE_PATIENCE, &mut writer)
                .await
                .is_err()
        {
            writer.abort();
        }
        drop(permit);
    }
}

/// How reading ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// The client left, the socket failed, or the hub cut the connection.
    Gone,
    /// The server closes after an `error` line: it must reach the client
    /// before the socket goes.
    AfterNotice,
}

/// Reads and handles lines until EOF, an error, the hub drops the
/// connection, or the connection is closed with a notice.
async fn read_lines<S: DatagramSocket, R: AsyncRead + Unpin>(
    node: &Arc<ChatNode<S>>,
    door: &Door,
    id: u64,
    read: R,
    mut kill: watch::Receiver<bool>,
    identify_within: Duration,
) -> End {
    let mut reader = BufReader::with_capacity(READ_BUFFER, read);
    // The line being read lives here, not in the read: a read dropped by
    // the identity timer loses nothing.
    let mut lines = LineReader::new(MAX_LINE);
    let mut identified = false;
    // One timer for the connection, not one per line read.
    let identify_due = tokio::time::sleep(identify_within);
    tokio::pin!(identify_due);
    loop {
        let outcome = tokio::select! {
            outcome = read_line(&mut reader, &mut lines) => outcome,
            _ = kill.changed() => return End::Gone,
            () = &mut identify_due, if !identified => {
                // The approval may have come from the coordinator since the
                // last line.
                if has_identity(node, id) {
                    identified = true;
                    continue;
                }
                tracing::debug!(client = id, "no identity in time; closed");
                let reason = format!(
                    "no identity approved within {} s; closing",
                    identify_within.as_secs()
                );
                node.hub.send_raw(id, error_line(&reason));
                return End::AfterNotice;
            }
        };
        let line = match outcome {
            Ok(Ok(line)) => line,
            Ok(Err(LineError::Closed)) | Err(_) => return End::Gone,
            Ok(Err(LineError::TooLong { .. })) => {
                node.hub.send_raw(id, line_too_long_notice());
                return End::AfterNotice;
            }
        };
        let parsed = std::str::from_utf8(&line)
            .map_err(|_| "line is not UTF-8".to_string())
            .and_then(|text| ClientMessage::parse(text).map_err(|e| e.to_string()));
        node.metrics
            .count(observe::SERVICE, observe::events::MESSAGE_IN, 1);
        match parsed {
            Ok(message) => {
                let request =
                    node.metrics
                        .begin(observe::SERVICE, door.name, message.kind(), door.peer);
                node.handle(id, message)
                    .instrument(request.span().clone())
                    .await;
                request.finish(observe::outcomes::OK);
            }
            Err(reason) => {
                node.metrics
                    .begin(observe::SERVICE, door.name, observe::INVALID, door.peer)
                    .finish(observe::outcomes::BAD_REQUEST);
                node.hub.send_raw(id, error_line(&reason));
            }
        }
        if !identified {
            // Once approved, never timed again; until then, one look per
            // line.
            identified = has_identity(node, id);
        }
    }
}

/// Writes the outbox to the socket until it closes or the hub cuts the
/// connection. A cut stops the writer even in the middle of a write that a
/// client who does not read would block for ever.
async fn write_lines<W: AsyncWrite + Unpin>(
    write: W,
    outbox: mpsc::Receiver<Frame>,
    mut kill: watch::Receiver<bool>,
) {
    let cut = async {
        // `Ok` means the hub set the flag: cut now. `Err` means it let go
        // normally: keep draining what it queued (ending with a Close).
        if kill.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        _ = drain(write, outbox) => {}
        _ = cut => {}
    }
}

async fn drain<W: AsyncWrite + Unpin>(write: W, mut outbox: mpsc::Receiver<Frame>) {
    let mut writer = BufWriter::with_capacity(4096, write);
    while let Some(mut frame) = outbox.recv().await {
        // Write everything already queued before one flush.
        loop {
            match frame {
                Frame::Line(bytes) => {
                    if writer.write_all(&bytes).await.is_err() {
                        return;
                    }
                }
                Frame::Close => {
                    let _ = writer.flush().await;
                    let _ = writer.shutdown().await;
                    return;
                }
            }
            match outbox.try_recv() {
                Ok(next) => frame = next,
                Err(_) => break,
            }
        }
        if writer.flush().await.is_err() {
            return;
        }
    }
}

/// Whether the cluster has approved an identity for connection `id`.
fn has_identity<S: DatagramSocket>(node: &ChatNode<S>, id: u64) -> bool {
    node.hub.lock().server.identity_of(id).is_some()
}

/// The `error` line a client gets for a line over [`MAX_LINE`], just before
/// the connection closes. Public so that a front with its own framing (the
/// web front's WebSocket, whose messages are measured before they are read)
/// says the same.
pub fn line_too_long_notice() -> Arc<[u8]> {
    error_line(&format!("line longer than {MAX_LINE} bytes; closing"))
}

/// `{"type":"error","reason":…}` as a line.
pub(crate) fn error_line(reason: &str) -> Arc<[u8]> {
    let reason = serde_json::Value::String(reason.to_string());
    format!("{{\"type\":\"error\",\"reason\":{reason}}}\n")
        .into_bytes()
        .into()
}
