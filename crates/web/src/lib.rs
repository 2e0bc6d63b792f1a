//! The web app: server-rendered pages and the JSON API of the events
//! service, served by every node that has an `http_port`.
//!
//! Any node with a web front can serve any request: accounts, sessions and
//! events all live in the cluster's shared database, and the [`Events`]
//! handle sends creations and submissions to event servers round-robin. A
//! browser or API client may therefore be spread over several nodes (behind
//! a load balancer, or by hand) and stay logged in.
//!
//! # Layout
//!
//! - [`routes`]: every route, and the headers on every response.
//! - [`state`]: [`App`](state::App), the state every handler shares, and
//!   the request body limit.
//! - [`session`]: cookies, session lookup, CSRF tokens, who is asking.
//! - [`password`]: user name and password rules, argon2id off the async threads.
//! - [`accounts`]: register and log in, shared by pages and API.
//! - [`throttle`]: how often one address or account may try them;
//!   [`rate`], the sans-IO rate limiter underneath.
//! - [`pages`]: the HTML pages (maud), which need no script (but the chat).
//! - [`forms`]: reading form bodies, interval rows, participant lists.
//! - [`api`]: the JSON API under `/api`.
//! - [`paging`]: pages of "my events", for the page and the API.
//! - [`ops`]: the operations API (`/api/status`, `/api/files`): the
//!   cluster's status and shared files, for accounts and the operator.
//! - [`week`]: times of the booking week, `Mon:10:00`.
//! - [`websocket`]: the server's side of RFC 6455, for `/api/chat`.
//! - [`error`]: refusals as error pages or `{"error": …}`.
//! - [`timefmt`]: times in the viewer's zone, relative deadlines.
//! - [`client`]: a small HTTP/1.1 client for tests, benchmarks and the CLI.
//! - [`server`]: the accept loop: connection caps, `503` beyond them,
//!   graceful stop.
//! - [`watchdog`]: a connection's timers (slow headers, idle keep-alive).
//! - [`tls`]: the node's certificate, `Secure` cookies and HSTS, a
//!   client's trusted roots.
//! - [`observe`]: every request counted and timed by its route.
//! - [`probes`]: the probe server of `metrics_port` (`/metrics`,
//!   `/healthz`, `/readyz`, plain HTTP).

#![deny(missing_docs)]

pub mod accounts;
pub mod api;
pub mod client;
pub mod error;
pub mod forms;
pub mod observe;
pub mod ops;
pub mod pages;
pub mod paging;
pub mod password;
pub mod probes;
pub mod rate;
pub mod routes;
pub mod scripts;
pub mod server;
pub mod session;
pub mod state;
pub mod throttle;
pub mod timefmt;
pub mod tls;
pub mod watchdog;
pub mod websocket;
pub mod week;

use std::net::SocketAddr;

use convene_cluster::Limits;
use convene_events::Events;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use tls::{ServerTls, TlsError};

/// What the web front needs from its node.
pub struct WebContext {
    /// The events service on this node.
    pub events: Events,
    /// The bound listener for `http_port`.
    pub listener: TcpListener,
    /// What strangers may use of this node (`cluster.limits`): connections,
    /// header and idle timeouts, logins, caps.
    pub limits: Limits,
    /// Resolves when the node stops.
    pub shutdown: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
    /// The node's membership and files, for the operations API (none: no
    /// `/api/status` or `/api/files` on this front).
    pub operations: Option<ops::Operations>,
    /// The node's certificate, if it serves TLS (loaded at start with
    /// [`ServerTls::load`], so a bad file stops the node before anything
    /// runs).
    pub tls: Option<ServerTls>,
    /// The node's metrics, where this service counts what it serves.
    pub metrics: convene_metrics::Metrics,
}

/// A running web front.
pub struct WebService {
    addr: Option<SocketAddr>,
    task: JoinHandle<()>,
}

/// Starts serving pages and the API on the listener (over TLS if the
/// context has a certificate; see [`server`]).
pub fn start(context: WebContext) -> WebService {
    let addr = context.listener.local_addr().ok();
    // The server loop gives handlers each request's TCP peer address
    // (`ConnectInfo`): the rate limits count by it.
    let mut app = router(
        context.events,
        &context.limits,
        context.operations,
        context.metrics,
    );
    if context.tls.is_some() {
        app = app.layer(axum::middleware::map_response(tls::harden));
    }
    let task = tokio::spawn(async move {
        server::serve(
            context.listener,
            app,
            &context.limits,
            context.tls,
            context.shutdown,
        )
        .await;
    });
    WebService { addr, task }
}

/// Every route of the web app, for a server or a test, counting into
/// `metrics`; the operations API too with `operations`. A server must
/// record each connection's peer address as `ConnectInfo<SocketAddr>` (as
/// [`start`] does): logins and registrations are refused without it.
pub fn router(
    events: Events,
    limits: &Limits,
    operations: Option<ops::Operations>,
    metrics: convene_metrics::Metrics,
) -> axum::Router {
    routes::router(events, limits, operations, metrics)
}

impl WebService {
    /// Where the web front listens.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Waits for the server to end (after shutdown).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}
