//! The meet service on one node: wiring roles, network and store together.
//!
//! A node may play either role or both:
//!
//! - **backend** (a `[node.meet]` section): loads its availability file,
//!   re-applies meetings from its store, announces its user names to every
//!   node that serves clients, answers intersections and registrations.
//! - **main** (a `client_port`): keeps the [`Directory`](crate::directory::Directory)
//!   (and each backend's last list on disk, [`crate::known_lists`]), serves
//!   clients over TCP, fans each query out to the backends involved and
//!   intersects their partial results. A cluster may have several main
//!   nodes; they keep no meetings (the backends do), so they answer alike.
//!
//! Both roles answer peer requests through one handler (`MeetPeer`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use convene_cluster::peer::BoxFuture;
use convene_cluster::retry::{Attempt, Backoff, retry_until};
use convene_cluster::shutdown::Shutdown;
use convene_cluster::{Peers, Router, Screen, ServiceHandler};
use convene_rpc::SplitMix64;
use convene_store::Store;
use convene_wire::{Decode, Encode};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::backend::{Backend, Registration};
use crate::config::MeetSection;
use crate::directory::ChunkOutcome;
use crate::error::MeetError;
use crate::handle::MeetHandle;
use crate::known_lists::KnownLists;
use crate::lines;
use crate::peer_msg::{MeetReply, MeetRequest, TAG};

mod clients;
mod main_role;

pub use main_role::MainRole;

/// Everything the meet service needs from its node.
pub struct MeetContext {
    /// Calls to other nodes, and the cluster's address book.
    pub peers: Peers,
    /// Where to register the peer handler.
    pub router: Arc<Router>,
    /// Where on-screen lines go.
    pub screen: Screen,
    /// The node's store.
    pub store: Arc<Store>,
    /// The node's shutdown signal.
    pub shutdown: Shutdown,
    /// The bound client listener, if this node serves meet clients.
    pub client_listener: Option<TcpListener>,
    /// The node's metrics, where this service counts what it serves.
    pub metrics: convene_metrics::Metrics,
}

/// A running meet service.
pub struct MeetService {
    tasks: Vec<JoinHandle<()>>,
    peer: Arc<MeetPeer>,
    metrics: convene_metrics::Metrics,
}

impl MeetService {
    /// Peer requests dropped as malformed or unexpected.
    pub fn dropped(&self) -> u64 {
        self.peer.dropped.load(Ordering::Relaxed)
    }

    /// How many users the directory of this main node knows (0 if not a main).
    pub fn known_users(&self) -> usize {
        self.peer.main.as_ref().map_or(0, |m| m.known_users())
    }

    /// A handle for code on this node (the web app) to ask for common free
    /// time and register meetings: through this node's main role if it has
    /// one, otherwise through the cluster's main nodes' client ports.
    pub fn handle(&self) -> MeetHandle {
        let cluster = self.peer.peers.cluster();
        let me = &self.peer.peers.me().id;
        let others = cluster
            .nodes
            .iter()
            .filter(|n| &n.id != me)
            .filter_map(|n| n.client_addr())
            .collect();
        MeetHandle::new(self.peer.main.clone(), others, self.metrics.clone())
    }

    /// Waits for the service's tasks to finish after shutdown.
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Upper bound on one announcement chunk, so it fits a datagram with room to spare.
const CHUNK_BYTES: usize = 16 * 1024;

/// Starts the meet service on a node. Fails, loading nothing, if the
/// availability file is malformed.
pub async fn start(ctx: MeetContext) -> Result<MeetService, MeetError> {
    let me = ctx.peers.me().clone();
    let backend = match MeetSection::of(&me) {
        None => None,
        Some(section) => {
            let path = section.availability.clone();
            let users = tokio::task::spawn_blocking(move || crate::availability::load(&path))
                .await
                .expect("availability loader panicked")?;
            let mut backend = Backend::new(users);
            let store = ctx.store.clone();
            let stored = tokio::task::spawn_blocking(move || store.meetings())
                .await
                .expect("store reader panicked")?;
            let restored = stored.len();
            backend.restore(stored);
            if restored > 0 {
                tracing::info!(
                    meetings = restored,
                    "restored registered meetings from the store"
                );
            }
            Some(Arc::new(BackendRole {
                id: me.id.clone(),
                peers: ctx.peers.clone(),
                screen: ctx.screen.clone(),
                shutdown: ctx.shutdown.clone(),
                state: RwLock::new(backend),
                registering: tokio::sync::Mutex::new(()),
                store: ctx.store.clone(),
                boot: boot_stamp(),
                deliveries: Mutex::new(HashMap::new()),
            }))
        }
    };
    let main = match &ctx.client_listener {
        None => None,
        Some(_) => {
            // The store's file is in the node's data directory.
            let data_dir = ctx
                .store
                .path()
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .to_path_buf();
            let main = Arc::new(MainRole::new(
                ctx.peers.clone(),
                ctx.screen.clone(),
                boot_stamp(),
                SplitMix64::new(convene_rpc::os_random_u64()),
                KnownLists::in_data_dir(&data_dir),
            ));
            let restoring = main.clone();
            tokio::task::spawn_blocking(move || restoring.restore_kept_lists())
                .await
                .expect("kept-list reader panicked");
            Some(main)
        }
    };
    let peer = Arc::new(MeetPeer {
        peers: ctx.peers.clone(),
        backend: backend.clone(),
        main: main.clone(),
        dropped: AtomicU64::new(0),
    });
    if !ctx.router.register(TAG, peer.clone()) {
        return Err(MeetError::AlreadyRegistered);
    }

    let mut tasks = Vec::new();
    if main.is_some() {
        ctx.screen.line(lines::MAIN_UP);
    }
    if let Some(b) = &backend {
        ctx.screen.line(lines::backend_up(&b.id, b.port()));
        for node in ctx
            .peers
            .cluster()
            .nodes
            .iter()
            .filter(|n| n.client_port.is_some())
        {
            tasks.push(tokio::spawn(b.clone().announce(node.peer_addr())));
        }
    }
    if let (Some(main), Some(listener)) = (&main, ctx.client_listener) {
        // Ask every other backend to announce: this main may have started
        // (or restarted) after them. A backend that has already delivered
        // its list to this run of main ignores the request.
        for node in ctx
            .peers
            .cluster()
            .nodes
            .iter()
            .filter(|n| MeetSection::of(n).is_some() && n.id != me.id)
        {
            let peers = ctx.peers.clone();
            let to = node.peer_addr();
            let shutdown = ctx.shutdown.clone();
            let body = MeetRequest::Solicit { boot: main.boot() }.to_bytes();
            tasks.push(tokio::spawn(async move {
                // Until the backend answers: it may be down for now.
                call_until_answered(&peers, to, &body, &shutdown).await;
            }));
        }
        tasks.push(tokio::spawn(clients::serve(
            listener,
            main.clone(),
            ctx.peers.cluster().limits.clone(),
            ctx.shutdown.clone(),
            ctx.metrics.clone(),
        )));
    }
    Ok(MeetService {
        tasks,
        peer,
        metrics: ctx.metrics,
    })
}

/// A number that grows with every start of a process (nanoseconds since the
/// epoch), so peers can tell one run of a node from the next.
fn boot_stamp() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// Where this backend's list stands with one main node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Delivery {
    /// An announcement is under way.
    Sending,
    /// The run of main with this boot stamp has the whole list.
    Delivered(u64),
}

/// The backend role's state.
struct BackendRole {
    id: String,
    peers: Peers,
    screen: Screen,
    shutdown: Shutdown,
    state: RwLock<Backend>,
    /// Registrations run one at a time, so a plan is still valid when applied.
    registering: tokio::sync::Mutex<()>,
    store: Arc<Store>,
    boot: u64,
    deliveries: Mutex<HashMap<SocketAddr, Delivery>>,
}

/// The meet service's handler for peer requests.
struct MeetPeer {
    peers: Peers,
    backend: Option<Arc<BackendRole>>,
    main: Option<Arc<MainRole>>,
    dropped: AtomicU64,
}

impl ServiceHandler for MeetPeer {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let request = match MeetRequest::from_bytes(&body) {
            Ok(r) => r,
            Err(e) => return self.drop_request(from, &format!("malformed meet request: {e}")),
        };
        // Only nodes of the cluster are listened to, each in its own role.
        let cluster = self.peers.cluster();
        let Some(sender) = cluster.node_at(from) else {
            return self.drop_request(from, "meet request from outside the cluster");
        };
        if let MeetRequest::Announce {
            boot,
            chunk,
            chunks,
            names,
        } = request
        {
            let (Some(main), true) = (&self.main, MeetSection::of(sender).is_some()) else {
                return self.drop_request(
                    from,
                    "announcement to a non-main node or from a non-backend",
                );
            };
            let node = cluster.index_of(&sender.id).unwrap_or(usize::MAX);
            let reply = main.accept_chunk(node, &sender.id, boot, chunk, chunks, names);
            return Box::pin(async move { Some(reply.to_bytes()) });
        }
        let (Some(backend), true) = (self.backend.clone(), sender.client_port.is_some()) else {
            return self.drop_request(
                from,
                "backend request to a non-backend or from a non-main node",
            );
        };
        Box::pin(async move {
            let reply = match request {
                MeetRequest::Solicit { boot } => {
                    if backend.should_announce(from, boot) {
                        tokio::spawn(backend.clone().announce(from));
                    }
                    MeetReply::Ack
                }
                MeetRequest::Intersect { names } => backend.intersect(names),
                MeetRequest::Register {
                    meeting,
                    slot,
                    names,
                } => backend.register(meeting, slot, names).await,
                MeetRequest::Unregister { meeting } => backend.unregister(meeting).await,
                MeetRequest::Announce { .. } => unreachable!("handled above"),
            };
            Some(reply.to_bytes())
        })
    }
}

impl MeetPeer {
    fn drop_request(&self, from: SocketAddr, why: &str) -> BoxFuture<Option<Vec<u8>>> {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(%from, "{why}; dropped");
        Box::pin(async { None })
    }
}

/// Splits names into announcement chunks of at most [`CHUNK_BYTES`]; an
/// empty list is still one (empty) chunk, so "no users" is announced too.
fn chunk_names(names: Vec<String>) -> Vec<Vec<String>> {
    let mut chunks = vec![Vec::new()];
    let mut size = 0;
    for name in names {
        let cost = 4 + name.len();
        if size + cost > CHUNK_BYTES {
            chunks.push(Vec::new());
            size = 0;
        }
        size += cost;
        chunks.last_mut().expect("never empty").push(name);
    }
    chunks
}

/// Calls the meet service at `to` until it answers, pausing longer after
/// each failed attempt (up to 5 s): the other node may simply not be up yet.
/// `None` if this node stops first.
async fn call_until_answered(
    peers: &Peers,
    to: SocketAddr,
    body: &[u8],
    shutdown: &Shutdown,
) -> Option<Vec<u8>> {
    let backoff = Backoff::doubling(Duration::from_millis(200), Duration::from_secs(5));
    retry_until(shutdown, backoff, || async {
        match peers.call(to, TAG, body).await {
            Ok(answer) => Attempt::Done(answer),
            Err(e) => {
                tracing::debug!(%to, "no answer yet ({e}); retrying");
                Attempt::Retry
            }
        }
    })
    .await
}

impl BackendRole {
    fn port(&self) -> u16 {
        self.peers.local_addr().port()
    }

    /// Whether a solicitation from the main node at `to`, run `boot`, needs
    /// an announcement: not if one is under way or that run has the list.
    fn should_announce(&self, to: SocketAddr, boot: u64) -> bool {
        let deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        match deliveries.get(&to) {
            Some(Delivery::Sending) => false,
            Some(Delivery::Delivered(delivered_to)) => *delivered_to != boot,
            None => true,
        }
    }

    /// Sends this backend's whole user list to the main node at `to`,
    /// retrying (with a growing pause) until it is taken or the node stops.
    async fn announce(self: Arc<Self>, to: SocketAddr) {
        {
            let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
            if deliveries.get(&to) == Some(&Delivery::Sending) {
                return;
            }
            deliveries.insert(to, Delivery::Sending);
        }
        let delivered = self.send_list(to).await;
        let mut deliveries = self.deliveries.lock().unwrap_or_else(|e| e.into_inner());
        match delivered {
            Some(main_boot) => {
                deliveries.insert(to, Delivery::Delivered(main_boot));
                drop(deliveries);
                self.screen.line(lines::backend_sent_names(&self.id));
            }
            None => {
                deliveries.remove(&to);
            }
        }
    }

    /// Sends every chunk; returns the boot stamp of the main run that took
    /// them, or `None` if the node stopped or main refused the list.
    async fn send_list(&self, to: SocketAddr) -> Option<u64> {
        let names = self.state.read().unwrap_or_else(|e| e.into_inner()).names();
        let chunks = chunk_names(names);
        let total = chunks.len() as u32;
        let mut main_boot = None;
        for (i, names) in chunks.into_iter().enumerate() {
            let body = MeetRequest::Announce {
                boot: self.boot,
                chunk: i as u32,
                chunks: total,
                names,
            }
            .to_bytes();
            let answer = call_until_answered(&self.peers, to, &body, &self.shutdown).await?;
            match MeetReply::from_bytes(&answer) {
                Ok(MeetReply::Announced { boot }) => main_boot = Some(boot),
                Ok(MeetReply::Failed { message }) => {
                    tracing::error!(%to, "main node refused our user list: {message}");
                    return None;
                }
                other => {
                    tracing::error!(%to, "unexpected answer to an announcement: {other:?}");
                    return None;
                }
            }
        }
        main_boot
    }

    fn intersect(&self, names: Vec<String>) -> MeetReply {
        self.screen
            .line(lines::backend_received(&self.id, self.port()));
        let (slots, unknown) = self
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .intersect(&names);
        let known: Vec<&String> = names.iter().filter(|n| !unknown.contains(n)).collect();
        self.screen.line(lines::backend_found(&slots, &known));
        self.screen.line(lines::backend_replied(&self.id));
        MeetReply::Partial { slots, unknown }
    }

    async fn register(
        &self,
        meeting: u64,
        slot: convene_time::Interval,
        names: Vec<String>,
    ) -> MeetReply {
        let _one_at_a_time = self.registering.lock().await;
        let plan = match self
            .state
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .plan(meeting, slot, &names)
        {
            Registration::AlreadyDone => return MeetReply::Registered,
            Registration::Conflict(name) => return MeetReply::Conflict { name },
            Registration::Apply(plan) => plan,
        };
        // Stored before applied and before answered: a crash after the answer
        // can never lose a meeting main believes registered.
        let store = self.store.clone();
        let record = plan.record.clone();
        match tokio::task::spawn_blocking(move || store.insert_meeting(&record)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                tracing::error!("cannot store meeting {meeting}: {e}");
                return MeetReply::Failed {
                    message: format!("Server {} cannot store the meeting: {e}", self.id),
                };
            }
            Err(e) => {
                return MeetReply::Failed {
                    message: format!("store task failed: {e}"),
                };
            }
        }
        self.state
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .apply(&plan);
        let header = lines::backend_register(&slot);
        let updates: Vec<_> = plan
            .updates
            .iter()
            .map(|u| lines::backend_updated(&u.name, &u.before, &u.after))
            .collect();
        let mut block: Vec<&dyn std::fmt::Display> = vec![&header];
        block.extend(updates.iter().map(|u| u as &dyn std::fmt::Display));
        block.push(&lines::BACKEND_REGISTERED);
        self.screen.block(&block);
        MeetReply::Registered
    }

    async fn unregister(&self, meeting: u64) -> MeetReply {
        let _one_at_a_time = self.registering.lock().await;
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.delete_meeting(meeting)).await {
            Ok(Ok(_)) => {
                self.state
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .undo(meeting);
                MeetReply::Ack
            }
            Ok(Err(e)) => MeetReply::Failed {
                message: format!("Server {} cannot update its store: {e}", self.id),
            },
            Err(e) => MeetReply::Failed {
                message: format!("store task failed: {e}"),
            },
        }
    }
}

impl MainRole {
    fn accept_chunk(
        &self,
        node: usize,
        id: &str,
        boot: u64,
        chunk: u32,
        chunks: u32,
        names: Vec<String>,
    ) -> MeetReply {
        let outcome = self
            .directory()
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .accept_chunk(node, boot, chunk, chunks, names);
        match outcome {
            ChunkOutcome::Complete { users, duplicates } => {
                for d in duplicates {
                    let (kept, also) = (self.node_id(d.kept_at), self.node_id(d.also_at));
                    tracing::warn!(
                        "user {:?} is announced by Server {kept} and Server {also}; kept at Server {kept} (the first in the cluster file)",
                        d.name
                    );
                }
                self.keep_list(node);
                tracing::info!(users, "directory updated from Server {id}");
                self.screen()
                    .line(lines::main_got_names(id, self.peer_port()));
                MeetReply::Announced { boot: self.boot() }
            }
            ChunkOutcome::Incomplete | ChunkOutcome::Stale => {
                MeetReply::Announced { boot: self.boot() }
            }
            ChunkOutcome::Invalid => MeetReply::Failed {
                message: "announcement chunk count out of range or inconsistent".into(),
            },
        }
    }
}
