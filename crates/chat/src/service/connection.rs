//! One client connection: a reader task that frames and parses lines, and a
//! writer task that empties the connection's outbox onto the socket.
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

use std::sync::Arc;
use std::time::Duration;

use convene_cluster::admission::ConnectionPermit;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use super::chat_node::ChatNode;
use super::hub::Frame;
use crate::{ClientMessage, MAX_LINE};

/// How long the writer may take to send a closing notice before the
/// connection is cut anyway (a client that does not read).
const NOTICE_PATIENCE: Duration = Duration::from_secs(5);

/// Read buffer per connection: small, since most lines are short and idle
/// connections should cost little; longer lines grow the line buffer instead.
const READ_BUFFER: usize = 1024;

/// Serves one accepted connection until it ends. `permit` is its place
/// under the node's connection caps, held until both halves are done.
pub(crate) fn spawn(
    node: Arc<ChatNode>,
    stream: TcpStream,
    permit: ConnectionPermit,
    identify_within: Duration,
) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
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
    tokio::spawn(async move {
        let end = read_lines(&node, id, read, kill, identify_within).await;
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
    });
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
async fn read_lines(
    node: &Arc<ChatNode>,
    id: u64,
    read: OwnedReadHalf,
    mut kill: watch::Receiver<bool>,
    identify_within: Duration,
) -> End {
    let mut reader = BufReader::with_capacity(READ_BUFFER, read);
    let mut line = Vec::new();
    let mut identified = false;
    // One timer for the connection, not one per line read.
    let identify_due = tokio::time::sleep(identify_within);
    tokio::pin!(identify_due);
    loop {
        line.clear();
        let read = async {
            // One byte past the limit tells "too long" from "exactly the limit".
            let mut limited = (&mut reader).take(MAX_LINE as u64 + 2);
            limited.read_until(b'\n', &mut line).await
        };
        let outcome = tokio::select! {
            outcome = read => outcome,
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
        match outcome {
            Ok(0) | Err(_) => return End::Gone,
            Ok(_) => {}
        }
        let ended = line.last() == Some(&b'\n');
        let body = trim_line_ending(&line);
        if body.len() > MAX_LINE || (!ended && line.len() > MAX_LINE) {
            node.hub.send_raw(
                id,
                error_line(&format!("line longer than {MAX_LINE} bytes; closing")),
            );
            return End::AfterNotice;
        }
        let parsed = std::str::from_utf8(body)
            .map_err(|_| "line is not UTF-8".to_string())
            .and_then(|text| ClientMessage::parse(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(message) => node.handle(id, message).await,
            Err(reason) => node.hub.send_raw(id, error_line(&reason)),
        }
        if !identified {
            // Once approved, never timed again; until then, one look per
            // line.
            identified = has_identity(node, id);
        }
        if line.capacity() > 4 * READ_BUFFER {
            // One long line should not make an idle connection heavy for ever.
            line = Vec::new();
        }
    }
}

/// Writes the outbox to the socket until it closes or the hub cuts the
/// connection. A cut stops the writer even in the middle of a write that a
/// client who does not read would block for ever.
async fn write_lines(
    write: OwnedWriteHalf,
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

async fn drain(write: OwnedWriteHalf, mut outbox: mpsc::Receiver<Frame>) {
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
fn has_identity(node: &ChatNode, id: u64) -> bool {
    node.hub.lock().server.identity_of(id).is_some()
}

fn trim_line_ending(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `{"type":"error","reason":…}` as a line.
pub(crate) fn error_line(reason: &str) -> Arc<[u8]> {
    let reason = serde_json::Value::String(reason.to_string());
    format!("{{\"type\":\"error\",\"reason\":{reason}}}\n")
        .into_bytes()
        .into()
}
