//! What a node's metrics read at each scrape, from the parts that keep it:
//! the election, the live nodes, what the peer transport and the booking
//! front door dropped and why, the reply caches' hits, the files queues and
//! the database pools.
//!
//! These are counted elsewhere already (the transport counts its drops,
//! the caches their hits, sqlx its connections), so nothing here sits on a
//! hot path: one hook, given to [`Metrics::on_scrape`], copies them into
//! gauges and [`mirror`](Metrics::mirror)ed counters when Prometheus asks.
//!
//! | metric | labels | from |
//! |---|---|---|
//! | `convene_election_term` | | [`Membership::view`]: the highest term this node granted or used |
//! | `convene_election_coordinator` | `coordinator` (a node id) | the coordinator this node follows: 1; no series while it knows none |
//! | `convene_live_nodes` | | the nodes this node believes live, itself included |
//! | `convene_events_total` | `service="peer"`, `event="dropped_<reason>"` | the transport: `unsealed`, `stranger`, `bad_mac`, `stale`, `replayed` (failed authentication, [`AuthStats`](convene_rpc::AuthStats)); `malformed` (no valid envelope), `unexpected` (a reply nobody waits for), `unknown_service` (no service has the tag) |
//! | `convene_events_total` | `service="peer"`, `event="retransmitted"`, `"timed_out"` | requests this node sent again, or gave up on |
//! | `convene_events_total` | `service="booking"`, `event="dropped_malformed"`, `"dropped_reply_budget"` | malformed datagrams at the front door and malformed peer requests; replies the front door's budget dropped |
//! | `convene_events_total` | `service="booking"`, `event="reply_cache_hit_{front,owner}"`, `"reply_cache_in_progress_{front,owner}"` | retries answered from the at-most-once caches, and retries dropped while the original still ran |
//! | `convene_events_total` | `service="files"`, `event="sync_queue_full"` | announcements and lock requests refused `Busy` |
//! | `convene_queue_depth` | `queue="files_sync"`, `"files_lock_queue"`, `"files_locks"` | the sync queue; updates held behind locks, and files locked (at the lock holder) |
//! | `convene_db_pool_connections` | `db="events"`, `"booking"`, `"locks"`; `state="idle"`, `"in_use"` | each sqlx pool (MySQL, PostgreSQL) |
//!
//! SQLite has no pool to show: the events database keeps one writer and
//! opens readers on demand, booking and the lock book one connection each;
//! a node on SQLite has no `convene_db_pool_connections` series.
//! `convene_ready` is set by the `/metrics` handler itself, which can wait
//! for the database as `/readyz` does (a hook cannot wait).

use std::sync::Arc;

use convene_booking::db::BookingDb;
use convene_booking::service::BookingCounters;
use convene_cluster::membership::Membership;
use convene_cluster::{Peers, Router};
use convene_events::EventDb;
use convene_files::service::Files;
use convene_files::service::lock_book::LockBookDb;
use convene_metrics::{Gauge, Metrics};
use convene_rpc::CacheStats;

/// Where the hook reads from: cheap handles on the node's parts.
pub(crate) struct Sources {
    pub membership: Membership,
    pub peers: Peers,
    pub router: Arc<Router>,
    pub booking: BookingCounters,
    pub files: Files,
    pub events_db: Option<Arc<dyn EventDb>>,
    pub booking_db: Arc<dyn BookingDb>,
    pub lock_book: Option<Arc<dyn LockBookDb>>,
}

/// Gives `metrics` the hook that reads `sources` at each scrape, for as
/// long as the returned handle is kept (the running node keeps it).
///
/// The hook holds the sources weakly: they hold the node's parts, some of
/// which hold the metrics, and a hook holding them strongly would make a
/// cycle that keeps a stopped node's sockets open for ever.
pub(crate) fn register(metrics: &Metrics, sources: Sources) -> Arc<Sources> {
    let sources = Arc::new(sources);
    let weak = Arc::downgrade(&sources);
    metrics.on_scrape(move |m| {
        if let Some(sources) = weak.upgrade() {
            read(m, &sources);
        }
    });
    sources
}

fn read(m: &Metrics, s: &Sources) {
    election(m, &s.membership);
    peer_drops(m, &s.peers, &s.router);
    booking(m, &s.booking);
    files(m, &s.files);
    if let Some(pool) = s.events_db.as_ref().and_then(|db| db.pool_use()) {
        m.pool("events", pool);
    }
    if let Some(pool) = s.booking_db.pool_use() {
        m.pool("booking", pool);
    }
    if let Some(pool) = s.lock_book.as_ref().and_then(|db| db.pool_use()) {
        m.pool("locks", pool);
    }
}

fn election(m: &Metrics, membership: &Membership) {
    let view = membership.view();
    m.gauge(
        Gauge::ElectionTerm,
        &[],
        i64::try_from(view.term).unwrap_or(i64::MAX),
    );
    m.gauge(Gauge::LiveNodes, &[], view.live.len() as i64);
    // The coordinator changes: forget the last one's series first.
    m.clear(Gauge::Coordinator);
    let nodes = &membership.cluster().nodes;
    if let Some(node) = view.coordinator.and_then(|n| nodes.get(n)) {
        m.gauge(Gauge::Coordinator, &[("coordinator", &node.id)], 1);
    }
}

fn peer_drops(m: &Metrics, peers: &Peers, router: &Router) {
    let auth = peers.auth_stats().unwrap_or_default();
    let transport = peers.transport_stats();
    for (event, total) in [
        ("dropped_unsealed", auth.malformed),
        ("dropped_stranger", auth.strangers),
        ("dropped_bad_mac", auth.bad_mac),
        ("dropped_stale", auth.stale),
        ("dropped_replayed", auth.replayed),
        ("dropped_malformed", transport.dropped_malformed),
        ("dropped_unexpected", transport.dropped_unexpected),
        ("dropped_unknown_service", router.dropped()),
        ("retransmitted", transport.retransmitted),
        ("timed_out", transport.timed_out),
    ] {
        m.mirror("peer", event, total);
    }
}

fn booking(m: &Metrics, booking: &BookingCounters) {
    m.mirror("booking", "dropped_malformed", booking.dropped());
    if let Some(budget) = booking.budget() {
        m.mirror("booking", "dropped_reply_budget", budget.dropped);
    }
    let caches = booking.reply_caches();
    let cache = |hit: &'static str, in_progress: &'static str, stats: Option<CacheStats>| {
        if let Some(stats) = stats {
            m.mirror("booking", hit, stats.hits_done);
            m.mirror("booking", in_progress, stats.hits_in_progress);
        }
    };
    cache(
        "reply_cache_hit_front",
        "reply_cache_in_progress_front",
        caches.front,
    );
    cache(
        "reply_cache_hit_owner",
        "reply_cache_in_progress_owner",
        caches.owner,
    );
}

fn files(m: &Metrics, files: &Files) {
    let depths = files.queue_depths();
    for (queue, depth) in [
        ("files_sync", depths.sync),
        ("files_lock_queue", depths.held_updates),
        ("files_locks", depths.locks),
    ] {
        m.gauge(Gauge::QueueDepth, &[("queue", queue)], depth as i64);
    }
    m.mirror("files", "sync_queue_full", depths.busy_refusals);
}
