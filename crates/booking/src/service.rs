//! The running booking service on one node.
//!
//! A node may play two roles:
//!
//! - **front door** (a `booking_port`): speaks the seed's UDP protocol to
//!   clients, applies loss simulation and the at-most-once reply cache, keeps
//!   monitor registrations and sends their callbacks;
//! - **owner**: executes requests on the facilities it serves now and their
//!   bookings, and stores every change in the cluster's database. A facility
//!   is served by the node that lists it in `[node.booking]` while that node
//!   lives, and moves to another booking node when it dies (see
//!   [`ownership`] and [`crate::db`]).
//!
//! A front door sends each request to the node that serves its facility (for
//! a confirmation id, the booking's facility) — itself, or another node over
//! the peer transport — so a client may talk to any front door.
//!
//! # A front door strangers cannot turn into a weapon
//!
//! The seed's protocol is UDP with no handshake, so a request's source
//! address is only a claim, and some replies are far larger than their
//! requests. Three limits keep a front door from being aimed at a victim or
//! exhausted (each in `[limits]` of the cluster file):
//!
//! - **a reply-byte budget per address** ([`ReplyBudget`]): every datagram
//!   sent to an address (replies, cached replies, errors, monitor updates)
//!   is paid from credit that address earned by sending
//!   (`booking_reply_factor` bytes per byte received, default 10), plus a
//!   burst of `booking_burst_bytes` (default 64 KiB) refilled over a minute;
//!   all addresses together share 16 such bursts. A send that does not fit
//!   is dropped and counted, and a line is logged at most every 10 s;
//! - **monitor registrations** ([`Monitors`]): at most
//!   `booking_monitors_per_ip` (64) live per address, `booking_monitors`
//!   (10,000) in all; beyond, the seed's error code 5 with a message;
//!   expired ones are swept every second, here and at the owner;
//! - **kept replies** (at-most-once): at most `booking_replies_per_source`
//!   (1,024) per address, in memory here and at the owner, and in the
//!   owner's store, so one address cannot flush everyone else's.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use convene_cluster::config::Limits;
use convene_cluster::membership::Membership;
use convene_cluster::peer::BoxFuture;
use convene_cluster::screen::Untrusted;
use convene_cluster::shutdown::Shutdown;
use convene_cluster::{Peers, Router, Screen, ServiceHandler};
use convene_rpc::datagram::send_soon;
use convene_rpc::{
    BudgetConfig, BudgetStats, CacheConfig, Lookup, Loss, LossConfig, ReplyBudget, ReplyCache,
};
use convene_store::Store;
use convene_wire::{Decode, Encode};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::db::BookingDb;
use crate::state::{IdScheme, MonitorLimits, Monitors};
use crate::wire::{self, ErrorCode, MAX_DATAGRAM, Reply, Request};

mod committer;
mod counters;
pub mod handle;
mod id_routes;
pub mod lines;
mod observe;
mod owner;
pub mod ownership;
pub mod peer_msg;
pub mod watchers;

pub use counters::{BookingCounters, ReplyCacheStats};
pub use handle::{BookingCallError, BookingHandle, Facility, FacilityWatch};
use id_routes::IdRoutes;
use observe::{events, outcomes};
use owner::{Outcome, Owner, blocking};
use ownership::{LOOK_EVERY, OwnerView, Renewal, Watch};
use peer_msg::{PeerReply, PeerRequest, TAG};
use watchers::{WATCH_SECONDS, Watchers};

use crate::config::{BookingSection, Semantics};

/// The longest monitoring period a client may ask for: one week.
pub const MAX_MONITOR_SECONDS: u32 = 7 * 24 * 3600;

/// All addresses together may be sent this many times one address's burst
/// beyond what they earned (see [`ReplyBudget`]).
pub const SHARED_BURSTS: u64 = 16;

/// How often ended monitor registrations and subscriptions are swept out,
/// and idle budget entries forgotten.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(1);

/// How often the owners table is read right after the live set changed.
const LOOK_FAST: Duration = Duration::from_millis(20);

/// For how long after the live set changed it is read that often.
const LOOK_FAST_FOR: Duration = Duration::from_secs(1);

/// At most one log line per this long says how many replies the budget
/// dropped.
const BUDGET_LOG_EVERY: Duration = Duration::from_secs(10);

/// Everything the booking service needs from its node.
pub struct BookingContext {
    /// Calls to other nodes, and the cluster's address book.
    pub peers: Peers,
    /// Where to register the peer handler.
    pub router: Arc<Router>,
    /// Where on-screen lines go.
    pub screen: Screen,
    /// The node's own store (bookings an earlier version kept there are
    /// copied into `db` at start).
    pub store: Arc<Store>,
    /// Where booking state lives: the cluster's shared database, or this
    /// node's own file (then `failover` is off).
    pub db: Arc<dyn BookingDb>,
    /// Whether facilities move off dead nodes (the database is shared).
    pub failover: bool,
    /// The cluster's membership: who is live, and whether this node may
    /// assign facilities (it coordinates with a majority's leases).
    pub membership: Option<Membership>,
    /// The node's shutdown signal.
    pub shutdown: Shutdown,
    /// The bound booking socket, if this node is a front door.
    pub socket: Option<UdpSocket>,
    /// The node's metrics, where this service counts what it serves.
    pub metrics: convene_metrics::Metrics,
}

/// Why the booking service could not start.
#[derive(Debug, thiserror::Error)]
pub enum BookingStartError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] convene_store::StoreError),
    /// The booking database could not be read.
    #[error(transparent)]
    Db(#[from] crate::db::BookingDbError),
    /// The peer router already has a booking service (a programming error).
    #[error("the booking service is already registered on this node")]
    AlreadyRegistered,
}

/// A running booking service.
pub struct BookingService {
    tasks: Vec<JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl BookingService {
    /// A handle to run booking requests from this node (the web app),
    /// routed as a front door routes a client's.
    pub fn handle(&self) -> BookingHandle {
        BookingHandle::new(self.shared.clone())
    }

    /// Datagrams and peer requests dropped as malformed or unexpected.
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }

    /// Monitor registrations this front door holds (ended ones are swept
    /// out every second); 0 if it is not a front door.
    pub fn monitors_held(&self) -> usize {
        self.shared.front.as_ref().map_or(0, |front| {
            front
                .monitors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .len()
        })
    }

    /// Front doors subscribed to this owner's facilities (ended ones are
    /// swept out every second); 0 if it owns nothing.
    pub fn subscriptions_held(&self) -> usize {
        self.shared.owner.as_ref().map_or(0, Owner::subscriptions)
    }

    /// Facilities that code on this node (the web app's live pages)
    /// watches now.
    pub fn watched(&self) -> usize {
        self.shared.watchers.watched()
    }

    /// What the front door's reply budget let through and dropped, if this
    /// node is a front door.
    pub fn budget_stats(&self) -> Option<BudgetStats> {
        self.shared.front.as_ref().map(|front| {
            front
                .budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .stats()
        })
    }

    /// A handle on what the service has counted, for the node's metrics.
    pub fn counters(&self) -> BookingCounters {
        BookingCounters::new(self.shared.clone())
    }

    /// Waits for the service's tasks after shutdown.
    pub async fn join(self) {
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

struct Shared {
    peers: Peers,
    screen: Screen,
    me: usize,
    owner: Option<Owner>,
    front: Option<Front>,
    dropped: AtomicU64,
    db: Arc<dyn BookingDb>,
    failover: bool,
    /// Who serves each facility, as last read.
    view: OwnerView,
    /// The facility of confirmation ids seen here.
    ids: Mutex<IdRoutes>,
    /// Code on this node watching facilities (the web app's live grid).
    watchers: Watchers,
    /// The node's shutdown signal: watches end with it.
    shutdown: Shutdown,
    /// Where requests are counted (see [`observe`]).
    metrics: convene_metrics::Metrics,
}

struct Front {
    socket: Arc<UdpSocket>,
    semantics: Semantics,
    loss: Mutex<Loss>,
    cache: Mutex<ReplyCache>,
    monitors: Mutex<Monitors>,
    budget: Mutex<ReplyBudget>,
    /// When a line last reported budget drops, and the drops counted then.
    budget_log: Mutex<(Option<Instant>, u64)>,
}

/// Starts the booking service on a node (a no-op service if the node has
/// neither a booking port nor facilities).
pub async fn start(ctx: BookingContext) -> Result<BookingService, BookingStartError> {
    let me_index = ctx
        .peers
        .cluster()
        .index_of(&ctx.peers.me().id)
        .unwrap_or_default();
    let section = BookingSection::of(ctx.peers.me());
    let limits = ctx.peers.cluster().limits.clone();
    let cache = CacheConfig {
        ttl: Duration::from_secs(section.reply_cache_seconds),
        max_entries: section.reply_cache_entries,
    };
    let runs_booking = ctx.socket.is_some() || !section.facilities.is_empty();
    if runs_booking {
        import_own_store(&ctx.store, &ctx.db).await?;
    }
    let owner = runs_booking.then(|| {
        Owner::new(
            me_index as u32,
            ctx.db.clone(),
            cache,
            limits.booking_replies_per_source,
            ctx.screen.clone(),
        )
    });
    let front = ctx.socket.map(|socket| Front {
        socket: Arc::new(socket),
        semantics: section.semantics,
        loss: Mutex::new(Loss::new(LossConfig {
            request_loss: section.request_loss,
            reply_loss: section.reply_loss,
            duplicate: section.duplicate,
            seed: section.loss_seed,
        })),
        cache: Mutex::new(
            ReplyCache::new(cache).with_source_limit(limits.booking_replies_per_source),
        ),
        monitors: Mutex::new(Monitors::new(MonitorLimits {
            total: limits.booking_monitors,
            per_address: limits.booking_monitors_per_ip,
        })),
        budget: Mutex::new(ReplyBudget::new(budget_config(&limits))),
        budget_log: Mutex::new((None, 0)),
    });
    let shared = Arc::new(Shared {
        peers: ctx.peers.clone(),
        screen: ctx.screen.clone(),
        me: me_index,
        owner,
        front,
        dropped: AtomicU64::new(0),
        db: ctx.db.clone(),
        failover: ctx.failover,
        view: OwnerView::default(),
        ids: Mutex::new(IdRoutes::default()),
        watchers: Watchers::default(),
        shutdown: ctx.shutdown.clone(),
        metrics: ctx.metrics.clone(),
    });
    if !ctx
        .router
        .register(TAG, Arc::new(BookingPeer(shared.clone())))
    {
        return Err(BookingStartError::AlreadyRegistered);
    }
    let mut tasks = Vec::new();
    if runs_booking {
        let watch = Watch {
            db: ctx.db.clone(),
            cluster: Arc::new(ctx.peers.cluster().clone()),
            me: me_index,
            membership: ctx.membership.clone(),
            failover: ctx.failover,
        };
        // Serve this node's facilities before taking requests.
        watch.claim_listed().await;
        watch.look(&shared.view, shared.owner.as_ref()).await;
        tasks.push(tokio::spawn(follow_owners(
            shared.clone(),
            watch,
            ctx.shutdown.clone(),
        )));
    }
    if let Some(front) = &shared.front {
        let port = front.socket.local_addr().map_or(0, |a| a.port());
        let facilities: Vec<&str> = ctx
            .peers
            .cluster()
            .nodes
            .iter()
            .flat_map(|n| BookingSection::facilities_of(n).iter().map(String::as_str))
            .collect();
        ctx.screen.block(&[
            &format_args!("Facility Booking Server started on port {port}"),
            &format_args!("Invocation semantics: {}", front.semantics),
            &format_args!(
                "Simulated loss probability (request): {}",
                lines::probability(section.request_loss)
            ),
            &format_args!(
                "Simulated loss probability (reply): {}",
                lines::probability(section.reply_loss)
            ),
            &format_args!("Available facilities: {}", facilities.join(", ")),
            &"Waiting for requests...",
            &"",
        ]);
        tasks.push(tokio::spawn(serve(shared.clone(), ctx.shutdown.clone())));
    }
    if shared.owner.is_some() {
        tasks.push(tokio::spawn(prune_replies(
            ctx.db.clone(),
            section.reply_cache_seconds,
            ctx.shutdown.clone(),
        )));
    }
    tasks.push(tokio::spawn(keep_watching(
        shared.clone(),
        ctx.shutdown.clone(),
    )));
    if shared.owner.is_some() || shared.front.is_some() {
        tasks.push(tokio::spawn(housekeeping(
            shared.clone(),
            ctx.shutdown.clone(),
        )));
    }
    Ok(BookingService { tasks, shared })
}

/// The front door's reply budget under the cluster file's `[limits]`.
fn budget_config(limits: &Limits) -> BudgetConfig {
    BudgetConfig {
        factor: limits.booking_reply_factor,
        burst: limits.booking_burst_bytes,
        total_burst: limits.booking_burst_bytes.saturating_mul(SHARED_BURSTS),
        ..BudgetConfig::default()
    }
}

/// Every second: ended monitor registrations (front door) and subscriptions
/// (owner) go, and so do budget entries that have refilled.
async fn housekeeping(shared: Arc<Shared>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(HOUSEKEEPING_EVERY) => {}
            _ = shutdown.wait() => return,
        }
        let now = Instant::now();
        if let Some(front) = &shared.front {
            front
                .monitors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .purge(now);
            front
                .budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .sweep(now);
        }
        if let Some(owner) = &shared.owner {
            owner.purge_subscribers(now);
        }
    }
}

/// Copies the bookings an earlier version kept in the node's own store into
/// the booking database (once: later starts find them there).
async fn import_own_store(
    store: &Arc<Store>,
    db: &Arc<dyn BookingDb>,
) -> Result<(), BookingStartError> {
    let store = store.clone();
    let rows = tokio::task::spawn_blocking(move || store.bookings())
        .await
        .expect("booking store reader panicked")?;
    if rows.is_empty() {
        return Ok(());
    }
    let db2 = db.clone();
    let added = blocking(move || db2.import(&rows)).await?;
    if added > 0 {
        tracing::info!(
            added,
            db = db.name(),
            "bookings copied from this node's store into the booking database"
        );
    }
    Ok(())
}

/// Reads the owners table every [`LOOK_EVERY`] (assigning facilities when
/// this node coordinates), and keeps this front door's monitors subscribed
/// at whichever node serves their facility.
///
/// For [`LOOK_FAST_FOR`] after the live set changes it looks every
/// [`LOOK_FAST`] instead: a node that left is then replaced as soon as the
/// coordinator has authority, and the new owner and the front doors see it
/// a few milliseconds later rather than a look or two later.
async fn follow_owners(shared: Arc<Shared>, watch: Watch, shutdown: Shutdown) {
    let mut renewal = Renewal::new();
    // Facilities whose last subscription did not take, asked again each
    // look; `true` if it was asked because the facility moved.
    let pending: Arc<Mutex<HashMap<String, bool>>> = Arc::default();
    let mut live = watch.membership.as_ref().map(|m| m.live());
    let mut fast_until: Option<Instant> = None;
    loop {
        let pause = if fast_until.is_some_and(|t| Instant::now() < t) {
            LOOK_FAST
        } else {
            LOOK_EVERY
        };
        let changed = async {
            match live.as_mut() {
                Some(live) => live.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            true = changed => fast_until = Some(Instant::now() + LOOK_FAST_FOR),
            _ = shutdown.wait() => return,
        }
        let moved = watch.look(&shared.view, shared.owner.as_ref()).await;
        let Some(front) = &shared.front else { continue };
        let now = Instant::now();
        let all = renewal.due(now);
        let interest = front
            .monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .interest(now);
        for (facility, left) in interest {
            let retry = pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&facility);
            let after_move = moved.contains(&facility) || retry == Some(true);
            if !(all || after_move || retry.is_some()) {
                continue;
            }
            let seconds = left.map_or(MAX_MONITOR_SECONDS, |d| {
                (d.as_secs() as u32)
                    .saturating_add(1)
                    .min(MAX_MONITOR_SECONDS)
            });
            let (shared, pending) = (shared.clone(), pending.clone());
            tokio::spawn(async move {
                match shared.subscribe_at_owner(&facility, seconds).await {
                    // A change made while the facility moved may have gone
                    // to nobody: show the monitors where it stands now.
                    Ok(Some(week)) if after_move => shared.push_update(&facility, &week),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!("monitor subscription for {facility} not renewed: {e}");
                        pending
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(facility, after_move);
                    }
                }
            });
        }
    }
}

/// Every [`LOOK_EVERY`]: keeps this node subscribed, for its watchers, at
/// whichever node serves each watched facility (see [`watchers`]). After
/// an owner move the new owner's week is delivered at once: a change made
/// while the facility moved may have been told to nobody.
async fn keep_watching(shared: Arc<Shared>, shutdown: Shutdown) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(LOOK_EVERY) => {}
            _ = shutdown.wait() => return,
        }
        let cluster = shared.peers.cluster();
        let due = shared
            .watchers
            .due(Instant::now(), |f| shared.view.owner_of(cluster, f));
        for (facility, node) in due {
            let shared = shared.clone();
            tokio::spawn(async move { shared.watch_at_owner(&facility, node).await });
        }
    }
}

/// Kept replies older than the cache's lifetime are no use: drop them now and then.
async fn prune_replies(db: Arc<dyn BookingDb>, ttl_seconds: u64, shutdown: Shutdown) {
    let every = Duration::from_secs(ttl_seconds.clamp(1, 60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.wait() => return,
        }
        let db = db.clone();
        let before = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
            - (ttl_seconds as i64) * 1000;
        if let Err(e) = blocking(move || db.prune_replies(before)).await {
            tracing::warn!("cannot prune kept booking replies: {e}");
        }
    }
}

/// The front door's receive loop.
async fn serve(shared: Arc<Shared>, shutdown: Shutdown) {
    let Some(front) = &shared.front else { return };
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    loop {
        let (n, client) = tokio::select! {
            r = front.socket.recv_from(&mut buf) => match r {
                Ok(ok) => ok,
                Err(e) => {
                    tracing::debug!("booking socket receive error: {e}");
                    continue;
                }
            },
            _ = shutdown.wait() => return,
        };
        // Whatever becomes of it, the datagram earns its sender credit.
        front
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .received(Instant::now(), client.ip(), n);
        let (lost, copies) = {
            let mut loss = front.loss.lock().unwrap_or_else(|e| e.into_inner());
            let lost = loss.drop_request();
            (lost, if !lost && loss.duplicate() { 2 } else { 1 })
        };
        if lost {
            shared
                .metrics
                .count(observe::SERVICE, events::SIMULATED_REQUEST_LOSS, 1);
            shared.screen.line(format_args!(
                "Simulated loss of request from {}",
                lines::addr(client)
            ));
            continue;
        }
        if n > MAX_DATAGRAM {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%client, "dropped an oversized booking datagram");
            continue;
        }
        for _ in 0..copies {
            let shared = shared.clone();
            let datagram = buf[..n].to_vec();
            let mut work = Box::pin(async move { shared.handle_client(client, datagram).await });
            // Most requests (queries, cached replies, errors) finish without
            // waiting: run them here and spare a task spawn. One that must
            // wait (a store commit, a forward) moves into its own task, whose
            // first poll registers its real waker.
            let mut cx = Context::from_waker(Waker::noop());
            if work.as_mut().poll(&mut cx).is_pending() {
                tokio::spawn(work);
            }
        }
    }
}

/// What the front door does with a request's result.
enum FrontReply {
    /// Send, and keep for retries.
    Keep(Vec<u8>),
    /// Send, but do not keep: a retry should ask again (the owner did not
    /// answer). With the request's outcome (see [`observe::outcomes`]).
    Once(Vec<u8>, &'static str),
    /// Send nothing.
    Silent,
}

impl FrontReply {
    /// What became of the request, for its metrics.
    fn outcome(&self) -> &'static str {
        match self {
            FrontReply::Keep(bytes) => observe::outcome(bytes),
            FrontReply::Once(_, outcome) => outcome,
            FrontReply::Silent => outcomes::BUSY,
        }
    }
}

impl Shared {
    fn front(&self) -> &Front {
        self.front.as_ref().expect("only called on front doors")
    }

    /// Serves one datagram from `client`, counted as one request of its
    /// type (see [`observe`]).
    async fn handle_client(&self, client: SocketAddr, datagram: Vec<u8>) {
        let front = self.front();
        let Some(header) = wire::header(&datagram) else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            self.screen.line(format_args!(
                "Dropped a {}-byte datagram from {}: too short to be a request",
                datagram.len(),
                lines::addr(client)
            ));
            return;
        };
        let request = self.metrics.begin(
            observe::SERVICE,
            observe::UDP,
            observe::udp_kind(header.kind, front.semantics),
            Some(client),
        );
        let outcome = self
            .answer_client(client, header, &datagram)
            .instrument(request.span().clone())
            .await;
        request.finish(outcome);
    }

    /// Answers one request (its header read) and says what became of it.
    async fn answer_client(
        &self,
        client: SocketAddr,
        header: wire::Header,
        datagram: &[u8],
    ) -> &'static str {
        let front = self.front();
        self.screen.block(&[
            &"",
            &format_args!(
                "Received request: type={}, request_id={}, from={}",
                header.kind,
                header.request_id,
                lines::addr(client)
            ),
        ]);
        // A query changes nothing: a retried one is answered afresh, so its
        // (largest) replies need not fill the cache. Everything else, even a
        // monitor registration, is answered once.
        let dedup = front.semantics == Semantics::AtMostOnce
            && header.kind != wire::kind::QUERY_AVAILABILITY;
        if dedup {
            let cached = {
                let mut cache = front.cache.lock().unwrap_or_else(|e| e.into_inner());
                match cache.begin(Instant::now(), client, header.request_id, datagram) {
                    Lookup::Done(bytes) => Some(bytes.to_vec()),
                    Lookup::InProgress => return outcomes::IN_PROGRESS,
                    Lookup::New => None,
                }
            };
            if let Some(bytes) = cached {
                // Counted by the cache itself (`reply_cache_hit_front`, read
                // at scrape time) and as this request's outcome `cached`.
                self.screen.line(format_args!(
                    "Returning cached reply for duplicate request {}",
                    header.request_id
                ));
                self.send(client, &bytes);
                return outcomes::CACHED;
            }
        }
        let reply = self.dispatch(client, datagram, dedup).await;
        let outcome = reply.outcome();
        let mut cache = front.cache.lock().unwrap_or_else(|e| e.into_inner());
        match reply {
            FrontReply::Keep(bytes) => {
                if dedup {
                    cache.finish(Instant::now(), client, header.request_id, datagram, &bytes);
                }
                drop(cache);
                self.send(client, &bytes);
            }
            FrontReply::Once(bytes, _) => {
                cache.abandon(client, header.request_id, datagram);
                drop(cache);
                self.send(client, &bytes);
            }
            FrontReply::Silent => cache.abandon(client, header.request_id, datagram),
        }
        outcome
    }

    /// Sends a reply to a client, unless reply loss is simulated or the
    /// client's address has used up its reply budget.
    fn send(&self, client: SocketAddr, bytes: &[u8]) {
        let front = self.front();
        if front
            .loss
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drop_reply()
        {
            self.metrics
                .count(observe::SERVICE, events::SIMULATED_REPLY_LOSS, 1);
            self.screen.line(format_args!(
                "Simulated loss of reply to {}",
                lines::addr(client)
            ));
            return;
        }
        if !self.within_budget(front, client, bytes.len()) {
            return;
        }
        send_soon(&front.socket, bytes, client);
        self.screen.block(&[
            &format_args!("Sent response to {}", lines::addr(client)),
            &"",
        ]);
    }

    /// Whether `len` bytes may go to `client` now (they are then spent);
    /// if not, the drop is counted and, at most every
    /// [`BUDGET_LOG_EVERY`], logged.
    fn within_budget(&self, front: &Front, client: SocketAddr, len: usize) -> bool {
        let now = Instant::now();
        let stats = {
            let mut budget = front.budget.lock().unwrap_or_else(|e| e.into_inner());
            if budget.try_send(now, client.ip(), len) {
                return true;
            }
            budget.stats()
        };
        let mut log = front.budget_log.lock().unwrap_or_else(|e| e.into_inner());
        let (last, reported) = &mut *log;
        if last.is_none_or(|at| now.duration_since(at) >= BUDGET_LOG_EVERY) {
            tracing::warn!(
                "{} booking datagrams not sent (the latest {len} bytes to {client}): their \
                 addresses had used up their reply budget (booking_reply_factor and \
                 booking_burst_bytes in [limits]); {} dropped in all",
                stats.dropped - *reported,
                stats.dropped
            );
            *last = Some(now);
            *reported = stats.dropped;
        }
        false
    }

    /// Routes a request to the node that owns it and returns the reply.
    async fn dispatch(&self, client: SocketAddr, datagram: &[u8], dedup: bool) -> FrontReply {
        let request = match wire::decode_request(datagram) {
            Ok((_, request)) => request,
            Err(e) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return FrontReply::Keep(e.to_reply().encode());
            }
        };
        let cluster = self.peers.cluster();
        let booked_on = match &request {
            Request::Book { facility, .. } => Some(facility.clone()),
            _ => None,
        };
        let owner = match &request {
            Request::Query { facility, .. } | Request::Book { facility, .. } => self
                .view
                .owner_of(cluster, facility)
                .ok_or_else(|| not_found(facility)),
            Request::Monitor { facility, seconds } => {
                return self.register_monitor(client, facility, *seconds).await;
            }
            Request::Change { confirmation, .. }
            | Request::Extend { confirmation, .. }
            | Request::Cancel { confirmation } => match self.route_id(confirmation).await {
                Ok(node) => Ok(node),
                Err(reply) => return reply,
            },
        };
        let node = match owner {
            Ok(node) => node,
            Err(reply) => return FrontReply::Keep(reply.encode()),
        };
        let reply = self.execute_at(node, client, datagram, dedup).await;
        if let (Some(facility), FrontReply::Keep(bytes)) = (booked_on, &reply)
            && let Ok(Reply::Booked { confirmation }) = Reply::decode(bytes)
        {
            self.ids
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(confirmation, facility);
        }
        reply
    }

    /// The node serving the booking `id`: by its facility (remembered, or
    /// asked of the database). Without a shared database, the node that
    /// issued it. An id in no facility is answered at once.
    async fn route_id(&self, id: &str) -> Result<usize, FrontReply> {
        let cluster = self.peers.cluster();
        let remembered = self
            .ids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .map(str::to_string);
        let facility = match remembered {
            Some(facility) => Some(facility),
            None => {
                let (db, key) = (self.db.clone(), id.to_string());
                match blocking(move || db.booking(&key)).await {
                    Ok(row) => row.map(|row| {
                        self.ids
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id.to_string(), row.facility.clone());
                        row.facility
                    }),
                    Err(e) => {
                        tracing::warn!("cannot look booking {id} up: {e}");
                        return Err(FrontReply::Once(
                            Reply::error(
                                ErrorCode::InvalidRequest,
                                "The booking database did not answer; try again",
                            )
                            .encode(),
                            outcomes::UNAVAILABLE,
                        ));
                    }
                }
            }
        };
        let invalid = || {
            FrontReply::Keep(
                Reply::error(ErrorCode::InvalidConfirmationId, "Invalid confirmation ID").encode(),
            )
        };
        match facility {
            Some(facility) => self.view.owner_of(cluster, &facility).ok_or_else(invalid),
            // Another node's own file may hold it.
            None if !self.failover => IdScheme::owner_of(id)
                .map(|n| n as usize)
                .filter(|&n| n != self.me && n < cluster.nodes.len())
                .ok_or_else(invalid),
            None => Err(invalid()),
        }
    }

    /// Executes a request at node `node` (this one, or over the peer
    /// transport).
    async fn execute_at(
        &self,
        node: usize,
        client: SocketAddr,
        datagram: &[u8],
        dedup: bool,
    ) -> FrontReply {
        let cluster = self.peers.cluster();
        if node == self.me
            && let Some(owner) = &self.owner
        {
            return match owner.execute(client, datagram, dedup).await {
                Outcome::Reply(bytes, changed) => {
                    if let Some(facility) = changed {
                        self.notify(&facility);
                    }
                    FrontReply::Keep(bytes)
                }
                Outcome::Busy | Outcome::NotHere => FrontReply::Silent,
            };
        }
        let target = &cluster.nodes[node];
        let body = PeerRequest::Execute {
            client,
            dedup,
            datagram: datagram.to_vec(),
        }
        .to_bytes();
        match self
            .peers
            .call(target.peer_addr(), TAG, &body)
            .await
            .map(|b| PeerReply::from_bytes(&b))
        {
            Ok(Ok(PeerReply::Executed { reply })) => FrontReply::Keep(reply),
            Ok(Ok(PeerReply::Busy)) => FrontReply::Silent,
            other => {
                tracing::warn!(
                    "node {} did not execute a forwarded request: {other:?}",
                    target.id
                );
                FrontReply::Once(
                    Reply::error(
                        ErrorCode::InvalidRequest,
                        format!(
                            "The node that owns this booking ({}) did not answer; try again",
                            target.id
                        ),
                    )
                    .encode(),
                    outcomes::FORWARD_FAILED,
                )
            }
        }
    }

    /// MONITOR_REGISTER: remember the client here, and ask the owner to tell
    /// this node about changes.
    async fn register_monitor(
        &self,
        client: SocketAddr,
        facility: &str,
        seconds: u32,
    ) -> FrontReply {
        self.screen.line(format_args!(
            "Monitor: facility='{}', duration={seconds}s, client={}",
            Untrusted(facility),
            lines::addr(client)
        ));
        let cluster = self.peers.cluster();
        let Some(node) = self.view.owner_of(cluster, facility) else {
            return FrontReply::Keep(not_found(facility).encode());
        };
        if seconds == 0 || seconds > MAX_MONITOR_SECONDS {
            return FrontReply::Keep(
                Reply::error(
                    ErrorCode::InvalidRequest,
                    format!("Monitoring duration must be 1 to {MAX_MONITOR_SECONDS} seconds"),
                )
                .encode(),
            );
        }
        let now = Instant::now();
        let period = Duration::from_secs(u64::from(seconds));
        let refused = |refused: crate::state::MonitorRefused| {
            FrontReply::Once(
                Reply::error(ErrorCode::InvalidRequest, refused.to_string()).encode(),
                outcomes::REFUSED,
            )
        };
        // Checked before the owner is asked, and again when registering
        // (another request from the address may have taken the last place).
        if let Err(e) = self
            .front()
            .monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(facility, client, now)
        {
            return refused(e);
        }
        if let Err(e) = self.subscribe_at_owner(facility, seconds).await {
            let target = &cluster.nodes[node];
            tracing::warn!(
                "node {} did not take a monitor subscription: {e}",
                target.id
            );
            return FrontReply::Once(
                Reply::error(
                    ErrorCode::InvalidRequest,
                    format!(
                        "The node that owns '{facility}' ({}) did not answer; try again",
                        target.id
                    ),
                )
                .encode(),
                outcomes::FORWARD_FAILED,
            );
        }
        if let Err(e) = self
            .front()
            .monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register(facility, client, now, period)
        {
            return refused(e);
        }
        FrontReply::Keep(
            Reply::Monitoring {
                message: format!("Monitoring '{facility}' for {seconds} seconds"),
            }
            .encode(),
        )
    }

    /// Asks the node serving `facility` to tell this front door about its
    /// changes for `seconds`; returns the facility's week now (a
    /// MONITOR_UPDATE datagram) if the node sent it. An error says why not
    /// (the node did not answer, or does not serve the facility yet): ask
    /// again.
    async fn subscribe_at_owner(
        &self,
        facility: &str,
        seconds: u32,
    ) -> Result<Option<Vec<u8>>, String> {
        let cluster = self.peers.cluster();
        let Some(node) = self.view.owner_of(cluster, facility) else {
            return Ok(None);
        };
        let until = Instant::now() + Duration::from_secs(u64::from(seconds));
        if node == self.me {
            return match &self.owner {
                Some(owner) if owner.subscribe(facility, None, until) => {
                    Ok(owner.update_datagram(facility))
                }
                _ => Err("this node does not serve it yet".into()),
            };
        }
        let body = PeerRequest::Subscribe {
            facility: facility.to_string(),
            seconds,
        }
        .to_bytes();
        let target = &cluster.nodes[node];
        match self.peers.call(target.peer_addr(), TAG, &body).await {
            Ok(reply) => match PeerReply::from_bytes(&reply) {
                Ok(PeerReply::Subscribed { week }) => Ok(Some(week)),
                Ok(PeerReply::Ack) => Ok(None),
                _ => Err(format!("node {} does not serve it yet", target.id)),
            },
            Err(e) => Err(format!("node {}: {e}", target.id)),
        }
    }

    /// Subscribes this node at `node` (serving `facility`) for its
    /// watchers, and hands them the week it answers with. The caller has
    /// marked the facility as being asked for.
    async fn watch_at_owner(&self, facility: &str, node: usize) {
        match self.subscribe_at_owner(facility, WATCH_SECONDS).await {
            Ok(week) => {
                if let Some(week) = week {
                    self.watchers.deliver(facility, &week);
                }
                self.watchers.asked(facility, Some((node, Instant::now())));
            }
            Err(e) => {
                tracing::debug!("watch of {facility} not subscribed yet: {e}");
                self.watchers.asked(facility, None);
            }
        }
    }

    /// A facility of this node changed: tell every subscribed front door.
    fn notify(&self, facility: &str) {
        let Some(owner) = &self.owner else { return };
        let targets = owner.subscribers(facility, Instant::now());
        if targets.is_empty() {
            return;
        }
        let Some(update) = owner.update_datagram(facility) else {
            return;
        };
        for target in targets {
            match target {
                None => self.push_update(facility, &update),
                Some(addr) => {
                    let peers = self.peers.clone();
                    let body = PeerRequest::Update {
                        facility: facility.to_string(),
                        datagram: update.clone(),
                    }
                    .to_bytes();
                    tokio::spawn(async move {
                        if let Err(e) = peers.call(addr, TAG, &body).await {
                            tracing::warn!(%addr, "monitor update not delivered: {e}");
                        }
                    });
                }
            }
        }
    }

    /// Sends a MONITOR_UPDATE to this front door's live monitors of
    /// `facility`, and hands it to this node's watchers.
    fn push_update(&self, facility: &str, update: &[u8]) {
        self.watchers.deliver(facility, update);
        let Some(front) = &self.front else { return };
        let targets = front
            .monitors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .targets(facility, Instant::now());
        for client in targets {
            if !self.within_budget(front, client, update.len()) {
                continue;
            }
            send_soon(&front.socket, update, client);
            self.screen.line(format_args!(
                "Sent monitor update to {}",
                lines::addr(client)
            ));
        }
    }
}

fn not_found(facility: &str) -> Reply {
    Reply::error(
        ErrorCode::FacilityNotFound,
        format!("Facility '{facility}' not found"),
    )
}

/// The booking service's handler for requests from other nodes.
struct BookingPeer(Arc<Shared>);

impl ServiceHandler for BookingPeer {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let shared = self.0.clone();
        Box::pin(async move {
            if shared.peers.cluster().node_at(from).is_none() {
                shared.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%from, "booking peer request from outside the cluster; dropped");
                return None;
            }
            let request = match PeerRequest::from_bytes(&body) {
                Ok(r) => r,
                Err(e) => {
                    shared.dropped.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(%from, "malformed booking peer request: {e}; dropped");
                    return None;
                }
            };
            let reply = match request {
                PeerRequest::Execute {
                    client,
                    dedup,
                    datagram,
                } => {
                    let owner = shared.owner.as_ref()?;
                    match owner.execute(client, &datagram, dedup).await {
                        Outcome::Reply(reply, changed) => {
                            if let Some(facility) = changed {
                                shared.notify(&facility);
                            }
                            PeerReply::Executed { reply }
                        }
                        Outcome::Busy | Outcome::NotHere => PeerReply::Busy,
                    }
                }
                PeerRequest::Subscribe { facility, seconds } => {
                    let owner = shared.owner.as_ref()?;
                    let seconds = seconds.min(MAX_MONITOR_SECONDS);
                    let until = Instant::now() + Duration::from_secs(u64::from(seconds));
                    match owner.subscribe(&facility, Some(from), until) {
                        true => match owner.update_datagram(&facility) {
                            Some(week) => PeerReply::Subscribed { week },
                            None => PeerReply::Ack,
                        },
                        false => PeerReply::Busy,
                    }
                }
                PeerRequest::Update { facility, datagram } => {
                    shared.push_update(&facility, &datagram);
                    PeerReply::Ack
                }
            };
            Some(reply.to_bytes())
        })
    }
}
