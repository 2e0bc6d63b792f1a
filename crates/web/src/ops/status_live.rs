//! `GET /api/status/live`: the cluster's status as Server-Sent Events, a
//! `status` event carrying the JSON of `GET /api/status` at once and
//! whenever it changes (a node goes down or comes back, the coordinator
//! changes, a term moves on).
//!
//! Asking every node is a round of peer calls, so it is done once per web
//! front, not once per open page: one [`StatusFeed`] task gathers the
//! status every [`STATUS_EVERY`] (sooner when this node's membership sees
//! the live set or the coordinator change) and publishes it on a watch
//! channel only when it differs from the last. The task runs while some
//! page listens and ends when the last one leaves. A watch keeps only the
//! newest status, so a slow reader skips what it missed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Extension;
use axum::response::Response;
use axum::response::sse::Event;
use futures_util::stream;
use tokio::sync::watch;

use super::Ops;
use super::booking_live::sse;
use super::status::gather;
use crate::server::Stopping;

/// How often the feed asks every node while pages listen.
pub const STATUS_EVERY: Duration = Duration::from_secs(1);

/// The newest status JSON, once gathered.
type Latest = Option<Arc<str>>;

/// The web front's one status gatherer, started by the first listener.
#[derive(Default)]
pub(crate) struct StatusFeed {
    running: Mutex<Option<watch::Sender<Latest>>>,
}

impl StatusFeed {
    /// A receiver of the status; starts the gatherer if none runs.
    fn listen(&self, ops: &Arc<Ops>) -> watch::Receiver<Latest> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = running.as_ref() {
            let mut rx = tx.subscribe();
            rx.mark_changed();
            return rx;
        }
        let (tx, rx) = watch::channel(None);
        *running = Some(tx.clone());
        tokio::spawn(gatherer(ops.clone(), tx));
        rx
    }

    /// Whether the gatherer should stop (nobody listens); if so, it is
    /// forgotten in the same step, so the next listener starts a new one.
    fn done(&self, tx: &watch::Sender<Latest>) -> bool {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if tx.receiver_count() > 0 {
            return false;
        }
        *running = None;
        true
    }
}

/// Gathers the status while anyone listens.
async fn gatherer(ops: Arc<Ops>, tx: watch::Sender<Latest>) {
    let mut live = ops.membership.live();
    let mut coordinator = ops.membership.coordinator();
    loop {
        let text = serde_json::to_string(&gather(&ops).await).unwrap_or_default();
        tx.send_if_modified(|latest| {
            if latest.as_deref() == Some(text.as_str()) {
                return false;
            }
            *latest = Some(Arc::from(text));
            true
        });
        if ops.status_feed.done(&tx) {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(STATUS_EVERY) => {}
            _ = changed(&mut live) => {}
            _ = changed(&mut coordinator) => {}
        }
        if ops.status_feed.done(&tx) {
            return;
        }
    }
}

/// Waits for a membership watch to change (for ever once its sender is
/// gone: the timer still ticks).
async fn changed<T>(rx: &mut watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// `GET /api/status/live`.
pub async fn show(
    Extension(ops): Extension<Arc<Ops>>,
    stopping: Option<Extension<Stopping>>,
) -> Response {
    let rx = ops.status_feed.listen(&ops);
    let events = stream::unfold(rx, |mut rx| async move {
        loop {
            rx.changed().await.ok()?;
            let latest = rx.borrow_and_update().clone();
            if let Some(text) = latest {
                return Some((Event::default().event("status").data(&*text), rx));
            }
        }
    });
    sse(events, stopping)
}
