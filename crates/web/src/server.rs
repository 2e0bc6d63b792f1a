//! The web front's server loop: accepting connections, admitting or
//! refusing them, and serving each with hyper under its timers.
//!
//! `axum::serve` would do the serving, but it has no timers and no limits:
//! any client could hold a connection for ever by sending slowly, and
//! enough clients could take every file descriptor. So the loop is ours,
//! in the shape of mini-redis' `server.rs`, with hyper (axum's own HTTP
//! implementation) serving each admitted connection:
//!
//! 1. **Accept.** The front doors' one loop,
//!    [`accept_until`]: an error from `accept` is usually the process being
//!    out of file descriptors: the loop waits (1 ms, doubling up to 1 s)
//!    rather than spinning, and keeps going. Errors about one connection that
//!    died in the queue are skipped at once.
//! 2. **Admit.** A [`ConnectionLimiter`] holds the caps: open connections
//!    in all (`http_connections`) and from one address
//!    (`http_connections_per_ip`). A connection beyond either gets an HTTP
//!    `503` saying which, with `Retry-After`, and is closed. Refusals are
//!    themselves bounded
//!    ([`Refusals`](convene_cluster::refusal::Refusals)): past that, silence.
//! 3. **Serve.** Each admitted connection runs in its own task: the TLS
//!    handshake if the node has a certificate, then hyper's HTTP/1.1 over
//!    a stream whose [`watchdog`](crate::watchdog) closes it when the
//!    client is too slow with a request or idle too long. The task holds
//!    the connection's [`ConnectionPermit`]; its end gives the place back.
//!    A connection upgraded to a WebSocket leaves hyper's task, and keeps
//!    its place (a [`ConnectionSlot`]) until the WebSocket closes.
//! 4. **Stop.** When the node stops, the loop stops accepting and tells
//!    every connection to finish: an idle one closes at once, a busy one
//!    after its response. After [`DRAIN_PATIENCE`] whatever is left is cut.
//!
//! Handlers see the client's address as
//! `axum::extract::ConnectInfo<SocketAddr>`, as with `axum::serve`'s
//! connect info.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use convene_cluster::Limits;
use convene_cluster::accept::accept_until;
use convene_cluster::admission::{ConnectionLimiter, ConnectionPermit, Refused};
use convene_cluster::refusal::say_and_close;
use convene_cluster::shutdown::Shutdown;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;

use crate::tls::ServerTls;
use crate::watchdog::{DueBody, Finished, SharedWatchdog, Watchdog, Watched};

/// How long a stopping server lets its connections finish their requests.
pub const DRAIN_PATIENCE: Duration = Duration::from_secs(5);

/// The largest request head (request line and headers) taken; beyond it,
/// hyper answers `431`. Far above real requests (a few hundred bytes, plus
/// cookies), and it bounds what a slow client can make a connection buffer.
pub const MAX_HEAD: usize = 64 * 1024;

/// What a refused client is told to wait before trying again, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// What every connection task shares.
struct Shared {
    app: axum::Router,
    tls: Option<ServerTls>,
    http: http1::Builder,
    header_timeout: Duration,
    idle_timeout: Duration,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains. See
/// the [module docs](self).
pub async fn serve(
    listener: TcpListener,
    app: axum::Router,
    limits: &Limits,
    tls: Option<ServerTls>,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    // Our watchdog keeps the time (hyper's own timer would count idle time
    // as header time); without a timer hyper must not be given one.
    http.header_read_timeout(None).max_header_size(MAX_HEAD);
    let shared = Arc::new(Shared {
        app,
        tls,
        http,
        header_timeout: limits.http_header_timeout,
        idle_timeout: limits.http_idle_timeout,
    });
    let limiter = ConnectionLimiter::new(limits.http_connections, limits.http_connections_per_ip);
    let (stop_connections, stop) = Shutdown::new();
    let tls = shared.tls.clone();
    let mut connections = accept_until(
        "web",
        listener,
        limiter,
        shutdown,
        |tcp, peer, permit| {
            let accepted_at = Instant::now();
            connection(tcp, peer, accepted_at, shared.clone(), stop.clone(), permit)
        },
        |tcp, refused| refuse(tcp, tls.clone(), refused),
    )
    .await;
    stop_connections.trigger();
    let drained = tokio::time::timeout(DRAIN_PATIENCE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::info!(
            left = connections.len(),
            "web connections still busy after {DRAIN_PATIENCE:?}; cutting them"
        );
        connections.shutdown().await;
    }
}

/// A connection's place under the caps, as its requests see it: a
/// handler that takes the connection over (a WebSocket, after hyper has
/// let go of it) keeps a clone for as long as it uses the connection, so
/// the connection still counts against `http_connections` and
/// `http_connections_per_ip`.
#[derive(Clone, Debug)]
pub struct ConnectionSlot {
    _permit: Arc<ConnectionPermit>,
}

/// One admitted connection, from handshake to close.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    accepted: Instant,
    shared: Arc<Shared>,
    stop: Shutdown,
    permit: ConnectionPermit,
) {
    let _ = tcp.set_nodelay(true);
    let slot = ConnectionSlot {
        _permit: Arc::new(permit),
    };
    let Some(tls) = &shared.tls else {
        return http(tcp, peer, accepted, &shared, &stop, slot).await;
    };
    // The handshake counts against the first request's header time: a
    // client that starts a handshake and stalls is a slowloris too.
    let due = accepted + shared.header_timeout;
    if !starts_with_tls(&tcp, due).await {
        // Most likely a person who typed http:// for an https:// node.
        return say_and_close(tcp, &plain_http_to_tls()).await;
    }
    let handshake = tokio::time::timeout_at(due, tls.acceptor().accept(tcp));
    let stream = tokio::select! {
        done = handshake => match done {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(%peer, %error, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake not complete in time; closed");
                return;
            }
        },
        () = stop.wait() => return,
    };
    http(stream, peer, accepted, &shared, &stop, slot).await;
}

/// HTTP/1.1 over an established stream, until the client or the watchdog
/// closes it, or the node stops.
async fn http<S>(
    stream: S,
    peer: SocketAddr,
    accepted: Instant,
    shared: &Shared,
    stop: &Shutdown,
    slot: ConnectionSlot,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let watchdog = SharedWatchdog::new(Watchdog::new(
        accepted,
        shared.header_timeout,
        shared.idle_timeout,
    ));
    let io = TokioIo::new(Watched::new(stream, watchdog.clone()));
    let service = Handler {
        app: shared.app.clone(),
        peer,
        watchdog,
        slot,
        stop: stop.clone(),
    };
    // Upgrades: `/api/chat` switches the connection to a WebSocket.
    let conn = shared.http.serve_connection(io, service).with_upgrades();
    tokio::pin!(conn);
    let outcome = tokio::select! {
        outcome = conn.as_mut() => outcome,
        () = stop.wait() => {
            // Finish the request in hand, if any, then close.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(error) = outcome {
        // Timeouts, resets, malformed requests: the client's business.
        tracing::debug!(%peer, %error, "web connection ended");
    }
}

/// The app as hyper calls it: each request is reported to the watchdog,
/// its body given a deadline, the client's address attached.
#[derive(Clone)]
struct Handler {
    app: axum::Router,
    peer: SocketAddr,
    watchdog: SharedWatchdog,
    slot: ConnectionSlot,
    stop: Shutdown,
}

/// The server's stop signal, in every request's extensions: a response
/// that streams until the client leaves (Server-Sent Events) ends with it,
/// so stopping does not wait on open pages.
#[derive(Clone)]
pub struct Stopping(pub Shutdown);

type HandlerFuture =
    Pin<Box<dyn Future<Output = Result<Response<Finished<axum::body::Body>>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for Handler {
    type Response = Response<Finished<axum::body::Body>>;
    type Error = Infallible;
    type Future = HandlerFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let body_due = self.watchdog.request_started(Instant::now());
        let mut request = request.map(|body| DueBody::new(body, body_due));
        request.extensions_mut().insert(ConnectInfo(self.peer));
        request.extensions_mut().insert(self.slot.clone());
        request.extensions_mut().insert(Stopping(self.stop.clone()));
        let mut app = self.app.clone();
        let watchdog = self.watchdog.clone();
        Box::pin(async move {
            // A router is always ready; no `poll_ready` needed.
            let response = tower_service::Service::call(&mut app, request).await?;
            if response.status() == axum::http::StatusCode::SWITCHING_PROTOCOLS {
                watchdog.upgraded();
            }
            Ok(response.map(|body| Finished::new(body, watchdog)))
        })
    }
}

/// Tells a connection beyond the caps so, in HTTP (over TLS if the node
/// speaks TLS), and closes it.
async fn refuse(tcp: TcpStream, tls: Option<ServerTls>, refused: Refused) {
    let message = refusal(&refused);
    match tls {
        None => say_and_close(tcp, &message).await,
        Some(tls) => {
            if let Ok(stream) = tls.acceptor().accept(tcp).await {
                say_and_close(stream, &message).await;
            }
        }
    }
}

/// The `503` a refused connection gets: a short text saying which cap it
/// met.
pub fn refusal(refused: &Refused) -> Vec<u8> {
    let body = format!("{refused}\n");
    format!(
        "HTTP/1.1 503 Service Unavailable\r\n\
         content-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\n\
         retry-after: {RETRY_AFTER_SECONDS}\r\n\
         cache-control: no-store\r\n\
         connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}

/// Whether the client's first byte, by `due`, opens a TLS handshake (a
/// TLS record of type 22); `false` for anything else, or nothing in time.
async fn starts_with_tls(tcp: &TcpStream, due: Instant) -> bool {
    const HANDSHAKE_RECORD: u8 = 0x16;
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout_at(due, tcp.peek(&mut first)).await,
        Ok(Ok(1)) if first[0] == HANDSHAKE_RECORD
    )
}

/// The answer to a plain-HTTP request on a TLS port.
fn plain_http_to_tls() -> Vec<u8> {
    let body = "This port serves HTTPS only: use an https:// address.\n";
    format!(
        "HTTP/1.1 400 Bad Request\r\n\
         content-type: text/plain; charset=utf-8\r\n\
         content-length: {}\r\n\
         connection: close\r\n\
         \r\n\
         {body}",
        body.len()
    )
    .into_bytes()
}
