//! One TCP connection to a chat server, framed in lines of bounded length.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};

use super::{ClientError, MAX_SERVER_LINE};

/// A connection to one server: lines out, bounded lines in.
///
/// Reading is cancel safe: the bytes of a line not yet complete are kept in
/// `pending`, not in the future reading them, so a read abandoned by a timeout
/// or a `select!` loses nothing and the next read carries on from there.
pub(super) struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    peer: SocketAddr,
    /// The start of the line being read, line ending not yet seen.
    pending: Vec<u8>,
    /// Set when the stream went out of step (a line over the bound): every read
    /// from then on reports [`ClientError::Closed`].
    out_of_step: bool,
}

impl Connection {
    /// Connects to `server`; `shown` is how the address is named in an error.
    pub(super) async fn open(
        server: impl ToSocketAddrs,
        shown: impl FnOnce() -> String,
    ) -> Result<Connection, ClientError> {
        let stream = TcpStream::connect(server)
            .await
            .map_err(|error| ClientError::Connect {
                server: shown(),
                error,
            })?;
        // Chat lines are small and each one is a whole message: send it now rather
        // than wait to fill a segment.
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let (reader, writer) = stream.into_split();
        Ok(Connection {
            reader: BufReader::new(reader),
            writer,
            peer,
            pending: Vec::new(),
            out_of_step: false,
        })
    }

    /// The server's address.
    pub(super) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Writes one line (which must end in `\n`).
    pub(super) async fn write_line(&mut self, line: &str) -> Result<(), ClientError> {
        self.writer.write_all(line.as_bytes()).await?;
        Ok(())
    }

    /// Reads the next line, without its `\n` or `\r\n`.
    ///
    /// A last line cut short by the end of the stream is returned like any other,
    /// as Java's `readLine` does; the read after it reports
    /// [`ClientError::Closed`].
    pub(super) async fn read_line(&mut self) -> Result<String, ClientError> {
        if self.out_of_step {
            return Err(ClientError::Closed);
        }
        // Room for the longest line and a `\r\n`; one byte more than that, still
        // without a `\n`, and the line is too long. `read_until` on a `take` stops
        // there instead of buffering whatever the server keeps sending.
        let bound = MAX_SERVER_LINE + 2;
        let room = bound.saturating_sub(self.pending.len()) as u64;
        let read = (&mut self.reader)
            .take(room)
            .read_until(b'\n', &mut self.pending)
            .await?;
        if read == 0 && self.pending.is_empty() {
            return Err(ClientError::Closed);
        }
        let complete = self.pending.ends_with(b"\n");
        if !complete && self.pending.len() >= bound {
            self.pending = Vec::new();
            self.out_of_step = true;
            return Err(ClientError::LineTooLong {
                limit: MAX_SERVER_LINE,
            });
        }
        let mut line = std::mem::take(&mut self.pending);
        for ending in [b'\n', b'\r'] {
            if line.last() == Some(&ending) {
                line.pop();
            }
        }
        if line.len() > MAX_SERVER_LINE {
            self.out_of_step = true;
            return Err(ClientError::LineTooLong {
                limit: MAX_SERVER_LINE,
            });
        }
        String::from_utf8(line).map_err(|e| ClientError::NotUtf8 {
            line: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}
