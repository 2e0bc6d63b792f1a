//! `GET /api/chat`: a browser's chat connection, a WebSocket carrying the
//! course protocol's JSON messages, one message per text frame, the same
//! messages a TCP client sends and gets as lines.
//!
//! ```text
//!   browser ──WebSocket──▶ bridge ──lines──▶ in-process pipe ──▶ this node's chat server
//!                            │  (after a `route`)
//!                            └──lines──▶ TCP ──▶ the other server's chat port
//! ```
//!
//! **In process, not over loopback.** The bridge does not dial this
//! node's own chat port: the chat port caps connections per address, and
//! every browser would arrive from the web front's one address. It asks
//! the chat service for an in-process connection instead
//! ([`ChatHandle::connect`]), which is served by the very code that serves
//! a TCP client: the identity timer, the line limit, the outbox, and the
//! `error` line for junk are the same.
//!
//! **Framing.** A client message becomes one line: its bytes with any
//! CR or LF turned into spaces (valid JSON has them only as whitespace
//! between tokens, so nothing valid changes meaning and a frame can never
//! smuggle a second line), then `\n`. A message over [`MAX_LINE`] is
//! measured from its frame headers and refused unread with the chat
//! server's own "line longer than" `error`, then a close (1009), as the
//! chat port closes a too-long line. Frames that break RFC 6455 close the
//! socket with 1002.
//!
//! **Following a `route`.** Joining a room that lives on another server
//! gets a `route` reply; a course client then connects to that server and
//! sends `movejoin` there. A browser cannot open TCP sockets, so the
//! bridge does the connecting: it passes the `route` on (so the page knows
//! to send `movejoin`), drops the connection to this server (the EOF the
//! protocol expects after a route) and connects to the named chat port.
//! The browser's next message, its `movejoin`, goes there. To that server
//! the browser is a TCP client from the web front's address, under its
//! per-address cap (`chat_connections_per_ip`, 256 by default).
//!
//! **Identity.** The browser claims whichever identity it likes, under the
//! course's rules and the cluster's uniqueness, as any client does; the
//! page offers the account's name, or a name made from it when the account
//! name breaks the rules (see `pages/chat.rs`). Tying identities to
//! accounts would make the browser a different kind of client from the
//! course's own, which the protocol has no way to tell apart.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::http::header::{
    CONNECTION, HOST, HeaderMap, HeaderValue, ORIGIN, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY,
    SEC_WEBSOCKET_VERSION, UPGRADE,
};
use axum::response::{IntoResponse, Response};
use convene_chat::service::{ChatHandle, line_too_long_notice};
use convene_chat::{MAX_LINE, ServerMessage};
use convene_cluster::line::{LineError, LineReader, read_line};
use convene_cluster::shutdown::Shutdown;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::Ops;
use crate::error::ApiError;
use crate::server::ConnectionSlot;
use crate::websocket::{self, FrameError, FrameReader, Incoming, close_code};

/// What `/api/chat` needs from its node: a way into its chat server, and
/// the node's stop signal (a bridge that followed a route to another
/// server is no longer tied to this node's chat server, so it watches the
/// node itself).
#[derive(Clone)]
pub struct ChatFront {
    /// This node's chat server.
    pub chat: ChatHandle,
    /// Fires when the node stops.
    pub shutdown: Shutdown,
}

/// The longest line taken from a chat server: far above any reply (a
/// `roomlist` of thousands of rooms), and a bound all the same.
const MAX_SERVER_LINE: usize = 4 * 1024 * 1024;

/// How long connecting to another server after a `route` may take.
const ROUTE_CONNECT: Duration = Duration::from_secs(5);

/// Answers the opening handshake and starts the bridge.
pub(crate) async fn connect(Extension(ops): Extension<Arc<Ops>>, mut request: Request) -> Response {
    let Some(front) = ops.chat.clone() else {
        return ApiError::new(StatusCode::NOT_FOUND, "this node runs no chat server")
            .into_response();
    };
    let key = match handshake_key(request.headers()) {
        Ok(key) => key,
        Err(response) => return response,
    };
    let Some(on_upgrade) = request
        .extensions_mut()
        .remove::<hyper::upgrade::OnUpgrade>()
    else {
        return ApiError::new(
            StatusCode::BAD_REQUEST,
            "this connection cannot be upgraded to a WebSocket",
        )
        .into_response();
    };
    // The connection's place under the web front's caps, held while the
    // WebSocket is open (hyper's task, which held it, ends at the upgrade).
    let slot = request.extensions_mut().remove::<ConnectionSlot>();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => bridge(TokioIo::new(upgraded), front).await,
            Err(error) => tracing::debug!(%error, "WebSocket upgrade failed"),
        }
        drop(slot);
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    if let Ok(accept) = HeaderValue::try_from(websocket::accept_key(&key)) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, accept);
    }
    response
}

/// The client's `Sec-WebSocket-Key`, if the request is a WebSocket
/// handshake this server takes; otherwise the answer that says why.
#[allow(clippy::result_large_err)]
fn handshake_key(headers: &HeaderMap) -> Result<String, Response> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    let has_token = |name, token: &str| {
        text(name).is_some_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token(UPGRADE, "websocket") || !has_token(CONNECTION, "upgrade") {
        let mut response = ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "GET /api/chat is a WebSocket: connect with a WebSocket client (the /chat page does)",
        )
        .into_response();
        response
            .headers_mut()
            .insert(UPGRADE, HeaderValue::from_static("websocket"));
        return Err(response);
    }
    if text(SEC_WEBSOCKET_VERSION).map(str::trim) != Some("13") {
        let mut response = ApiError::new(
            StatusCode::UPGRADE_REQUIRED,
            "only WebSocket version 13 (RFC 6455) is spoken",
        )
        .into_response();
        response
            .headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static("13"));
        return Err(response);
    }
    // A page on another site must not open a chat with this browser's
    // cookie: browsers name the page's origin, which must be this host.
    // (Clients other than browsers send no Origin and are not at risk.)
    if let Some(origin) = text(ORIGIN) {
        let host = text(HOST).unwrap_or("");
        let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest);
        if host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("a WebSocket from origin {origin:?} is not for this host"),
            )
            .into_response());
        }
    }
    match text(SEC_WEBSOCKET_KEY) {
        Some(key) if websocket::is_valid_key(key) => Ok(key.trim().to_string()),
        _ => Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Sec-WebSocket-Key is missing or not the base64 of 16 bytes",
        )
        .into_response()),
    }
}

/// One side of a chat connection, as lines: the in-process pipe to this
/// node's chat server, or TCP to another's.
struct Upstream {
    read: BufReader<Box<dyn AsyncRead + Send + Unpin>>,
    write: Box<dyn AsyncWrite + Send + Unpin>,
    lines: LineReader,
}

impl Upstream {
    fn new<S: AsyncRead + AsyncWrite + Send + Unpin + 'static>(stream: S) -> Self {
        let (read, write) = tokio::io::split(stream);
        Upstream {
            read: BufReader::new(Box::new(read)),
            write: Box::new(write),
            lines: LineReader::new(MAX_SERVER_LINE),
        }
    }
}

/// How a bridge ends, told to the browser in the close frame.
struct Closing {
    code: u16,
    reason: String,
}

impl Closing {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Closing {
            code,
            reason: reason.into(),
        }
    }
}

/// Carries messages between the browser and its chat server until either
/// ends. See the [module docs](self).
async fn bridge<S: AsyncRead + AsyncWrite + Send + Unpin>(socket: S, front: ChatFront) {
    let (read, mut write) = tokio::io::split(socket);
    let mut frames = FrameReader::new(read, MAX_LINE);
    let mut upstream = Upstream::new(front.chat.connect());
    let closing = loop {
        tokio::select! {
            incoming = frames.next() => match incoming {
                Ok(Incoming::Message(mut bytes)) => {
                    for byte in &mut bytes {
                        if matches!(*byte, b'\n' | b'\r') {
                            *byte = b' ';
                        }
                    }
                    bytes.push(b'\n');
                    let sent = async {
                        upstream.write.write_all(&bytes).await?;
                        upstream.write.flush().await
                    };
                    if sent.await.is_err() {
                        break Closing::new(close_code::GOING_AWAY, "the chat server closed the connection");
                    }
                }
                Ok(Incoming::Ping(payload)) => {
                    if websocket::send_pong(&mut write, &payload).await.is_err() {
                        return;
                    }
                }
                Ok(Incoming::Close(_)) => break Closing::new(close_code::NORMAL, ""),
                Ok(Incoming::TooBig) => {
                    let notice = line_too_long_notice();
                    let _ = websocket::send_text(&mut write, trim_newline(&notice)).await;
                    break Closing::new(close_code::TOO_BIG, format!("a message over {MAX_LINE} bytes"));
                }
                Err(FrameError::Protocol(reason)) => break Closing::new(close_code::PROTOCOL_ERROR, reason),
                // The browser went away: nobody to tell.
                Err(FrameError::Io(_)) => return,
            },
            line = read_line(&mut upstream.read, &mut upstream.lines) => match line {
                Ok(Ok(line)) => {
                    if websocket::send_text(&mut write, trim_newline(&line)).await.is_err() {
                        return;
                    }
                    if let Some((host, port)) = route_of(&line) {
                        match follow(&host, port).await {
                            Ok(next) => upstream = next,
                            Err(reason) => {
                                let notice = error_message(&reason);
                                let _ = websocket::send_text(&mut write, notice.as_bytes()).await;
                                break Closing::new(close_code::GOING_AWAY, "could not reach the other server");
                            }
                        }
                    }
                }
                Ok(Err(LineError::TooLong { .. })) => {
                    break Closing::new(close_code::GOING_AWAY, "the chat server sent a line too long to pass on");
                }
                Ok(Err(LineError::Closed)) | Err(_) => {
                    break Closing::new(close_code::NORMAL, "the chat server closed the connection");
                }
            },
            () = front.shutdown.wait() => break Closing::new(close_code::GOING_AWAY, "the server is stopping"),
        }
    };
    let _ = websocket::send_close(&mut write, closing.code, &closing.reason).await;
    let _ = write.shutdown().await;
}

/// The server named by a `route` line, if `line` is one.
fn route_of(line: &[u8]) -> Option<(String, u16)> {
    let text = std::str::from_utf8(line).ok()?;
    // Cheap test first: most lines are not routes.
    if !text.contains("\"route\"") {
        return None;
    }
    match ServerMessage::parse(text.trim_end()) {
        Ok(ServerMessage::Route { host, port, .. }) => Some((host, port)),
        _ => None,
    }
}

/// Connects to the chat port a `route` named.
async fn follow(host: &str, port: u16) -> Result<Upstream, String> {
    match tokio::time::timeout(ROUTE_CONNECT, TcpStream::connect((host, port))).await {
        Ok(Ok(stream)) => {
            let _ = stream.set_nodelay(true);
            Ok(Upstream::new(stream))
        }
        Ok(Err(error)) => Err(format!(
            "could not connect to the chat server at {host}:{port}: {error}"
        )),
        Err(_) => Err(format!(
            "the chat server at {host}:{port} did not answer within {} s",
            ROUTE_CONNECT.as_secs()
        )),
    }
}

/// `line` without its `\n`.
fn trim_newline(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\n").unwrap_or(line)
}

/// An `error` message, as the chat server words them.
fn error_message(reason: &str) -> String {
    serde_json::json!({"type": "error", "reason": reason}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const GOOD: [(&str, &str); 5] = [
        ("upgrade", "websocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("host", "127.0.0.1:8080"),
    ];

    #[test]
    fn a_browser_handshake_is_taken() {
        assert_eq!(
            handshake_key(&headers(&GOOD)).unwrap(),
            "dGhlIHNhbXBsZSBub25jZQ=="
        );
        let mut same_origin = GOOD.to_vec();
        same_origin.push(("origin", "http://127.0.0.1:8080"));
        assert!(handshake_key(&headers(&same_origin)).is_ok());
    }

    #[test]
    fn other_requests_are_refused_with_the_reason() {
        let status =
            |pairs: &[(&'static str, &str)]| handshake_key(&headers(pairs)).unwrap_err().status();
        assert_eq!(status(&GOOD[2..]), StatusCode::UPGRADE_REQUIRED);
        let mut old = GOOD.to_vec();
        old[2] = ("sec-websocket-version", "8");
        assert_eq!(status(&old), StatusCode::UPGRADE_REQUIRED);
        let mut keyless = GOOD.to_vec();
        keyless[3] = ("sec-websocket-key", "short");
        assert_eq!(status(&keyless), StatusCode::BAD_REQUEST);
        let mut foreign = GOOD.to_vec();
        foreign.push(("origin", "https://evil.example"));
        assert_eq!(status(&foreign), StatusCode::FORBIDDEN);
    }

    #[test]
    fn only_route_lines_are_followed() {
        let route = br#"{"type":"route","roomid":"jokes","host":"127.0.0.1","port":"4444"}"#;
        assert_eq!(route_of(route), Some(("127.0.0.1".into(), 4444)));
        let message = br#"{"type":"message","identity":"Adel","content":"\"route\""}"#;
        assert_eq!(route_of(message), None);
    }
}
