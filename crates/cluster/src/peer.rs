//! Node-to-node calls, shared by every service.
//!
//! A node has one UDP peer socket, driven by `convene_rpc` (request ids,
//! timeouts, retries). Every payload on it starts with one byte, a
//! [`ServiceTag`], that says which service it is for; the rest is the
//! service's own message, encoded by that service. [`Router`] is the node's
//! request handler: it reads the tag and hands the body to the service that
//! registered for it. [`Peers`] is the calling side: "send this body to
//! service S on node N and wait for the reply".
//!
//! Services register after the transport has started (they need [`Peers`] to
//! be built), so [`Router`] fills its slots once at start-up; a request that
//! arrives before its service is ready is dropped and the caller's retry gets
//! through.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use convene_rpc::{DatagramSocket, RpcError};

use crate::config::{ClusterConfig, NodeConfig};

/// A boxed, sendable future: what a [`ServiceHandler`] returns.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The first byte of every peer payload: which service it is for.
///
/// Each service names its own (`convene_meet::TAG`, ..., and this crate's
/// [`membership::TAG`](crate::membership::TAG) for the election); the node
/// crate's list of services (`convene_node::services`) checks that no two
/// share a byte. A byte, once given to a service, is part of the wire format
/// and never changes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ServiceTag {
    byte: u8,
    name: &'static str,
}

/// How many tags [`Router`] has room for.
const SLOTS: usize = 16;

impl ServiceTag {
    /// The tag `byte`, called `name` in logs. `byte` must be below 16 (the
    /// router's table); a larger one does not compile where the tag is a
    /// `const`.
    pub const fn new(byte: u8, name: &'static str) -> Self {
        assert!((byte as usize) < SLOTS, "a service tag is below 16");
        ServiceTag { byte, name }
    }

    /// The byte that starts the service's payloads.
    pub const fn byte(self) -> u8 {
        self.byte
    }

    /// The service's name, for logs.
    pub const fn name(self) -> &'static str {
        self.name
    }
}

impl std::fmt::Debug for ServiceTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.name, self.byte)
    }
}

impl std::fmt::Display for ServiceTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// A service's handler for requests from other nodes.
pub trait ServiceHandler: Send + Sync + 'static {
    /// Handles one request body (the tag already removed). Returns the reply
    /// body, or `None` to send nothing (the caller will retry or time out).
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>>;

    /// Takes a one-way notice (the tag already removed). Runs on the
    /// transport's receive task, so it must be quick. Ignored by default.
    fn notice(&self, from: SocketAddr, body: Vec<u8>) {
        let _ = (from, body);
    }
}

/// Routes each incoming peer request to its service by tag.
#[derive(Default)]
pub struct Router {
    services: [OnceLock<Arc<dyn ServiceHandler>>; SLOTS],
    dropped: AtomicU64,
}

impl Router {
    /// A router with no service yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the handler for `tag`. A tag can be registered once; a second
    /// registration is a programming error and is refused.
    pub fn register(&self, tag: ServiceTag, handler: Arc<dyn ServiceHandler>) -> bool {
        self.services[usize::from(tag.byte())].set(handler).is_ok()
    }

    /// Requests dropped because their tag was unknown or unregistered.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The handler registered for a payload's first byte, if any.
    fn handler(&self, payload: &[u8]) -> Option<Arc<dyn ServiceHandler>> {
        let slot = self.services.get(usize::from(*payload.first()?))?;
        slot.get().cloned()
    }
}

impl convene_rpc::Handler for Router {
    fn handle(
        &self,
        from: SocketAddr,
        mut payload: Vec<u8>,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send {
        let handler = self.handler(&payload);
        if handler.is_none() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(%from, first_byte = ?payload.first(), "peer request for no registered service dropped");
        }
        async move {
            let handler = handler?;
            payload.remove(0);
            handler.handle(from, payload).await
        }
    }

    fn notice(&self, from: SocketAddr, mut payload: Vec<u8>) {
        match self.handler(&payload) {
            Some(handler) => {
                payload.remove(0);
                handler.notice(from, payload);
            }
            None => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

/// The calling side of the peer transport, with the cluster's address book.
/// Generic over the socket so a simulated network can stand in for tokio's.
pub struct Peers<S = tokio::net::UdpSocket> {
    client: convene_rpc::Client<S>,
    cluster: Arc<ClusterConfig>,
    me: usize,
}

impl<S> Clone for Peers<S> {
    fn clone(&self) -> Self {
        Peers {
            client: self.client.clone(),
            cluster: self.cluster.clone(),
            me: self.me,
        }
    }
}

impl<S: DatagramSocket> Peers<S> {
    /// Wraps a started transport for node number `me` of `cluster`.
    pub fn new(client: convene_rpc::Client<S>, cluster: Arc<ClusterConfig>, me: usize) -> Self {
        Peers {
            client,
            cluster,
            me,
        }
    }

    /// Sends `body` to service `tag` on the node at `to` and waits for the
    /// reply body (retrying as the transport is configured).
    pub async fn call(
        &self,
        to: SocketAddr,
        tag: ServiceTag,
        body: &[u8],
    ) -> Result<Vec<u8>, RpcError> {
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(tag.byte());
        payload.extend_from_slice(body);
        self.client.call(to, payload).await
    }

    /// Sends `body` to service `tag` on the node at `to` as a one-way notice
    /// (no reply, no retry).
    pub fn notify(&self, to: SocketAddr, tag: ServiceTag, body: &[u8]) -> Result<(), RpcError> {
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(tag.byte());
        payload.extend_from_slice(body);
        self.client.notify(to, payload)
    }

    /// The whole cluster, as this node knows it.
    pub fn cluster(&self) -> &ClusterConfig {
        &self.cluster
    }

    /// This node's own configuration.
    pub fn me(&self) -> &NodeConfig {
        &self.cluster.nodes[self.me]
    }

    /// The address this node's peer socket is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.client.local_addr()
    }

    /// This run's boot number (`None` for a transport that does not
    /// authenticate): it grows from one run of the node to the next.
    pub fn boot(&self) -> Option<u64> {
        self.client.boot()
    }

    /// What the transport's authentication let through and dropped so far
    /// (`None` for a transport that does not authenticate).
    pub fn auth_stats(&self) -> Option<convene_rpc::AuthStats> {
        self.client.auth_stats()
    }

    /// The transport's traffic counters so far: sent, retransmitted, and
    /// received datagrams dropped as malformed or unexpected (see
    /// [`convene_rpc::Stats`]).
    pub fn transport_stats(&self) -> convene_rpc::Stats {
        self.client.stats()
    }
}
