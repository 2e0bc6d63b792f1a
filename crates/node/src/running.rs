//! Starting and stopping one node, at once ([`RunningNode::stop`]) or
//! gracefully ([`RunningNode::leave`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use convene_booking::service::{BookingContext, BookingService};
use convene_chat::service::{ChatContext, ChatService};
use convene_cluster::membership::Membership;
use convene_cluster::shutdown::{Shutdown, ShutdownTrigger};
use convene_cluster::term_store::TermStore;
use convene_cluster::{ClusterConfig, Peers, Router, Screen};
use convene_events::Events;
use convene_events::service::{EventsContext, EventsService};
use convene_files::FilesSection;
use convene_files::service::{FilesContext, FilesService};
use convene_meet::{MeetContext, MeetService};
use convene_store::Store;
use convene_web::ops::Operations;
use convene_web::ops::health::Readiness;
use convene_web::probes::{ProbeContext, ProbeServer};
use convene_web::{WebContext, WebService};
use tokio::task::JoinHandle;

use crate::bind::NodeSockets;
use crate::error::NodeError;
use crate::faults::Faults;

/// How long [`RunningNode::leave`] lets work in flight finish, by default.
pub const DRAIN: Duration = Duration::from_secs(5);

/// A node that is running. Stop it with [`RunningNode::leave`] (graceful) or
/// [`RunningNode::stop`].
pub struct RunningNode {
    id: String,
    peer_addr: SocketAddr,
    client_addr: Option<SocketAddr>,
    booking_addr: Option<SocketAddr>,
    peers: Peers,
    membership: Membership,
    parts: Parts,
    store: Arc<Store>,
    metrics: convene_metrics::Metrics,
    /// What the metrics read at each scrape, held here only: dropped with
    /// the node.
    _scraped: Arc<crate::node_metrics::Sources>,
}

/// What a node runs, each part ending when the node's shutdown is
/// triggered. [`start`] fills it in step by step, so that whatever step
/// fails, [`Parts::stop`] stops exactly what the steps before it started,
/// and a node that did not start leaves no task running and no port bound.
/// A running node is stopped the same way.
struct Parts {
    /// Stops the services (their front doors first of all).
    trigger: ShutdownTrigger,
    /// Stops the membership and the peer transport: later than the
    /// services when a node leaves, so that what they finish can still
    /// reach its peers, and the peers still hear from the node meanwhile.
    peer_trigger: ShutdownTrigger,
    transport: JoinHandle<()>,
    membership: Option<JoinHandle<()>>,
    meet: Option<MeetService>,
    events: Option<EventsService>,
    chat: Option<ChatService>,
    files: Option<FilesService>,
    web: Option<WebService>,
    booking: Option<BookingService>,
    probes: Option<ProbeServer>,
}

impl Parts {
    /// Nothing started yet but the peer transport.
    fn new(
        trigger: ShutdownTrigger,
        peer_trigger: ShutdownTrigger,
        transport: JoinHandle<()>,
    ) -> Parts {
        Parts {
            trigger,
            peer_trigger,
            transport,
            membership: None,
            meet: None,
            events: None,
            chat: None,
            files: None,
            web: None,
            booking: None,
            probes: None,
        }
    }

    /// Triggers the shutdown and waits for every part, the last started
    /// first (the transport last: the others may still send on it).
    async fn stop(mut self) {
        self.trigger.trigger();
        self.peer_trigger.trigger();
        self.join_services().await;
        if let Some(membership) = self.membership {
            let _ = membership.await;
        }
        let _ = self.transport.await;
    }

    /// Waits for the services, the last started first, once their
    /// shutdown is triggered. Cut short (a drain that ran out of time), it
    /// no longer waits for the service it was waiting on, and
    /// [`Parts::stop`] waits for the others.
    async fn join_services(&mut self) {
        if let Some(probes) = self.probes.take() {
            probes.join().await;
        }
        if let Some(booking) = self.booking.take() {
            booking.join().await;
        }
        if let Some(web) = self.web.take() {
            web.join().await;
        }
        if let Some(files) = self.files.take() {
            files.join().await;
        }
        if let Some(chat) = self.chat.take() {
            chat.join().await;
        }
        if let Some(events) = self.events.take() {
            events.join().await;
        }
        if let Some(meet) = self.meet.take() {
            meet.join().await;
        }
    }
}

/// Said by the accessors of a part every running node has: [`start`]
/// returns a [`RunningNode`] only once each of them has started.
const STARTED: &str = "a running node has started every part";

/// Starts node `id` of `cluster` on sockets already bound for it.
///
/// Everything that can be checked without starting anything (the cluster
/// file, the store, the TLS files, the events database, the boot number)
/// is checked first. If a later step fails, what the earlier steps started
/// is stopped before the error is returned: its ports can be bound again at
/// once, and its store is closed.
pub async fn start(
    cluster: Arc<ClusterConfig>,
    id: &str,
    sockets: NodeSockets,
    screen: Screen,
) -> Result<RunningNode, NodeError> {
    start_with_faults(cluster, id, sockets, screen, Faults::default()).await
}

/// As [`start`], with faults injected into its services: for tests only.
pub async fn start_with_faults(
    cluster: Arc<ClusterConfig>,
    id: &str,
    sockets: NodeSockets,
    screen: Screen,
    faults: Faults,
) -> Result<RunningNode, NodeError> {
    let node = cluster.node(id)?;
    let me = cluster.index_of(id).unwrap_or_default();
    // A node that strangers can reach runs only with the cluster's secret.
    cluster.check_secret()?;
    let store = Arc::new(
        Store::open(&node.data_dir).map_err(|error| NodeError::Store {
            node: id.to_string(),
            error,
        })?,
    );
    let peer_addr = sockets.peer.local_addr().map_err(|error| NodeError::Bind {
        node: id.to_string(),
        what: "peer_port (UDP)",
        addr: node.peer_addr(),
        error,
    })?;
    // Read before anything starts: a bad file stops the node, naming it.
    let tls = match &node.tls {
        Some(files) => {
            Some(
                convene_web::ServerTls::load(files).map_err(|problem| NodeError::Tls {
                    node: id.to_string(),
                    problem,
                })?,
            )
        }
        None => None,
    };
    let client_addr = sockets.client.as_ref().and_then(|l| l.local_addr().ok());
    let booking_addr = sockets.booking.as_ref().and_then(|s| s.local_addr().ok());
    // The events database only where some node has a web front (nothing
    // else can create an event), and before anything starts: a bad URL
    // stops the node with nothing to tear down.
    let event_storage = if cluster.events_enabled() {
        warn_if_sqlite_across_machines(&cluster);
        let opened = async {
            let db = convene_eventdb::open(&cluster.events.database_url).await?;
            let working =
                convene_eventdb::open_working_set(cluster.events.redis_url.as_deref()).await?;
            Ok::<_, convene_eventdb::OpenError>((db, working))
        };
        Some(opened.await.map_err(|error| NodeError::Events {
            node: id.to_string(),
            error,
        })?)
    } else {
        None
    };

    let runs_booking = sockets.booking.is_some()
        || !convene_booking::BookingSection::facilities_of(node).is_empty();
    let (booking_db, booking_failover) =
        crate::cluster_db::booking(&cluster, &node.data_dir, runs_booking)
            .await
            .map_err(|error| NodeError::Booking {
                node: id.to_string(),
                error: error.into(),
            })?;
    let lock_book = crate::cluster_db::lock_book(&cluster)
        .await
        .map_err(|error| NodeError::Events {
            node: id.to_string(),
            error,
        })?;

    let boot =
        crate::boot::next_boot(&node.data_dir, wall_ms()).map_err(|error| NodeError::Boot {
            node: id.to_string(),
            path: node.data_dir.join(crate::boot::BOOT_FILE),
            error,
        })?;
    let auth = cluster.peer_auth(Some(me), boot);
    let terms = TermStore::open(&node.data_dir).map_err(|error| NodeError::Term {
        node: id.to_string(),
        path: node.data_dir.join(convene_cluster::term_store::TERM_FILE),
        error,
    })?;

    let metrics = convene_metrics::Metrics::new();
    let (trigger, shutdown) = Shutdown::new();
    let (peer_trigger, peer_shutdown) = Shutdown::new();
    let router = Arc::new(Router::new());
    let transport_shutdown = peer_shutdown.clone();
    let (client, transport) = convene_rpc::start_authenticated(
        sockets.peer,
        convene_rpc::Config::default(),
        auth,
        router.clone(),
        async move { transport_shutdown.wait().await },
    );
    // From here on, a step that fails stops what the steps before it
    // started (see `Parts`).
    let mut parts = Parts::new(trigger, peer_trigger, transport);
    let peers = Peers::new(client, cluster.clone(), me);
    // Membership first, so services can watch the coordinator from the start.
    let (membership, membership_task) = Membership::start_with_terms(
        peers.clone(),
        &router,
        cluster.election.clone(),
        terms,
        peer_shutdown,
    );
    parts.membership = Some(membership_task);
    let meet = convene_meet::start(MeetContext {
        metrics: metrics.clone(),
        peers: peers.clone(),
        router: router.clone(),
        screen: screen.clone(),
        store: store.clone(),
        shutdown: shutdown.clone(),
        client_listener: sockets.client,
    })
    .await;
    match meet {
        Ok(meet) => parts.meet = Some(meet),
        Err(error) => {
            parts.stop().await;
            return Err(NodeError::Meet {
                node: id.to_string(),
                error,
            });
        }
    }
    parts.events = event_storage.map(|(db, working)| {
        convene_events::service::start(EventsContext {
            metrics: metrics.clone(),
            peers: peers.clone(),
            router: router.clone(),
            membership: membership.clone(),
            shutdown: shutdown.clone(),
            db,
            working,
            faults: faults.events,
        })
    });
    parts.chat = Some(convene_chat::service::start(ChatContext {
        metrics: metrics.clone(),
        peers: peers.clone(),
        router: router.clone(),
        membership: membership.clone(),
        shutdown: shutdown.clone(),
        listener: sockets.chat,
    }));
    let files = convene_files::service::start(FilesContext {
        metrics: metrics.clone(),
        peers: peers.clone(),
        router: router.clone(),
        screen: screen.clone(),
        store: store.clone(),
        shutdown: shutdown.clone(),
        root: FilesSection::of(node).map(|f| f.dir.clone()),
        membership: Some(membership.clone()),
        lock_book: lock_book.clone(),
        faults: faults.files,
    });
    let files_handle = files.handle();
    let files_counted = files.handle();
    parts.files = Some(files);
    let booking = convene_booking::service::start(BookingContext {
        metrics: metrics.clone(),
        peers: peers.clone(),
        router: router.clone(),
        screen,
        store: store.clone(),
        db: booking_db.clone(),
        failover: booking_failover,
        membership: Some(membership.clone()),
        shutdown: shutdown.clone(),
        socket: sockets.booking,
    })
    .await;
    match booking {
        Ok(booking) => parts.booking = Some(booking),
        Err(error) => {
            parts.stop().await;
            return Err(NodeError::Booking {
                node: id.to_string(),
                error,
            });
        }
    }
    // The web front last: its booking API needs the booking service.
    parts.web = match (&parts.events, sockets.http) {
        (Some(events), Some(listener)) => {
            let web_shutdown = shutdown.clone();
            Some(convene_web::start(WebContext {
                metrics: metrics.clone(),
                events: events.events().clone(),
                listener,
                limits: cluster.limits.clone(),
                tls,
                shutdown: Box::pin(async move { web_shutdown.wait().await }),
                operations: Some(Operations {
                    membership: membership.clone(),
                    files: files_handle,
                    folder: FilesSection::of(node).map(|f| f.dir.clone()),
                    services: cluster
                        .nodes
                        .iter()
                        .map(crate::services::describe)
                        .collect(),
                    booking: parts.booking.as_ref().map(BookingService::handle),
                    meet: parts.meet.as_ref().map(MeetService::handle),
                    chat: parts
                        .chat
                        .as_ref()
                        .and_then(|chat| chat.handle())
                        .map(|chat| convene_web::ops::chat::ChatFront {
                            chat,
                            shutdown: shutdown.clone(),
                        }),
                }),
            }))
        }
        _ => None,
    };
    let events_db = parts.events.as_ref().map(|e| e.events().db().clone());
    let scraped = crate::node_metrics::register(
        &metrics,
        crate::node_metrics::Sources {
            membership: membership.clone(),
            peers: peers.clone(),
            router,
            booking: parts.booking.as_ref().expect(STARTED).counters(),
            files: files_counted,
            events_db: events_db.clone(),
            booking_db,
            lock_book,
        },
    );
    // The probe server last: what it reports is all running.
    parts.probes = sockets.metrics.map(|listener| {
        let probe_shutdown = shutdown.clone();
        convene_web::probes::start(ProbeContext {
            listener,
            limits: cluster.limits.clone(),
            shutdown: Box::pin(async move { probe_shutdown.wait().await }),
            metrics: metrics.clone(),
            readiness: Readiness::new(events_db, Some(membership.clone())),
        })
    });
    tracing::info!(node = id, %peer_addr, "node started");
    Ok(RunningNode {
        id: id.to_string(),
        peer_addr,
        client_addr,
        booking_addr,
        peers,
        membership,
        parts,
        store,
        metrics,
        _scraped: scraped,
    })
}

impl RunningNode {
    /// The node's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Where the node's peer socket is bound.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer_addr
    }

    /// Where meet clients connect, if the node serves them.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client_addr
    }

    /// What the peer transport's authentication let through and dropped:
    /// forged, replayed and strangers' datagrams are counted here, before
    /// any service sees them.
    pub fn peer_auth_stats(&self) -> convene_rpc::AuthStats {
        self.peers.auth_stats().unwrap_or_default()
    }

    /// The node's view of the cluster: the coordinator and the live nodes.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// What the node has counted: its `/metrics`.
    pub fn metrics(&self) -> &convene_metrics::Metrics {
        &self.metrics
    }

    /// The node's meet service.
    pub fn meet(&self) -> &MeetService {
        self.parts.meet.as_ref().expect(STARTED)
    }

    /// The node's booking service.
    pub fn booking(&self) -> &BookingService {
        self.parts.booking.as_ref().expect(STARTED)
    }

    /// The node's chat service.
    pub fn chat(&self) -> &ChatService {
        self.parts.chat.as_ref().expect(STARTED)
    }

    /// The node's files service.
    pub fn files(&self) -> &FilesService {
        self.parts.files.as_ref().expect(STARTED)
    }

    /// Where chat clients connect, if this node is a chat server.
    pub fn chat_addr(&self) -> Option<SocketAddr> {
        self.chat().addr()
    }

    /// The node's events service, if the cluster has a web front.
    pub fn events(&self) -> Option<&Events> {
        self.parts.events.as_ref().map(|e| e.events())
    }

    /// Where the web pages and JSON API are served, if this node has them.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.parts.web.as_ref().and_then(|w| w.addr())
    }

    /// Where the probe server (`metrics_port`) listens, if this node has one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.parts.probes.as_ref().and_then(ProbeServer::addr)
    }

    /// Where booking clients send requests, if this node is a front door.
    pub fn booking_addr(&self) -> Option<SocketAddr> {
        self.booking_addr
    }

    /// Leaves the cluster gracefully: the front doors stop taking clients
    /// and the services finish what they are doing (for at most `drain`)
    /// while the node still answers its peers; then it tells them it is
    /// leaving ([`Membership::leave`]), so that the coordinator role and
    /// whatever it served move at once rather than after the failure
    /// detector's `suspect_after`; then it stops as [`stop`](Self::stop)
    /// does. `SIGTERM` and Ctrl-C end `convene node` this way.
    pub async fn leave(mut self, drain: Duration) {
        self.parts.trigger.trigger();
        if tokio::time::timeout(drain, self.parts.join_services())
            .await
            .is_err()
        {
            tracing::warn!(node = %self.id, ?drain, "work still in flight after the drain time; leaving anyway");
        }
        self.membership.leave().await;
        self.stop().await;
    }

    /// Stops the node at once: every task ends, then the store is closed.
    /// Its peers notice it is gone after `suspect_after`; see
    /// [`leave`](Self::leave).
    pub async fn stop(self) {
        self.parts.stop().await;
        // Last reference: the SQLite connection closes here, after every
        // writer has finished.
        drop(self.store);
        tracing::info!(node = %self.id, "node stopped");
    }
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One SQLite file cannot be shared by nodes on different machines: each
/// would open its own copy, and they would disagree about every event.
fn warn_if_sqlite_across_machines(cluster: &ClusterConfig) {
    let hosts: std::collections::HashSet<_> = cluster.nodes.iter().map(|n| n.host).collect();
    if cluster.events.database_url.starts_with("sqlite:")
        && hosts.len() > 1
        && hosts.iter().any(|h| !h.is_loopback())
    {
        tracing::warn!(
            database_url = %cluster.events.database_url,
            "the nodes are on several machines but share a SQLite file: each machine will have its own; \
             set database_url to a MySQL or PostgreSQL server"
        );
    }
}

#[cfg(test)]
mod tests;
