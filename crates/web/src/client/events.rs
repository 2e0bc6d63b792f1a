//! Following a Server-Sent Events stream: [`HttpClient::events`] opens it
//! on a connection of its own (the client's kept-alive one stays free for
//! requests), and [`EventStream::next`] reads one event at a time.
//!
//! The server sends the stream chunked (its length is unknown); the
//! chunks are undone here and the text read line by line as the
//! EventSource format has it: `event:` and `data:` fields, a blank line
//! ending an event, lines starting with `:` (keep-alive comments) ignored.

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{Connection, HttpClient, connect, invalid, read_line};

/// The most of one event line (or chunk) kept: far above a week or a
/// status (a few kilobytes), and a bound on what a server can make a
/// reader buffer.
pub const MAX_EVENT: usize = 1 << 20;

/// One event of a stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerEvent {
    /// Its `event:` name (`message` if it had none).
    pub event: String,
    /// Its `data:` lines, joined by newlines.
    pub data: String,
}

impl ServerEvent {
    /// The data as JSON.
    pub fn json(&self) -> io::Result<serde_json::Value> {
        serde_json::from_str(&self.data).map_err(|e| invalid(format!("event data: {e}")))
    }
}

/// An open stream of events.
pub struct EventStream {
    connection: Connection,
    /// Whether the body is chunked (else it runs to the connection's end).
    chunked: bool,
    /// Body bytes undone from their chunks, not yet read as lines.
    pending: Vec<u8>,
    /// The stream ended (a last chunk, or the connection closed).
    ended: bool,
}

impl HttpClient {
    /// Opens the event stream at `path` with this client's cookies. A
    /// response other than `200` with `text/event-stream` is an error
    /// naming its status and body (ask with [`HttpClient::get`] to see it
    /// whole).
    pub async fn events(&mut self, path: &str) -> io::Result<EventStream> {
        let message = self.message("GET", path, &[("accept", "text/event-stream")], b"");
        let (addr, local, tls) = (self.addr, self.local, self.tls.clone());
        let mut connection = connect(addr, local, tls).await?;
        connection.get_mut().write_all(&message).await?;
        connection.get_mut().flush().await?;
        let status_line = read_line(&mut connection).await?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
        let mut chunked = false;
        let mut event_stream = false;
        loop {
            let line = read_line(&mut connection).await?;
            if line.is_empty() {
                break;
            }
            let (name, value) = line.split_once(':').unwrap_or((&line, ""));
            let (name, value) = (name.trim(), value.trim().to_ascii_lowercase());
            if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            }
            if name.eq_ignore_ascii_case("content-type") && value.starts_with("text/event-stream") {
                event_stream = true;
            }
        }
        if status != 200 || !event_stream {
            return Err(io::Error::other(format!(
                "{path}: status {status}, not an event stream"
            )));
        }
        Ok(EventStream {
            connection,
            chunked,
            pending: Vec::new(),
            ended: false,
        })
    }
}

impl EventStream {
    /// The next event; `None` when the server ended the stream.
    pub async fn next(&mut self) -> io::Result<Option<ServerEvent>> {
        let mut event = String::new();
        let mut data: Vec<String> = Vec::new();
        loop {
            let Some(line) = self.line().await? else {
                return Ok(None);
            };
            if line.is_empty() {
                if data.is_empty() && event.is_empty() {
                    continue;
                }
                return Ok(Some(ServerEvent {
                    event: if event.is_empty() {
                        "message".into()
                    } else {
                        event
                    },
                    data: data.join("\n"),
                }));
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => event = value.to_string(),
                "data" => data.push(value.to_string()),
                _ => {}
            }
        }
    }

    /// The next line of the body, without its line end; `None` at its end.
    async fn line(&mut self) -> io::Result<Option<String>> {
        loop {
            if let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=at).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return String::from_utf8(line)
                    .map(Some)
                    .map_err(|_| invalid("event stream is not UTF-8".into()));
            }
            if self.pending.len() > MAX_EVENT {
                return Err(invalid("the server sent an overlong event line".into()));
            }
            if self.ended || !self.fill().await? {
                self.ended = true;
                return Ok(None);
            }
        }
    }

    /// Reads more of the body into `pending`; `false` at its end.
    async fn fill(&mut self) -> io::Result<bool> {
        if !self.chunked {
            let mut buf = [0u8; 4096];
            let n = self.connection.read(&mut buf).await?;
            self.pending.extend_from_slice(&buf[..n]);
            return Ok(n > 0);
        }
        let size_line = match read_line(&mut self.connection).await {
            Ok(line) => line,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(e),
        };
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            return Ok(false);
        }
        if size > MAX_EVENT {
            return Err(invalid(format!("a {size}-byte chunk is too large")));
        }
        let start = self.pending.len();
        self.pending.resize(start + size, 0);
        self.connection
            .read_exact(&mut self.pending[start..])
            .await?;
        read_line(&mut self.connection).await?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A server that answers one request with `head` and then `chunks`,
    /// each as one HTTP chunk, then the last chunk.
    async fn serve(head: &'static str, chunks: Vec<&'static str>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut request = vec![0u8; 4096];
            let _ = tcp.read(&mut request).await.unwrap();
            tcp.write_all(head.as_bytes()).await.unwrap();
            for chunk in chunks {
                let framed = format!("{:x}\r\n{chunk}\r\n", chunk.len());
                tcp.write_all(framed.as_bytes()).await.unwrap();
            }
            tcp.write_all(b"0\r\n\r\n").await.unwrap();
        });
        addr
    }

    #[tokio::test]
    async fn events_are_read_across_chunks_without_comments() {
        let addr = serve(
            "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n",
            vec![
                ": keep-alive\n\n",
                "event: week\ndata: {\"a\":",
                "1}\n\ndata: one\ndata: two\n\n",
            ],
        )
        .await;
        let mut stream = HttpClient::new(addr).events("/live").await.unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first.event, "week");
        assert_eq!(first.json().unwrap()["a"], 1);
        let second = stream.next().await.unwrap().unwrap();
        assert_eq!(
            second,
            ServerEvent {
                event: "message".into(),
                data: "one\ntwo".into()
            }
        );
        assert_eq!(stream.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_refusal_is_an_error_naming_its_status() {
        let addr = serve(
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
            vec!["{\"error\":\"log in first\"}"],
        )
        .await;
        let error = HttpClient::new(addr).events("/live").await.err().unwrap();
        assert!(error.to_string().contains("status 401"), "{error}");
    }
}
