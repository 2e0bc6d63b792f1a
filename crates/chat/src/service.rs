//! The chat service, running: one node's chat server on its `chat_port`,
//! its link to the coordinator, and the coordinator role.
//!
//! ```text
//!   clients ──TCP lines──▶ connection tasks ──▶ Hub (ChatServer + outboxes)
//!                                                  │ claims, releases, moves
//!                                                  ▼
//!                                                link ──UDP──▶ coordinator's
//!                                                               Registry
//! ```
//!
//! - `connection.rs`: framing, parsing and writing for one client, over a
//!   TCP socket or an in-process pipe ([`ChatHandle::connect`], how the web
//!   front's browsers connect).
//! - `hub.rs`: the [`ChatServer`](crate::server::ChatServer) behind one lock,
//!   and the bounded outbox of every connection.
//! - `chat_node.rs`: what needs the cluster before the server can answer (`list`,
//!   `joinroom` to another server) and what is reported after (`movejoin`).
//! - `link.rs`: this server's messages to the coordinator, in order, retried
//!   across elections; `link_op.rs`, what those messages are.
//! - `coordinator.rs`: the [`Registry`](crate::registry::Registry), kept by the
//!   node membership elects, rebuilt from the servers' views.
//! - `gate.rs`: a claim is decided only under the coordinator's authority
//!   (leases from a majority), waiting a bounded time for it.
//! - `peer_handler.rs`: the peer requests this service answers.
//!
//! Which module `use`s which: the arrows point one way, down to the leaves
//! (`link_op` and `gate` use nothing else of the service; `coordinator` uses
//! only `gate`).
//!
//! ```text
//!   service.rs (start) ▶ connection, peer_handler, link, chat_node, coordinator, hub
//!   connection ──────▶ chat_node, hub
//!   peer_handler ────▶ chat_node
//!   link ────────────▶ chat_node, link_op
//!   chat_node ───────▶ hub, coordinator, link_op
//!   coordinator ─────▶ gate
//!   hub ─────────────▶ link_op
//! ```
//!
//! Every node runs the coordinator role (any node can be elected); only nodes
//! with a `chat_port` run a chat server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use convene_cluster::accept::accept_until;
use convene_cluster::admission::ConnectionLimiter;
use convene_cluster::membership::Membership;
use convene_cluster::refusal::say_and_close;
use convene_cluster::snapshot::Snapshots;
use convene_cluster::{Peers, Router, Shutdown};
use convene_rpc::DatagramSocket;
use tokio::io::DuplexStream;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

mod chat_node;
mod connection;
mod coordinator;
mod copies;
mod gate;
mod hub;
mod link;
mod link_op;
mod observe;
mod peer_handler;

pub use chat_node::ROUTE_GRACE;
pub use connection::line_too_long_notice;
pub use hub::{HubStats, OUTBOX_LINES};
pub use link::CLAIM_PATIENCE;

use chat_node::{ChatNode, VIEW_TTL, VIEWS_KEPT};
use coordinator::Coordinator;
use hub::Hub;
use link_op::LinkOp;
use peer_handler::ChatPeerHandler;

/// What the chat service needs from its node.
/// Generic over the peer socket, as [`Peers`] is, so that tests can put a
/// socket that cuts chosen links in front of the real one.
pub struct ChatContext<S = UdpSocket> {
    /// The peer transport.
    pub peers: Peers<S>,
    /// Where to register for [`TAG`](crate::peer_msg::TAG).
    pub router: Arc<Router>,
    /// Who coordinates, and who is live.
    pub membership: Membership<S>,
    /// Stops every task.
    pub shutdown: Shutdown,
    /// The bound `chat_port`, if this node is a chat server.
    pub listener: Option<TcpListener>,
    /// The node's metrics, where this service counts what it serves.
    pub metrics: convene_metrics::Metrics,
}

/// A running chat service. Wait for it to end with [`ChatService::join`].
pub struct ChatService<S = UdpSocket> {
    node: Arc<ChatNode<S>>,
    addr: Option<SocketAddr>,
    tasks: Vec<JoinHandle<()>>,
}

/// A way into a running chat server from the same process: the web front's
/// browser clients (`/api/chat`) connect through it. Cheap to clone.
///
/// A connection made here is served by exactly the code that serves a TCP
/// client (identity timer, line limit, outbox, `error` lines), over an
/// in-process pipe instead of a socket, so browser and TCP clients share
/// rooms, identities and broadcasts. It is not counted under the chat
/// port's caps: the web front that makes it has its own (one HTTP
/// connection per browser client).
pub struct ChatHandle<S = UdpSocket> {
    node: Arc<ChatNode<S>>,
    addr: SocketAddr,
    identify_within: Duration,
}

impl<S> Clone for ChatHandle<S> {
    fn clone(&self) -> Self {
        ChatHandle {
            node: self.node.clone(),
            addr: self.addr,
            identify_within: self.identify_within,
        }
    }
}

/// Bytes the in-process pipe holds in each direction before a writer waits.
const PIPE_BYTES: usize = 16 * 1024;

impl<S: DatagramSocket> ChatHandle<S> {
    /// A new client connection: the client's end of a pipe that speaks the
    /// protocol's JSON lines, exactly as the chat port does. Dropping it is
    /// the client leaving (handled like an abrupt disconnect: a quit).
    /// Must be called inside the Tokio runtime.
    pub fn connect(&self) -> DuplexStream {
        let (client, server) = tokio::io::duplex(PIPE_BYTES);
        let (read, write) = tokio::io::split(server);
        tokio::spawn(connection::serve(
            self.node.clone(),
            (read, write),
            connection::Door {
                name: observe::WEBSOCKET,
                peer: None,
            },
            None,
            self.identify_within,
        ));
        client
    }

    /// This server's chat port, where TCP clients connect; a `route` reply
    /// naming it names this server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// This server's id (its MainHall is `MainHall-<id>`).
    pub fn server_id(&self) -> String {
        self.node.peers.me().id.clone()
    }
}

/// Starts the chat service of one node.
pub fn start<S: DatagramSocket>(ctx: ChatContext<S>) -> ChatService<S> {
    let (link_tx, link_rx) = mpsc::unbounded_channel();
    let me = ctx.peers.me().id.clone();
    let role = Arc::new(Coordinator::new(ctx.peers.clone(), ctx.membership.clone()));
    let node = Arc::new(ChatNode {
        hub: Hub::new(&me, link_tx, ctx.metrics.clone()),
        metrics: ctx.metrics,
        peers: ctx.peers,
        membership: ctx.membership,
        boot: convene_rpc::os_random_u64(),
        coordinator: role.clone(),
        views: Snapshots::new(VIEWS_KEPT, VIEW_TTL),
    });
    // Registered once per node; a second registration is a programming error
    // and the first stands.
    let _ = ctx.router.register(
        crate::peer_msg::TAG,
        Arc::new(ChatPeerHandler(node.clone())),
    );
    let mut tasks = vec![tokio::spawn(coordinator::watch(role, ctx.shutdown.clone()))];
    let addr = ctx.listener.as_ref().and_then(|l| l.local_addr().ok());
    if let Some(listener) = ctx.listener {
        node.hub.to_link(LinkOp::Hello);
        tasks.push(tokio::spawn(link::run(
            node.clone(),
            link_rx,
            ctx.shutdown.clone(),
        )));
        tasks.push(tokio::spawn(accept(
            node.clone(),
            listener,
            ctx.shutdown.clone(),
        )));
    }
    ChatService { node, addr, tasks }
}

/// Accepts clients until `shutdown`, then cuts every connection.
///
/// Connections are capped in all (`chat_connections`) and per address
/// (`chat_connections_per_ip`); one beyond a cap gets an `error` line
/// saying which, and is closed. The loop is the front doors' one
/// ([`accept_until`]); every connection watches the hub, which cuts them
/// all at the end.
async fn accept<S: DatagramSocket>(
    node: Arc<ChatNode<S>>,
    listener: TcpListener,
    shutdown: Shutdown,
) {
    let limits = &node.peers.cluster().limits;
    let limiter = ConnectionLimiter::new(limits.chat_connections, limits.chat_connections_per_ip);
    let identify_within = limits.chat_identify_timeout;
    let mut connections = accept_until(
        "chat",
        listener,
        limiter,
        shutdown.wait(),
        |stream, _peer, permit| connection::start(node.clone(), stream, permit, identify_within),
        |stream, refused| {
            let notice = connection::error_line(&refused.to_string());
            async move { say_and_close(stream, &notice).await }
        },
    )
    .await;
    connections.detach_all();
    node.hub.detach_all();
}

impl<S: DatagramSocket> ChatService<S> {
    /// Where chat clients connect, if this node is a chat server.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr
    }

    /// A handle for in-process clients, if this node is a chat server.
    pub fn handle(&self) -> Option<ChatHandle<S>> {
        let addr = self.addr?;
        Some(ChatHandle {
            node: self.node.clone(),
            addr,
            identify_within: self.node.peers.cluster().limits.chat_identify_timeout,
        })
    }

    /// Delivery counters.
    pub fn stats(&self) -> &HubStats {
        self.node.hub.stats()
    }

    /// The identities of the clients on this server, sorted.
    pub fn identities(&self) -> Vec<String> {
        self.node.hub.lock().server.identities()
    }

    /// This server's rooms, its MainHall first.
    pub fn rooms(&self) -> Vec<String> {
        self.node.hub.lock().server.rooms()
    }

    /// Lines delivered to clients so far.
    pub fn delivered(&self) -> u64 {
        self.stats().delivered.load(Ordering::Relaxed)
    }

    /// Waits until every task has ended (after the node's shutdown).
    pub async fn join(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
