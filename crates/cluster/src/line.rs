//! Reading bounded lines from an async stream: the tokio driver of
//! [`convene_wire::line`], where the rule lives (the limit counts a line
//! without its ending, at most `limit + 2` bytes buffered, too long leaves
//! the stream out of step, a cut last line is a line).
//!
//! Every async text protocol reads through [`read_line`]: the chat server
//! and client, the meet main node, the HTTP client. It is **cancel safe**:
//! the bytes of a line not yet complete are kept in the [`LineReader`], not
//! in the future, and between taking bytes from the buffer and consuming
//! them there is no `.await`. A read dropped by a `select!` or a timeout
//! loses nothing; the next read with the same `LineReader` carries on.
//!
//! ```
//! # tokio_test_block_on(async {
//! use convene_cluster::line::{LineError, LineReader, read_line};
//!
//! let mut stream: &[u8] = b"{\"type\":\"list\"}\r\n";
//! let mut lines = LineReader::new(64 * 1024);
//! let line = read_line(&mut stream, &mut lines).await.unwrap();
//! assert_eq!(line, Ok(b"{\"type\":\"list\"}".to_vec()));
//! assert_eq!(read_line(&mut stream, &mut lines).await.unwrap(), Err(LineError::Closed));
//! # });
//! # fn tokio_test_block_on(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```

use std::io;

pub use convene_wire::line::{LineError, LineReader};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// Reads the next line: the line without its ending, or why there is none
/// (out of step, the stream ended). The outer `Err` is the stream's own
/// failure. Cancel safe; see the [module docs](self).
pub async fn read_line<R: AsyncBufRead + Unpin + ?Sized>(
    reader: &mut R,
    lines: &mut LineReader,
) -> io::Result<Result<Vec<u8>, LineError>> {
    if lines.is_out_of_step() {
        return Ok(lines.finish());
    }
    loop {
        // Cancel safe: `fill_buf` consumes nothing, and the bytes it shows
        // are moved into `lines` and consumed with no `.await` between.
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(lines.finish());
        }
        let (used, line) = lines.take(available);
        reader.consume(used);
        if let Some(line) = line {
            return Ok(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncWriteExt, BufReader};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_read_abandoned_mid_line_loses_nothing() {
        let (client, server) = tokio::io::duplex(64);
        let mut reader = BufReader::with_capacity(4, server);
        let mut client = client;
        let mut lines = LineReader::new(32);
        client.write_all(b"{\"type\":").await.unwrap();
        let first = tokio::time::timeout(
            Duration::from_millis(10),
            read_line(&mut reader, &mut lines),
        )
        .await;
        assert!(first.is_err(), "no line yet");
        assert_eq!(lines.pending(), 8, "the half line is kept");
        client.write_all(b"\"list\"}\r\nnext\n").await.unwrap();
        assert_eq!(
            read_line(&mut reader, &mut lines).await.unwrap(),
            Ok(b"{\"type\":\"list\"}".to_vec())
        );
        assert_eq!(
            read_line(&mut reader, &mut lines).await.unwrap(),
            Ok(b"next".to_vec())
        );
        drop(client);
        assert_eq!(
            read_line(&mut reader, &mut lines).await.unwrap(),
            Err(LineError::Closed)
        );
    }

    #[tokio::test]
    async fn a_peer_that_never_ends_its_line_is_cut_at_the_limit() {
        let (mut client, server) = tokio::io::duplex(1024);
        let mut reader = BufReader::new(server);
        let mut lines = LineReader::new(100);
        let flood = tokio::spawn(async move {
            // Far more than the limit; the reader must stop early.
            let _ = client.write_all(&[b'x'; 4096]).await;
            client
        });
        assert_eq!(
            read_line(&mut reader, &mut lines).await.unwrap(),
            Err(LineError::TooLong { limit: 100 })
        );
        assert_eq!(
            read_line(&mut reader, &mut lines).await.unwrap(),
            Err(LineError::TooLong { limit: 100 }),
            "out of step for good"
        );
        drop(reader);
        let _ = flood.await;
    }

    #[tokio::test]
    async fn a_cut_last_line_is_a_line() {
        let mut stream: &[u8] = b"one\nlast\r";
        let mut lines = LineReader::new(8);
        let mut got = Vec::new();
        loop {
            let line = read_line(&mut stream, &mut lines).await.unwrap();
            let stop = line.is_err();
            got.push(line);
            if stop {
                break;
            }
        }
        assert_eq!(
            got,
            [
                Ok(b"one".to_vec()),
                Ok(b"last".to_vec()),
                Err(LineError::Closed)
            ]
        );
    }
}
