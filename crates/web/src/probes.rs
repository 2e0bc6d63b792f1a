//! The probe server of a node's `metrics_port`: plain HTTP with three
//! routes, for a Prometheus server and a load balancer that should not (or
//! cannot: the node has no `http_port`) reach the web front.
//!
//! | Route | What |
//! |---|---|
//! | `GET /metrics` | the node's metrics (see [`ops::metrics`](crate::ops::metrics)) |
//! | `GET /healthz` | `200 ok`: the process is alive |
//! | `GET /readyz` | `200` or `503` and why (see [`ops::health`](crate::ops::health)) |
//!
//! Anything else is a plain `404`. It runs on the web front's own server
//! loop ([`server::serve`]) with the node's `[limits]`: the same header and
//! idle timers, the same connection caps, the same graceful stop. It never
//! speaks TLS (a node's certificate is for its web front; keep this port
//! on the monitoring network instead) and has no pages, sessions or
//! logins. Its requests are not counted in `convene_requests_total`: a
//! scrape every few seconds would only add a line that says so.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use axum::Router;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use convene_cluster::Limits;
use convene_metrics::Metrics;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::ops::health::{self, Readiness};
use crate::server;

/// What the probe server needs from its node.
pub struct ProbeContext {
    /// The bound listener for `metrics_port`.
    pub listener: TcpListener,
    /// The node's `[limits]` (timers and connection caps).
    pub limits: Limits,
    /// Resolves when the node stops.
    pub shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The node's metrics.
    pub metrics: Metrics,
    /// What `/readyz` and `convene_ready` look at.
    pub readiness: Readiness,
}

/// A running probe server.
pub struct ProbeServer {
    addr: Option<SocketAddr>,
    task: JoinHandle<()>,
}

/// The probe server's routes.
pub fn router(metrics: Metrics, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(crate::ops::metrics::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "not found: this port serves /metrics, /healthz and /readyz\n",
            )
                .into_response()
        })
        .layer(axum::Extension(metrics))
        .layer(axum::Extension(readiness))
}

/// Starts serving the probes on the context's listener.
pub fn start(context: ProbeContext) -> ProbeServer {
    let addr = context.listener.local_addr().ok();
    let app = router(context.metrics, context.readiness);
    let task = tokio::spawn(async move {
        server::serve(
            context.listener,
            app,
            &context.limits,
            None,
            context.shutdown,
        )
        .await;
    });
    ProbeServer { addr, task }
}

impl ProbeServer {
    /// Where the probe server listens.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// Waits for the server to end (after shutdown).
    pub async fn join(self) {
        let _ = self.task.await;
    }
}
