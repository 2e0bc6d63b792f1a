//! A node of the events service: its event server (if it is one), its view
//! of the cluster, and its calls to the other event servers.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use convene_cluster::peer::BoxFuture;
use convene_cluster::quorum::{NoAuthority, Term};
use convene_cluster::{ClusterConfig, Peers, Shutdown};
use convene_rpc::{DatagramSocket, RpcError};
use convene_wire::{Decode, Encode};
use tokio::sync::watch;

use crate::db::EventDb;
use crate::error::EventsError;
use crate::peer_msg::{Reply, Request};

use super::clock::Clock;
use super::faults::EventsFaults;
use super::server::EventServer;

/// Why a call to another event server did not get an answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("transport: {0}")]
    Transport(RpcError),
    #[error("undecodable reply: {0}")]
    Decode(convene_wire::DecodeError),
    #[error("no node {0} in the cluster file")]
    UnknownNode(String),
}

/// What a request to an event server is for: each kind takes its own turn.
#[derive(Clone, Copy)]
pub(crate) enum Work {
    /// A new event (its leader).
    Event,
    /// A constraint.
    Constraint,
}

/// The peer transport as this service uses it, whatever socket is under it
/// (tokio's in a node, the simulated network's in `sim.rs`).
pub(crate) trait Transport: Send + Sync + 'static {
    /// The cluster, as this node knows it.
    fn cluster(&self) -> &ClusterConfig;
    /// Sends an events request to the node at `to` and waits for the reply.
    fn call(&self, to: SocketAddr, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, RpcError>>;
}

impl<S: DatagramSocket> Transport for Peers<S> {
    fn cluster(&self) -> &ClusterConfig {
        Peers::cluster(self)
    }

    fn call(&self, to: SocketAddr, body: Vec<u8>) -> BoxFuture<Result<Vec<u8>, RpcError>> {
        let peers = self.clone();
        Box::pin(async move { peers.call(to, crate::peer_msg::TAG, &body).await })
    }
}

/// Whether this node may decide for the cluster now, and under which term:
/// [`Membership::authority`](convene_cluster::membership::Membership::authority),
/// or the simulation's.
pub(crate) type AuthorityCheck = Arc<dyn Fn() -> Result<Term, NoAuthority> + Send + Sync>;

/// What a node is made of: [`EventsNode::new`]'s parts.
pub(crate) struct Parts {
    /// This node's number in the cluster file.
    pub me: usize,
    pub transport: Arc<dyn Transport>,
    /// The nodes this node believes live, itself included.
    pub live: watch::Receiver<Vec<usize>>,
    /// Who coordinates, as this node believes.
    pub coordinator: watch::Receiver<Option<usize>>,
    /// Whether the coordinator may decide now (a majority's leases).
    pub authority: AuthorityCheck,
    pub db: Arc<dyn EventDb>,
    pub shutdown: Shutdown,
    pub faults: EventsFaults,
    pub clock: Clock,
}

/// Everything a node's events tasks share.
pub(crate) struct EventsNode {
    pub(crate) me: usize,
    transport: Arc<dyn Transport>,
    live: watch::Receiver<Vec<usize>>,
    pub(crate) coordinator: watch::Receiver<Option<usize>>,
    /// Hand-overs are decided only under authority.
    pub(crate) authority: AuthorityCheck,
    pub(crate) db: Arc<dyn EventDb>,
    /// This node's event server, if `event_server` is true for it.
    pub(crate) server: Option<EventServer>,
    pub(crate) shutdown: Shutdown,
    pub(crate) faults: EventsFaults,
    pub(crate) clock: Clock,
    /// The web front's round-robin positions, one for new events and one
    /// for constraints (as the seed's backend keeps them apart, so that
    /// events spread over the servers whatever the answers do).
    next_event: AtomicUsize,
    next_constraint: AtomicUsize,
    /// Events whose deadline this node has a timer for.
    pub(crate) armed: Mutex<HashSet<String>>,
    /// The timers' tasks, so that stopping the node waits for them (each
    /// holds the node, and with it the peer socket).
    pub(crate) timers: Mutex<tokio::task::JoinSet<()>>,
}

impl EventsNode {
    pub(crate) fn new(parts: Parts, server: Option<EventServer>) -> Self {
        EventsNode {
            me: parts.me,
            transport: parts.transport,
            live: parts.live,
            coordinator: parts.coordinator,
            authority: parts.authority,
            db: parts.db,
            server,
            shutdown: parts.shutdown,
            faults: parts.faults,
            clock: parts.clock,
            next_event: AtomicUsize::new(0),
            next_constraint: AtomicUsize::new(0),
            armed: Mutex::new(HashSet::new()),
            timers: Mutex::new(tokio::task::JoinSet::new()),
        }
    }

    /// The cluster, as this node knows it.
    pub(crate) fn cluster(&self) -> &ClusterConfig {
        self.transport.cluster()
    }

    /// This node's id.
    pub(crate) fn my_id(&self) -> &str {
        self.id_of(self.me)
    }

    /// The id of node number `node`.
    pub(crate) fn id_of(&self, node: usize) -> &str {
        &self.cluster().nodes[node].id
    }

    /// Every event server of the cluster, by id, in file order.
    pub(crate) fn server_ids(&self) -> Vec<String> {
        self.cluster()
            .event_servers()
            .map(|(_, n)| n.id.clone())
            .collect()
    }

    /// The live event servers, by node number, in file order.
    pub(crate) fn live_servers(&self) -> Vec<usize> {
        let live = self.live.borrow().clone();
        self.cluster()
            .event_servers()
            .map(|(i, _)| i)
            .filter(|i| live.contains(i))
            .collect()
    }

    /// The live event servers, by id, in file order.
    pub(crate) fn live_server_ids(&self) -> Vec<String> {
        self.live_servers()
            .into_iter()
            .map(|n| self.id_of(n).to_string())
            .collect()
    }

    /// A receiver of changes to the live set.
    pub(crate) fn watch_live(&self) -> watch::Receiver<Vec<usize>> {
        self.live.clone()
    }

    /// The live event servers in round-robin order, starting from the next
    /// one in turn: whom to try for one request, in order.
    pub(crate) fn round_robin(&self, work: Work) -> Vec<usize> {
        let next = match work {
            Work::Event => &self.next_event,
            Work::Constraint => &self.next_constraint,
        };
        let mut servers = self.live_servers();
        if !servers.is_empty() {
            let turn = next.fetch_add(1, Ordering::Relaxed) % servers.len();
            servers.rotate_left(turn);
        }
        servers
    }

    /// Sends `request` to event server `node` (directly if it is this node).
    pub(crate) async fn call(
        self: &Arc<Self>,
        node: usize,
        request: Request,
    ) -> Result<Reply, CallError> {
        if node == self.me {
            return Ok(self.handle(request).await);
        }
        let to = self.cluster().nodes[node].peer_addr();
        let reply = self
            .transport
            .call(to, request.to_bytes())
            .await
            .map_err(CallError::Transport)?;
        Reply::from_bytes(&reply).map_err(CallError::Decode)
    }

    /// Sends `request` to the event server with this id.
    pub(crate) async fn call_id(
        self: &Arc<Self>,
        id: &str,
        request: Request,
    ) -> Result<Reply, CallError> {
        let node = self
            .cluster()
            .index_of(id)
            .ok_or_else(|| CallError::UnknownNode(id.to_string()))?;
        self.call(node, request).await
    }

    /// Carries out a request addressed to this node.
    pub(crate) async fn handle(self: &Arc<Self>, request: Request) -> Reply {
        let Some(server) = &self.server else {
            return Reply::Refused(EventsError::NoEventServer);
        };
        let done = |r: Result<(), EventsError>| match r {
            Ok(()) => Reply::Done,
            Err(e) => Reply::Refused(e),
        };
        match request {
            Request::Submit {
                event,
                user,
                availability,
            } => done(server.submit(&event, &user, &availability).await),
            Request::Freeze { event } => match server.freeze(&event).await {
                Ok(partial) => Reply::Partial(partial),
                Err(e) => Reply::Refused(e),
            },
            Request::Adopt { event } => done(server.adopt(&event).await),
            Request::Clear { event } => done(server.clear(&event).await),
            Request::Lead { event } => done(self.lead(&event).await),
        }
    }
}
