//! What a node counts and measures, served as `GET /metrics` in the
//! Prometheus text format.
//!
//! Every node owns one [`Metrics`]: the integration tests run several nodes
//! in one process, and each must show only its own traffic, so there is no
//! global registry. A node hands a clone of it to each service, and the
//! services record at their front doors:
//!
//! * [`Metrics::begin`] opens a [`Request`]: one tracing span (service,
//!   front door, kind, peer, outcome; what `--log-format json` shows) and,
//!   when it finishes, one count and one latency observation;
//! * [`Metrics::connection`] counts a connection while it is open;
//! * [`Metrics::count`] counts anything else that happens (chat messages,
//!   reply-cache hits, bytes transferred, datagrams dropped).
//!
//! What is known only at the moment of a scrape (the election's term, live
//! nodes, queue depths, pool use) is read then, by the hooks given to
//! [`Metrics::on_scrape`], into [`Metrics::gauge`]s and
//! [`Metrics::mirror`]ed counters.
//!
//! [`text::Samples`] reads the text back into numbers (tests, benches).
//!
//! Label values come from fixed sets of names in our code (or from axum's
//! matched route), never from what a client sent: a label per stranger's
//! string would let anyone grow the registry without bound.

mod families;
mod latency;
mod request;
pub mod text;

use std::sync::{Arc, Mutex};

use prometheus_client::registry::Registry;

pub use request::{Connection, Request};

use families::Families;

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A scrape hook: reads some state of the node into gauges and counters.
type Hook = Box<dyn Fn(&Metrics) + Send + Sync>;

/// One node's metrics. Cloning is cheap and shares them.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    families: Families,
    hooks: Mutex<Vec<Hook>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Empty metrics, every name prefixed `convene_`.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("convene");
        let families = Families::register(&mut registry);
        Metrics {
            inner: Arc::new(Inner {
                registry,
                families,
                hooks: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Adds a hook every scrape runs before encoding.
    pub fn on_scrape(&self, hook: impl Fn(&Metrics) + Send + Sync + 'static) {
        self.hooks().push(Box::new(hook));
    }

    /// Runs the scrape hooks, then encodes every metric (OpenMetrics text,
    /// which Prometheus reads; see [`CONTENT_TYPE`]).
    pub fn encode(&self) -> String {
        for hook in self.hooks().iter() {
            hook(self);
        }
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.inner.registry);
        text
    }

    /// Starts observing one request of `service` at front door `door`.
    pub fn begin(
        &self,
        service: &'static str,
        door: &'static str,
        kind: impl Into<std::borrow::Cow<'static, str>>,
        peer: Option<std::net::SocketAddr>,
    ) -> Request {
        Request::begin(self.clone(), service, door, kind.into(), peer)
    }

    /// Counts a connection to `service` at `door` until the returned guard
    /// is dropped.
    pub fn connection(&self, service: &'static str, door: &'static str) -> Connection {
        Connection::open(self.clone(), service, door)
    }

    /// Adds `by` to the event counter `convene_events_total{service, event}`
    /// (a chat message relayed, a reply-cache hit, a datagram dropped...).
    pub fn count(&self, service: &'static str, event: &'static str, by: u64) {
        self.families()
            .events
            .get_or_create(&families::EventLabels { service, event })
            .inc_by(by);
    }

    /// Raises the event counter to `total`, a count kept elsewhere (the
    /// transport's authentication counts, say); it never goes down.
    pub fn mirror(&self, service: &'static str, event: &'static str, total: u64) {
        let counter = self
            .families()
            .events
            .get_or_create_owned(&families::EventLabels { service, event });
        let seen = counter.get();
        if total > seen {
            counter.inc_by(total - seen);
        }
    }

    /// Sets a gauge; `labels` name the series of a gauge that has them
    /// (see [`Gauge`]) and are ignored by one that has none.
    pub fn gauge(&self, gauge: Gauge, labels: &[(&'static str, &str)], value: i64) {
        self.families().gauge(gauge, labels).set(value);
    }

    /// Sets `convene_db_pool_connections{db, state}` for the pool of `db`
    /// (`events`, `booking`, `locks`): its connections `idle` and `in_use`.
    pub fn pool(&self, db: &str, pool: PoolUse) {
        let idle = pool.idle.min(pool.open);
        self.gauge(
            Gauge::DbPool,
            &[("db", db), ("state", "idle")],
            i64::from(idle),
        );
        self.gauge(
            Gauge::DbPool,
            &[("db", db), ("state", "in_use")],
            i64::from(pool.open - idle),
        );
    }

    /// Forgets every labelled value of a gauge, before a hook sets the
    /// current ones (the coordinator's id, say, which changes).
    pub fn clear(&self, gauge: Gauge) {
        self.families().clear(gauge);
    }

    fn families(&self) -> &Families {
        &self.inner.families
    }

    fn hooks(&self) -> std::sync::MutexGuard<'_, Vec<Hook>> {
        // A hook that panicked leaves the list itself intact.
        self.inner
            .hooks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub use families::Gauge;

/// A database pool's connections at one moment, as a backend reports them
/// for [`Metrics::pool`] (sqlx's `Pool::size` and `Pool::num_idle`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolUse {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Of those, idle in the pool.
    pub idle: u32,
}

#[cfg(test)]
mod tests;
