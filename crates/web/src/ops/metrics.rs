//! `GET /metrics`: what the node has counted, in the text format
//! Prometheus scrapes (OpenMetrics, [`convene_metrics::CONTENT_TYPE`]).
//!
//! Served with no login, like `/healthz` and `/readyz`: a Prometheus
//! server has no session, and an operator credential per scrape would put
//! the cluster's secret in the monitoring system. What it shows is counts
//! and timings by route, service and node id, with no account, event,
//! file name or address in any label (see `convene_metrics`): the same
//! kind of thing an outsider could estimate by watching the front's
//! response times. Still, it tells a stranger how busy the node is and
//! which routes fail, so the firewall should let only the monitoring
//! server reach it: on a web front's `http_port` through a reverse proxy
//! that keeps `/metrics` to itself, or on the node's `metrics_port` (the
//! probe server, plain HTTP), reachable only from the monitoring network
//! (see the firewall table in `docs/deploy.md`).
//!
//! Before encoding, `convene_ready` is set from the same judgment as
//! `/readyz` (the database answers, a peer is heard, a coordinator is
//! known); the node's scrape hooks (`convene-node`'s `node_metrics`) read
//! the rest (the election, live nodes, queues, pools, peer drops).

use axum::Extension;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use convene_metrics::{Gauge, Metrics};

use super::health::Readiness;

/// `GET /metrics`: every metric of this node, as text.
pub(crate) async fn metrics(
    Extension(metrics): Extension<Metrics>,
    Extension(readiness): Extension<Readiness>,
) -> Response {
    let ready = readiness.is_ready().await;
    metrics.gauge(Gauge::Ready, &[], i64::from(ready));
    let text = metrics.encode();
    ([(CONTENT_TYPE, convene_metrics::CONTENT_TYPE)], text).into_response()
}
