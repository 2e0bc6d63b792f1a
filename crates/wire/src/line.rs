//! Lines of bounded length, framed without I/O.
//!
//! Every text protocol Convene speaks over TCP (chat's JSON lines, meet's
//! request and reply lines, the HTTP client's status line, headers and
//! chunk sizes) is read a line at a time from a peer that may be hostile. A
//! plain `read_until(b'\n')` buffers whatever the peer sends until it sends a
//! `\n`, which a hostile peer never does. [`LineReader`] is the one framer
//! they all use instead, with one rule:
//!
//! - **The limit counts the line's bytes without its ending** (`\n` or
//!   `\r\n`). A line of exactly `limit` bytes is a line, whichever ending it
//!   has.
//! - **At most `limit + 2` bytes are ever buffered.** As soon as the bytes so
//!   far cannot become a line within the limit (`limit + 1` bytes that do not
//!   end in a `\r`, or `limit + 2` bytes, still without a `\n`), the read is
//!   [`LineError::TooLong`].
//! - **After `TooLong` the stream is out of step**: there is no telling where
//!   the next line starts, so every later read is `TooLong` again. The caller
//!   closes.
//! - **A last line cut short by the end of the stream is a line** (as Java's
//!   `readLine` has it), its `\r` dropped if the stream ended between a `\r`
//!   and its `\n`; the read after it is [`LineError::Closed`].
//! - **Bytes, not text.** Whether a line must be UTF-8, and what happens when
//!   it is not, is each protocol's business.
//!
//! The framer is sans-IO: a driver hands it what the stream has buffered
//! ([`LineReader::take`], fed from a `fill_buf`), consumes as many bytes as
//! it says, and calls [`LineReader::finish`] at the end of the stream. The
//! partial line lives in the `LineReader`, not in the driver, so an async
//! driver is cancel safe: a read abandoned by a timeout or a `select!` loses
//! nothing, and the next read carries on from there.
//!
//! This module has the blocking driver, [`read_line`], over
//! [`std::io::BufRead`]; the async one, over tokio's `AsyncBufRead`, is
//! `convene_cluster::line::read_line`.
//!
//! ```
//! use convene_wire::line::{LineError, LineReader, read_line};
//!
//! let mut stream: &[u8] = b"hello\r\nworld, too long\nlast";
//! let mut lines = LineReader::new(8);
//! assert_eq!(read_line(&mut stream, &mut lines).unwrap(), Ok(b"hello".to_vec()));
//! assert_eq!(
//!     read_line(&mut stream, &mut lines).unwrap(),
//!     Err(LineError::TooLong { limit: 8 })
//! );
//! // Out of step for good, though a short line follows.
//! assert_eq!(
//!     read_line(&mut stream, &mut lines).unwrap(),
//!     Err(LineError::TooLong { limit: 8 })
//! );
//!
//! let mut stream: &[u8] = b"last";
//! let mut lines = LineReader::new(8);
//! assert_eq!(read_line(&mut stream, &mut lines).unwrap(), Ok(b"last".to_vec()));
//! assert_eq!(read_line(&mut stream, &mut lines).unwrap(), Err(LineError::Closed));
//! ```

use std::io::{self, BufRead};

/// Why no line was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// More than `limit` bytes without a line ending: the stream is out of
    /// step from here on.
    #[error("a line longer than {limit} bytes")]
    TooLong {
        /// The limit, in bytes, line ending not counted.
        limit: usize,
    },
    /// The stream ended between two lines.
    #[error("the stream ended")]
    Closed,
}

/// A line being framed: its bytes so far, and whether the stream is still
/// in step. See the [module docs](self) for the rule.
#[derive(Debug, Clone)]
pub struct LineReader {
    limit: usize,
    /// The start of the line being read; never more than `limit + 1` bytes
    /// between two calls.
    pending: Vec<u8>,
    out_of_step: bool,
}

impl LineReader {
    /// A framer for lines of at most `limit` bytes, line ending not counted.
    pub fn new(limit: usize) -> Self {
        LineReader {
            limit,
            pending: Vec::new(),
            out_of_step: false,
        }
    }

    /// The limit, in bytes, line ending not counted.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether a line was too long: every read from now on is
    /// [`LineError::TooLong`].
    pub fn is_out_of_step(&self) -> bool {
        self.out_of_step
    }

    /// Bytes of an unfinished line held now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Takes what it can of `available` (what the stream has buffered) and
    /// returns how many bytes it consumed and, once a line is complete, the
    /// line without its ending, or why there is none.
    ///
    /// With `None` every byte of `available` was consumed: the driver reads
    /// more. With `Some`, the bytes after the line are left for the next
    /// call. Out of step, it consumes nothing and says `TooLong`.
    pub fn take(&mut self, available: &[u8]) -> (usize, Option<Result<Vec<u8>, LineError>>) {
        if self.out_of_step {
            return (0, Some(Err(self.too_long())));
        }
        // Room for the longest line and a `\r\n`, and not a byte more.
        let room = self
            .limit
            .saturating_add(2)
            .saturating_sub(self.pending.len());
        let window = &available[..available.len().min(room)];
        match window.iter().position(|&b| b == b'\n') {
            Some(end) => {
                self.pending.extend_from_slice(&window[..end]);
                if self.pending.last() == Some(&b'\r') {
                    self.pending.pop();
                }
                if self.pending.len() > self.limit {
                    return (end + 1, Some(Err(self.fall_out_of_step())));
                }
                (end + 1, Some(Ok(std::mem::take(&mut self.pending))))
            }
            None => {
                self.pending.extend_from_slice(window);
                // A `\r` may yet be the start of a `\r\n`; anything else past
                // the limit cannot become a line.
                let body = self.pending.strip_suffix(b"\r").unwrap_or(&self.pending);
                if body.len() > self.limit {
                    return (window.len(), Some(Err(self.fall_out_of_step())));
                }
                (window.len(), None)
            }
        }
    }

    /// At the end of the stream: the last line, cut short (without a `\r`
    /// that ends it), if one was begun; otherwise [`LineError::Closed`] (or
    /// `TooLong`, out of step).
    pub fn finish(&mut self) -> Result<Vec<u8>, LineError> {
        if self.out_of_step {
            return Err(self.too_long());
        }
        if self.pending.is_empty() {
            return Err(LineError::Closed);
        }
        let mut line = std::mem::take(&mut self.pending);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        // `take` keeps at most `limit` bytes, or `limit + 1` ending in `\r`.
        debug_assert!(line.len() <= self.limit);
        Ok(line)
    }

    fn too_long(&self) -> LineError {
        LineError::TooLong { limit: self.limit }
    }

    fn fall_out_of_step(&mut self) -> LineError {
        self.out_of_step = true;
        // Give the memory back: nothing more will be read into it.
        self.pending = Vec::new();
        self.too_long()
    }
}

/// Reads the next line from a blocking stream: the line without its ending,
/// or why there is none (out of step, the stream ended). The outer `Err` is
/// the stream's own failure (a read timeout, a reset).
///
/// A read interrupted by a signal is tried again; anything the stream
/// returned before an error stays in `lines` for the next call.
pub fn read_line<R: BufRead + ?Sized>(
    reader: &mut R,
    lines: &mut LineReader,
) -> io::Result<Result<Vec<u8>, LineError>> {
    if lines.is_out_of_step() {
        return Ok(Err(lines.too_long()));
    }
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
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
mod tests;
