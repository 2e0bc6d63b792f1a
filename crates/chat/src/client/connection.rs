//! One TCP connection to a chat server, framed in lines of bounded length.

use std::net::SocketAddr;

use convene_cluster::line::{LineError, LineReader, read_line};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpStream, ToSocketAddrs};

use super::{ClientError, MAX_SERVER_LINE};

/// A connection to one server: lines out, bounded lines in.
///
/// Reading is cancel safe: the bytes of a line not yet complete are kept in
/// the [`LineReader`], not in the future reading them, so a read abandoned by
/// a timeout or a `select!` loses nothing and the next read carries on from
/// there.
pub(super) struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
    peer: SocketAddr,
    /// The line being read. Once out of step (a line over the bound), every
    /// read from then on reports [`ClientError::Closed`].
    lines: LineReader,
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
            lines: LineReader::new(MAX_SERVER_LINE),
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
        if self.lines.is_out_of_step() {
            // The line over the bound was reported once; after it there is
            // no telling where a line starts.
            return Err(ClientError::Closed);
        }
        let line = match read_line(&mut self.reader, &mut self.lines).await? {
            Ok(line) => line,
            Err(LineError::Closed) => return Err(ClientError::Closed),
            Err(LineError::TooLong { limit }) => return Err(ClientError::LineTooLong { limit }),
        };
        String::from_utf8(line).map_err(|e| ClientError::NotUtf8 {
            line: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }
}
