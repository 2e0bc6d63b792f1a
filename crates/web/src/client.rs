//! A small HTTP/1.1 client for tests, benchmarks and the command line: one
//! keep-alive connection, a cookie jar, and the whole response in memory.
//!
//! It is deliberately tiny (no redirects followed, no HTTP/2), so that
//! tests see exactly what the server sent (a `303` and its `Location`,
//! every `Set-Cookie`) and benchmarks measure the server rather than a
//! client library. One [`HttpClient`] is one user: it keeps that user's
//! cookies and reuses one connection, reconnecting when the server closed
//! it (an idle connection is closed by the server after a while).
//!
//! It speaks plain HTTP to an address ([`HttpClient::new`]) and HTTPS
//! through [`ClientTls`] ([`HttpClient::with_tls`]); [`HttpClient::from_url`]
//! picks from an `http://` or `https://` address.
//!
//! [`HttpClient::events`] follows a Server-Sent Events stream (the live
//! booking and status routes) on a connection of its own.
//!
//! ```no_run
//! # async fn demo(addr: std::net::SocketAddr) -> std::io::Result<()> {
//! use convene_web::client::HttpClient;
//! let mut alice = HttpClient::new(addr);
//! let body = serde_json::json!({"username": "alice", "password": "correct horse"});
//! alice.post_json("/api/login", &body).await?;
//! let events = alice.get("/api/events").await?;
//! assert_eq!(events.status, 200);
//! println!("{}", events.json()?);
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use convene_cluster::line::{self, LineError, LineReader};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

pub use crate::tls::ClientTls;
pub use events::{EventStream, ServerEvent};

mod events;
pub mod websocket;
use crate::tls::TlsError;

/// A connection to the server: plain TCP, or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

type Connection = BufReader<Box<dyn Stream>>;

/// Longest a request may take before it is abandoned.
const TIMEOUT: Duration = Duration::from_secs(30);

/// One response, read whole.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Every header, names lower-case, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The body (chunked bodies put back together).
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header called `name` (any case), such as each `Set-Cookie`.
    pub fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> io::Result<serde_json::Value> {
        serde_json::from_slice(&self.body)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The `Location` of a redirect.
    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }
}

/// A client for one server, with one user's cookies.
pub struct HttpClient {
    addr: SocketAddr,
    /// The address connections come from, if chosen.
    local: Option<IpAddr>,
    /// The `Host` header, if not the address (a client made from a URL).
    host: Option<String>,
    tls: Option<ClientTls>,
    connection: Option<Connection>,
    cookies: BTreeMap<String, String>,
}

/// Why [`HttpClient::from_url`] could not make a client.
#[derive(Debug, thiserror::Error)]
pub enum UrlError {
    /// Not `http://HOST[:PORT]` or `https://HOST[:PORT]`.
    #[error("{0:?} is not a server address: expected http://HOST[:PORT] or https://HOST[:PORT]")]
    Malformed(String),
    /// The host name did not resolve.
    #[error("cannot find {host}: {error}")]
    Resolve {
        /// The host.
        host: String,
        /// What the resolver said.
        error: io::Error,
    },
    /// TLS could not be set up (a trusted-root file, or the server name).
    #[error(transparent)]
    Tls(#[from] TlsError),
}

impl HttpClient {
    /// A client for the plain-HTTP server at `addr`; it connects on first
    /// use.
    pub fn new(addr: SocketAddr) -> Self {
        HttpClient {
            addr,
            local: None,
            host: None,
            tls: None,
            connection: None,
            cookies: BTreeMap::new(),
        }
    }

    /// The same client, connecting from `local` (any port), so that tests
    /// can be several clients at once: on Linux every `127.0.0.x` is a
    /// loopback address of its own.
    pub fn from_address(mut self, local: IpAddr) -> Self {
        self.local = Some(local);
        self.connection = None;
        self
    }

    /// A client for the HTTPS server at `addr`, checked with `tls`.
    pub fn with_tls(addr: SocketAddr, tls: ClientTls) -> Self {
        HttpClient {
            tls: Some(tls),
            ..HttpClient::new(addr)
        }
    }

    /// A client for the server at `url` (`http://HOST[:PORT]` or
    /// `https://HOST[:PORT]`, a trailing `/` allowed; HOST a name, an IPv4
    /// address or a bracketed IPv6 address). For `https://` it trusts the
    /// system's roots and the certificates in `extra_roots`, if given (a
    /// self-signed node's own certificate, for one).
    pub async fn from_url(url: &str, extra_roots: Option<&Path>) -> Result<Self, UrlError> {
        let malformed = || UrlError::Malformed(url.to_string());
        let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(malformed());
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) =
            split_authority(authority, if https { 443 } else { 80 }).ok_or_else(malformed)?;
        let addr = tokio::net::lookup_host((host, port))
            .await
            .and_then(|mut addrs| {
                addrs.next().ok_or_else(|| {
                    io::Error::new(io::ErrorKind::NotFound, "no address for this name")
                })
            })
            .map_err(|error| UrlError::Resolve {
                host: host.to_string(),
                error,
            })?;
        let mut client = if https {
            HttpClient::with_tls(addr, ClientTls::new(host, extra_roots)?)
        } else {
            HttpClient::new(addr)
        };
        client.host = Some(authority.to_string());
        Ok(client)
    }

    /// Points the client at another server (another node of the cluster),
    /// keeping its cookies: the same user, elsewhere.
    pub fn set_addr(&mut self, addr: SocketAddr) {
        if addr != self.addr {
            self.addr = addr;
            self.connection = None;
        }
    }

    /// Whether the client speaks HTTPS.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The server this client talks to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A cookie's value, as the server last set it.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies.get(name).map(String::as_str)
    }

    /// Sets (or, with `None`, removes) a cookie by hand.
    pub fn set_cookie(&mut self, name: &str, value: Option<&str>) {
        match value {
            Some(value) => self.cookies.insert(name.into(), value.into()),
            None => self.cookies.remove(name),
        };
    }

    /// `GET path`.
    pub async fn get(&mut self, path: &str) -> io::Result<HttpResponse> {
        self.request("GET", path, &[], b"").await
    }

    /// `POST path` with a JSON body and `Content-Type: application/json`.
    pub async fn post_json(
        &mut self,
        path: &str,
        body: &serde_json::Value,
    ) -> io::Result<HttpResponse> {
        let body = serde_json::to_vec(body)?;
        self.request("POST", path, &[("content-type", "application/json")], &body)
            .await
    }

    /// `POST path` with a form body (`application/x-www-form-urlencoded`),
    /// fields in the order given.
    pub async fn post_form(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
    ) -> io::Result<HttpResponse> {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        self.request(
            "POST",
            path,
            &[("content-type", "application/x-www-form-urlencoded")],
            body.as_bytes(),
        )
        .await
    }

    /// Any request. The jar's cookies and a `Content-Length` are added;
    /// `headers` are sent as given. A request sent on a kept-alive
    /// connection that the server had already closed is sent once more on
    /// a new one.
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<HttpResponse> {
        let message = self.message(method, path, headers, body);
        let reused = self.connection.is_some();
        let response = match tokio::time::timeout(TIMEOUT, self.exchange(&message, method)).await {
            Ok(Err(error)) if reused && is_stale(&error) => {
                self.connection = None;
                tokio::time::timeout(TIMEOUT, self.exchange(&message, method)).await
            }
            other => other,
        };
        let response = match response {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                self.connection = None;
                return Err(error);
            }
            Err(_) => {
                self.connection = None;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "no response in time",
                ));
            }
        };
        for value in response.headers_named("set-cookie") {
            self.remember(value);
        }
        Ok(response)
    }

    fn message(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let host = match &self.host {
            Some(host) => host.clone(),
            None => self.addr.to_string(),
        };
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {host}\r\n");
        if !self.cookies.is_empty() {
            let jar: Vec<String> = self
                .cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            head.push_str(&format!("cookie: {}\r\n", jar.join("; ")));
        }
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!("content-length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut message = head.into_bytes();
        message.extend_from_slice(body);
        message
    }

    async fn exchange(&mut self, message: &[u8], method: &str) -> io::Result<HttpResponse> {
        if self.connection.is_none() {
            let (addr, local, tls) = (self.addr, self.local, self.tls.clone());
            self.connection = Some(connect(addr, local, tls).await?);
        }
        let connection = self.connection.as_mut().expect("connected above");
        connection.get_mut().write_all(message).await?;
        // TLS holds written bytes until flushed; plain TCP ignores this.
        connection.get_mut().flush().await?;
        let (response, keep) = read_response(connection, method == "HEAD").await?;
        if !keep {
            self.connection = None;
        }
        Ok(response)
    }

    /// Applies one `Set-Cookie`: stores the value, or forgets the cookie if
    /// it is cleared (`Max-Age=0` or an empty value).
    fn remember(&mut self, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|p| p.trim().split_once('=')) else {
            return;
        };
        let cleared = value.is_empty()
            || parts.any(|attribute| attribute.trim().eq_ignore_ascii_case("max-age=0"));
        if cleared {
            self.cookies.remove(name);
        } else {
            self.cookies.insert(name.to_string(), value.to_string());
        }
    }
}

/// A new connection to the server (over TLS if the client speaks it).
async fn connect(
    addr: SocketAddr,
    local: Option<IpAddr>,
    tls: Option<ClientTls>,
) -> io::Result<Connection> {
    let stream = match local {
        None => TcpStream::connect(addr).await?,
        Some(local) => {
            let socket = match local {
                IpAddr::V4(_) => TcpSocket::new_v4()?,
                IpAddr::V6(_) => TcpSocket::new_v6()?,
            };
            socket.bind(SocketAddr::new(local, 0))?;
            socket.connect(addr).await?
        }
    };
    stream.set_nodelay(true)?;
    let stream: Box<dyn Stream> = match tls {
        None => Box::new(stream),
        Some(tls) => Box::new(tls.connect(stream).await?),
    };
    Ok(BufReader::new(stream))
}

/// Whether an error means the kept-alive connection was already closed by
/// the server before this request (nothing of a response was read).
fn is_stale(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::UnexpectedEof
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Reads one response; also says whether the connection may be reused.
async fn read_response(
    connection: &mut Connection,
    head_only: bool,
) -> io::Result<(HttpResponse, bool)> {
    let status_line = read_line(connection).await?;
    let mut words = status_line.splitn(3, ' ');
    let version = words.next().unwrap_or("");
    let status: u16 = words
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(connection).await?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let response_header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    let close =
        response_header("connection").is_some_and(|c| c.contains("close")) || version == "HTTP/1.0";
    let no_body = head_only || status / 100 == 1 || status == 204 || status == 304;
    let mut body = Vec::new();
    let mut keep = !close;
    if no_body {
    } else if response_header("transfer-encoding").is_some_and(|t| t.contains("chunked")) {
        loop {
            let size_line = read_line(connection).await?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, then the blank line.
                while !read_line(connection).await?.is_empty() {}
                break;
            }
            let start = body.len();
            body.resize(start + size, 0);
            connection.read_exact(&mut body[start..]).await?;
            read_line(connection).await?;
        }
    } else if let Some(length) = response_header("content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("bad content-length {length:?}")))?;
        body.resize(length, 0);
        connection.read_exact(&mut body).await?;
    } else {
        connection.read_to_end(&mut body).await?;
        keep = false;
    }
    Ok((
        HttpResponse {
            status,
            headers,
            body,
        },
        keep,
    ))
}

/// The longest status line, header line or chunk-size line taken, its
/// CRLF not counted: far above what any server sends, and a server that
/// never ends a line cannot make the client buffer without end.
pub const MAX_RESPONSE_LINE: usize = 64 * 1024;

/// One line without its CRLF; end of stream before it is `UnexpectedEof`,
/// a line over [`MAX_RESPONSE_LINE`] is `InvalidData`.
async fn read_line(connection: &mut Connection) -> io::Result<String> {
    // Each call reads a whole line, and an error drops the connection: the
    // framer need not outlive the call.
    let mut lines = LineReader::new(MAX_RESPONSE_LINE);
    let mut line = match line::read_line(connection, &mut lines).await? {
        Ok(line) => String::from_utf8(line)
            .map_err(|_| invalid("stream did not contain valid UTF-8".into()))?,
        Err(LineError::Closed) => {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        Err(LineError::TooLong { limit }) => {
            return Err(invalid(format!(
                "the server sent a line longer than {limit} bytes"
            )));
        }
    };
    while line.ends_with('\r') {
        line.pop();
    }
    Ok(line)
}

/// `host[:port]` or `[v6]:port`, with `default_port` if none is given.
fn split_authority(authority: &str, default_port: u16) -> Option<(&str, u16)> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let valid_host = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    if !valid_host {
        return None;
    }
    let port = match port {
        None => default_port,
        Some(port) => port.parse().ok()?,
    };
    Some((host, port))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncBufReadExt;
    use tokio::net::TcpListener;

    /// A server that answers each request with the next canned response
    /// and records what it was sent.
    async fn canned(
        responses: Vec<&'static str>,
    ) -> (SocketAddr, tokio::task::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut stream = BufReader::new(stream);
            let mut seen = Vec::new();
            for response in responses {
                let mut request = String::new();
                loop {
                    let mut line = String::new();
                    stream.read_line(&mut line).await.unwrap();
                    request.push_str(&line);
                    if line == "\r\n" {
                        break;
                    }
                }
                let length: usize = request
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |n| n.trim().parse().unwrap());
                let mut body = vec![0; length];
                stream.read_exact(&mut body).await.unwrap();
                request.push_str(&String::from_utf8(body).unwrap());
                seen.push(request);
                stream
                    .get_mut()
                    .write_all(response.as_bytes())
                    .await
                    .unwrap();
            }
            seen
        });
        (addr, task)
    }

    #[tokio::test]
    async fn cookies_keep_alive_and_chunked_bodies() {
        let (addr, server) = canned(vec![
            "HTTP/1.1 200 OK\r\nset-cookie: s=abc; HttpOnly; Path=/\r\nset-cookie: t=1\r\ncontent-length: 2\r\n\r\nhi",
            "HTTP/1.1 303 See Other\r\nlocation: /events\r\nset-cookie: t=; Max-Age=0\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n",
            "HTTP/1.1 204 No Content\r\n\r\n",
        ])
        .await;
        let mut client = HttpClient::new(addr);
        let first = client.get("/").await.unwrap();
        assert_eq!((first.status, first.text().as_str()), (200, "hi"));
        assert_eq!(client.cookie("s"), Some("abc"));
        assert_eq!(client.cookie("t"), Some("1"));
        let second = client
            .post_form("/login", &[("user", "a b&c"), ("x", "é")])
            .await
            .unwrap();
        assert_eq!(second.status, 303);
        assert_eq!(second.location(), Some("/events"));
        assert_eq!(second.body, b"abcde");
        assert_eq!(client.cookie("t"), None, "cleared by Max-Age=0");
        let third = client
            .post_json("/api", &serde_json::json!({"a": 1}))
            .await
            .unwrap();
        assert_eq!(third.status, 204);
        let seen = server.await.unwrap();
        assert!(seen[1].contains("cookie: s=abc; t=1\r\n"), "{}", seen[1]);
        assert!(seen[1].ends_with("user=a+b%26c&x=%C3%A9"), "{}", seen[1]);
        assert!(seen[2].contains("content-type: application/json"));
        assert!(seen[2].contains("cookie: s=abc\r\n"));
        assert!(seen[2].ends_with("{\"a\":1}"));
    }

    #[test]
    fn server_addresses_are_split_into_host_and_port() {
        assert_eq!(
            split_authority("example.org", 443),
            Some(("example.org", 443))
        );
        assert_eq!(
            split_authority("127.0.0.1:8080", 80),
            Some(("127.0.0.1", 8080))
        );
        assert_eq!(split_authority("[::1]:8443", 443), Some(("::1", 8443)));
        assert_eq!(split_authority("[::1]", 443), Some(("::1", 443)));
        for bad in [
            "",
            ":80",
            "host:port",
            "a b",
            "[::1",
            "[::1]x",
            "h/p",
            "u@h",
        ] {
            assert_eq!(split_authority(bad, 80), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn urls_make_plain_or_tls_clients() {
        let plain = HttpClient::from_url("http://127.0.0.1:9/", None)
            .await
            .unwrap();
        assert!(!plain.is_tls());
        assert_eq!(plain.addr(), "127.0.0.1:9".parse().unwrap());
        for bad in ["ftp://x", "127.0.0.1:80", "http://", "http://a:b"] {
            assert!(
                matches!(
                    HttpClient::from_url(bad, None).await,
                    Err(UrlError::Malformed(_))
                ),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn a_closed_keep_alive_connection_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // Each connection: answer one request, then close.
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let mut stream = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    stream.read_line(&mut line).await.unwrap();
                    if line == "\r\n" {
                        break;
                    }
                }
                stream
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .unwrap();
            }
        });
        let mut client = HttpClient::new(addr);
        for _ in 0..3 {
            assert_eq!(client.get("/").await.unwrap().text(), "ok");
        }
    }

    #[tokio::test]
    async fn a_server_that_never_ends_a_line_is_not_buffered_without_end() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut head = vec![0; 256];
            let _ = stream.read(&mut head).await;
            // A status line, then a header that never ends: far more than
            // the client takes, written until the client goes.
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nx-flood: ").await;
            let chunk = vec![b'a'; 16 * 1024];
            let mut sent = 0;
            while stream.write_all(&chunk).await.is_ok() {
                sent += chunk.len();
                if sent > 64 * MAX_RESPONSE_LINE {
                    break;
                }
            }
            sent
        });
        let mut client = HttpClient::new(addr);
        let error = client.get("/").await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(
            error.to_string(),
            format!("the server sent a line longer than {MAX_RESPONSE_LINE} bytes")
        );
        drop(client);
        let sent = server.await.unwrap();
        assert!(sent < 64 * MAX_RESPONSE_LINE, "the client stopped reading");
    }

    #[tokio::test]
    async fn a_header_of_exactly_the_limit_is_read() {
        let mut value = "v".repeat(MAX_RESPONSE_LINE - "x-long: ".len());
        let response = format!("HTTP/1.1 200 OK\r\nx-long: {value}\r\ncontent-length: 0\r\n\r\n");
        let (addr, server) = canned(vec![Box::leak(response.into_boxed_str())]).await;
        let mut client = HttpClient::new(addr);
        let response = client.get("/").await.unwrap();
        assert_eq!(response.header("x-long"), Some(value.as_str()));
        value.clear();
        server.await.unwrap();
    }
}
