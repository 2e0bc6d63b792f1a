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
//! | nothing at all after connecting    | closed after [`FIRST_LINE_WITHIN`]            |
//! | nothing after joining              | nothing: idle members are normal in a chat    |
//! | never reads what it is sent        | cut when its outbox fills ([`OUTBOX_LINES`](super::hub::OUTBOX_LINES)) |
//!
//! The `error` line, `{"type":"error","reason":"…"}`, is not in the course
//! protocol; the Java client prints unknown types only in debug mode and
//! otherwise ignores them, so it harms no client and tells a person at a
//! terminal what went wrong.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use super::hub::Frame;
use super::node::ChatNode;
use crate::{ClientMessage, MAX_LINE};

/// How long a new connection may take to send its first line.
pub const FIRST_LINE_WITHIN: Duration = Duration::from_secs(30);

/// Read buffer per connection: small, since most lines are short and idle
/// connections should cost little; longer lines grow the line buffer instead.
const READ_BUFFER: usize = 1024;

/// Serves one accepted connection until it ends.
pub(crate) fn spawn(node: Arc<ChatNode>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    let attached = node.hub.attach();
    let id = attached.id;
    tokio::spawn(write_lines(write, attached.outbox, attached.kill.clone()));
    tokio::spawn(async move {
        read_lines(&node, id, read, attached.kill).await;
        node.hub.detach(id);
    });
}

/// Reads and handles lines until EOF, an error, or the hub drops the
/// connection.
async fn read_lines(
    node: &Arc<ChatNode>,
    id: u64,
    read: OwnedReadHalf,
    mut kill: watch::Receiver<bool>,
) {
    let mut reader = BufReader::with_capacity(READ_BUFFER, read);
    let mut line = Vec::new();
    let mut first = true;
    // One timer for the connection, not one per line read.
    let first_line_due = tokio::time::sleep(FIRST_LINE_WITHIN);
    tokio::pin!(first_line_due);
    loop {
        line.clear();
        let read = async {
            // One byte past the limit tells "too long" from "exactly the limit".
            let mut limited = (&mut reader).take(MAX_LINE as u64 + 2);
            limited.read_until(b'\n', &mut line).await
        };
        let outcome = tokio::select! {
            outcome = read => outcome,
            _ = kill.changed() => return,
            _ = &mut first_line_due, if first => {
                tracing::debug!(client = id, "no first line; closed");
                return;
            }
        };
        match outcome {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        first = false;
        let ended = line.last() == Some(&b'\n');
        let body = trim_line_ending(&line);
        if body.len() > MAX_LINE || (!ended && line.len() > MAX_LINE) {
            node.hub.send_raw(
                id,
                error_line(&format!("line longer than {MAX_LINE} bytes; closing")),
            );
            // Let the writer flush the notice before the socket goes.
            tokio::time::sleep(Duration::from_millis(50)).await;
            return;
        }
        let parsed = std::str::from_utf8(body)
            .map_err(|_| "line is not UTF-8".to_string())
            .and_then(|text| ClientMessage::parse(text).map_err(|e| e.to_string()));
        match parsed {
            Ok(message) => node.handle(id, message).await,
            Err(reason) => node.hub.send_raw(id, error_line(&reason)),
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
