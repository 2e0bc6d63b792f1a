//! Observing one request or one connection.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::Span;

use crate::Metrics;
use crate::families::{DoorLabels, LatencyLabels, RequestLabels};

/// One request being served. [`Request::finish`] records its outcome; a
/// request dropped unfinished (its task was cancelled, its client left) is
/// counted with the outcome `abandoned`.
///
/// Its span (target `convene_request`) carries the service, the front door,
/// the kind, the peer and, once known, the outcome, so that
/// `--log-format json` shows one record per request; silence it with
/// `RUST_LOG=info,convene_request=off`.
#[must_use = "a request is counted when it finishes"]
pub struct Request {
    metrics: Metrics,
    service: &'static str,
    door: &'static str,
    kind: Cow<'static, str>,
    started: Instant,
    span: Span,
    finished: bool,
}

impl Request {
    pub(crate) fn begin(
        metrics: Metrics,
        service: &'static str,
        door: &'static str,
        kind: Cow<'static, str>,
        peer: Option<SocketAddr>,
    ) -> Request {
        let span = tracing::info_span!(
            target: "convene_request",
            "request",
            service,
            door,
            kind = &*kind,
            peer = tracing::field::Empty,
            outcome = tracing::field::Empty,
        );
        if let Some(peer) = peer {
            span.record("peer", tracing::field::display(peer));
        }
        Request {
            metrics,
            service,
            door,
            kind,
            started: Instant::now(),
            span,
            finished: false,
        }
    }

    /// The request's span, to enter around its work.
    pub fn span(&self) -> &Span {
        &self.span
    }

    /// Names the request's kind once it is known (a datagram is decoded
    /// after it arrives, say). Only names from our code, never a client's.
    pub fn set_kind(&mut self, kind: impl Into<Cow<'static, str>>) {
        self.kind = kind.into();
        self.span.record("kind", &*self.kind);
    }

    /// Records the outcome (`ok`, `refused`, `bad_request`, `error`, or an
    /// HTTP status class) and the time taken.
    pub fn finish(mut self, outcome: &'static str) {
        self.record(outcome);
    }

    fn record(&mut self, outcome: &'static str) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.span.record("outcome", outcome);
        let families = self.metrics.families();
        families
            .requests
            .get_or_create(&RequestLabels {
                service: self.service,
                door: self.door,
                kind: self.kind.clone(),
                outcome,
            })
            .inc();
        families
            .latency
            .get_or_create(&LatencyLabels {
                service: self.service,
                door: self.door,
                kind: std::mem::take(&mut self.kind),
            })
            .observe(self.started.elapsed());
    }
}

impl Drop for Request {
    fn drop(&mut self) {
        self.record("abandoned");
    }
}

/// A connection counted open until dropped.
#[must_use = "a connection is counted open until this is dropped"]
pub struct Connection {
    metrics: Metrics,
    labels: DoorLabels,
}

impl Connection {
    pub(crate) fn open(metrics: Metrics, service: &'static str, door: &'static str) -> Connection {
        let labels = DoorLabels { service, door };
        let families = metrics.families();
        families.connections.get_or_create(&labels).inc();
        families.connections_open.get_or_create(&labels).inc();
        Connection { metrics, labels }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.metrics
            .families()
            .connections_open
            .get_or_create(&self.labels)
            .dec();
    }
}
