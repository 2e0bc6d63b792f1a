//! Membership and the coordinator, running: the [`election`](crate::election)
//! state machine and the [quorum](crate::quorum)'s [`Authority`] beside it,
//! driven by the peer transport and the clock.
//!
//! Every node runs one [`Membership`]. It feeds election notices from other
//! nodes into the state machine, sends what the machine wants sent, wakes it
//! at its deadlines, and publishes what it concludes in two `watch` channels:
//! who the coordinator is, and which nodes are live. Any service can hold a
//! receiver and react when either changes.
//!
//! # Authority
//!
//! Being coordinator is not enough to take a decision that must be unique
//! cluster-wide: a coordinator cut off from the others still believes it
//! coordinates. So the driver also runs an [`Authority`]: it tells it every
//! coordinator the election settles on, carries its lease messages over the
//! same tag ([`codec`]), wakes it at its deadline, and stores
//! [`Authority::highest_term`] in a [`TermStore`] before sending anything
//! that depends on it. A service asks [`Membership::authority`] right
//! before it decides: the answer is the term to decide under, or why not.
//! A new coordinator has authority once a majority (itself included) has
//! granted it a lease, and nobody grants anything during the first lease
//! (2 s) after its own start, so a fresh cluster decides nothing for about
//! that long; a coordinator cut off from the majority loses it within one
//! lease. It also answers the status
//! request behind `convene status`: a web node gathers every node's answer
//! ([`Membership::views`]) for its `GET /api/status`. The request is
//! answered to anyone who can reach the peer port (it reveals only
//! liveness): `convene status --chat-config`, for the chat seed's cluster,
//! which has no web front, asks each node directly.
//!
//! # Leaving
//!
//! [`Membership::leave`] is a node's last word: it gives up authority
//! ([`Authority::leave`]) and then tells every other node, a few times
//! ([`LEAVE_COPIES`], [`LEAVE_GAP`] apart: one datagram each), that it is
//! stopping ([`codec`]'s `Leaving`, with its boot number and highest
//! term). They mark it down and elect at once if it coordinated
//! ([`election`](crate::election#leaving)), and forget their lease
//! promises to it ([`quorum`](crate::quorum#leaving)), so the new
//! coordinator has authority one lease round later rather than a lease
//! later; services that watch [`Membership::live`] and
//! [`Membership::coordinator`] move what it served as they do for a node
//! that went silent, only without waiting for `suspect_after`. The message
//! is sealed like every peer datagram, so only a member can send it, and
//! only from its own address.
//!
//! # Two-way contact
//!
//! A coordinator that others hear but that cannot hear them (the links
//! into it cut) would otherwise be followed by everyone while it never
//! gets a grant, and its lease requests, still arriving, would keep every
//! grantor's promise running: nobody could get authority. So a
//! coordinator's claim travels with the nodes it hears ([`codec`]'s
//! `Claim`, its live set), and a node the claim does not name:
//!
//! - does not take it as a claim (only as a sign of life): the claim lapses
//!   and the election replaces that coordinator among the nodes that hear
//!   each other;
//! - grants that node no lease for `suspect_after` after each such claim,
//!   so its promises run out and the coordinator elected instead gets the
//!   majority's leases.
//!
//! Once the links mend, the old coordinator hears the others, names them in
//! its claims, and (ranking higher) takes over again, in a newer term.
//! Tested on turmoil (`tests/simulated_membership.rs`,
//! `a_coordinator_heard_but_not_hearing_is_replaced_by_one_with_authority`:
//! with default election timings scaled down, the other side held authority
//! about 2 s after the cut, and no two nodes held it at once).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use convene_rpc::DatagramSocket;
use convene_wire::{Decode, Encode};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::config::ClusterConfig;
use crate::election::{Election, ElectionConfig, Event, Message, NodeId};
use crate::peer::{BoxFuture, Peers, Router, ServiceHandler, ServiceTag};
use crate::quorum::{Authority, NoAuthority, QuorumConfig, Term};
use crate::shutdown::Shutdown;
use crate::term_store::TermStore;
use crate::unordered::Unordered;

pub mod codec;

use codec::Wire;

/// The election's peer messages start with this byte (see [`ServiceTag`]).
pub const TAG: ServiceTag = ServiceTag::new(3, "election");

/// How many times [`Membership::leave`] sends its `Leaving` to each node.
/// Each copy is one datagram; with three, a leave goes unheard only if all
/// three are lost, and then the failure detector still notices.
pub const LEAVE_COPIES: usize = 3;

/// The pause between two copies of a `Leaving`, so that one burst of loss
/// does not take them all.
pub const LEAVE_GAP: std::time::Duration = std::time::Duration::from_millis(10);

/// A node's running membership: watch the coordinator and the live set.
pub struct Membership<S = tokio::net::UdpSocket> {
    inner: Arc<Inner<S>>,
}

impl<S> Clone for Membership<S> {
    fn clone(&self) -> Self {
        Membership {
            inner: self.inner.clone(),
        }
    }
}

struct Inner<S> {
    peers: Peers<S>,
    me: NodeId,
    election: Mutex<Election>,
    /// Leases and terms, told the election's coordinator. Locked after
    /// `election` when both are held.
    authority: Mutex<Authority>,
    /// Where the highest term is kept; held while storing, so that no
    /// message leaves before the term it depends on is stored.
    terms: Mutex<TermStore>,
    /// Wakes the driver when a message may have moved a deadline.
    wake: Notify,
    coordinator: watch::Sender<Option<NodeId>>,
    live: watch::Sender<Vec<NodeId>>,
    /// Nodes whose latest coordinator claim did not name this node (they do
    /// not hear it), each until when no lease is granted to it.
    deaf: Mutex<HashMap<NodeId, Instant>>,
    /// How long one such claim stops grants: `suspect_after`, as long as
    /// silence takes to count as death.
    deaf_for: std::time::Duration,
}

impl<S: DatagramSocket> Membership<S> {
    /// Starts this node's membership: registers with `router` and runs the
    /// driver until `shutdown`. Terms are kept in memory only (see
    /// [`TermStore::in_memory`]); a node with a data directory uses
    /// [`Membership::start_with_terms`].
    pub fn start(
        peers: Peers<S>,
        router: &Router,
        config: ElectionConfig,
        shutdown: Shutdown,
    ) -> (Membership<S>, JoinHandle<()>) {
        Self::start_with_terms(peers, router, config, TermStore::in_memory(), shutdown)
    }

    /// [`start`](Self::start), keeping the highest term in `terms` and
    /// starting from the term it holds.
    pub fn start_with_terms(
        peers: Peers<S>,
        router: &Router,
        config: ElectionConfig,
        terms: TermStore,
        shutdown: Shutdown,
    ) -> (Membership<S>, JoinHandle<()>) {
        let cluster = peers.cluster();
        let me = cluster.index_of(&peers.me().id).unwrap_or_default();
        let priorities = cluster.nodes.iter().map(|n| n.priority).collect();
        let start = now();
        let deaf_for = config.suspect_after;
        let election = Election::new(me, priorities, config, start);
        let size = cluster.nodes.len().max(me + 1);
        let authority = Authority::new(me, size, QuorumConfig::default(), start, terms.stored());
        let inner = Arc::new(Inner {
            me,
            election: Mutex::new(election),
            authority: Mutex::new(authority),
            terms: Mutex::new(terms),
            wake: Notify::new(),
            coordinator: watch::channel(None).0,
            live: watch::channel(vec![me]).0,
            deaf: Mutex::new(HashMap::new()),
            deaf_for,
            peers,
        });
        // A second registration is a programming error; the first stands.
        let _ = router.register(TAG, Arc::new(Handler(inner.clone())));
        inner.flush();
        let task = tokio::spawn(drive(inner.clone(), shutdown));
        (Membership { inner }, task)
    }

    /// Who coordinates now (`None` while it is being decided). Wait for
    /// changes with `changed()`.
    pub fn coordinator(&self) -> watch::Receiver<Option<NodeId>> {
        self.inner.coordinator.subscribe()
    }

    /// The nodes this node believes live, itself included, sorted.
    pub fn live(&self) -> watch::Receiver<Vec<NodeId>> {
        self.inner.live.subscribe()
    }

    /// The term under which this node may take a decision that must be
    /// unique cluster-wide now, or why it may not: it does not coordinate,
    /// or it does not hold leases from a majority. Checked at the call, on
    /// the current clock; ask right before deciding, and carry the term.
    pub fn authority(&self) -> Result<Term, NoAuthority> {
        self.inner.authority().check(now())
    }

    /// Leaves the cluster: this node gives up being coordinator and its
    /// authority for good, then tells every other node it is stopping
    /// ([`LEAVE_COPIES`] times, [`LEAVE_GAP`] apart), so that they elect and
    /// move what it served at once instead of after `suspect_after`. From
    /// then on it takes part in nothing: call it when everything that
    /// needs the cluster is done, right before stopping the node.
    pub async fn leave(&self) {
        let boot = self.inner.peers.boot().unwrap_or_else(wall_ms);
        // Authority first: no decision of this node may follow the news.
        self.inner.authority().leave();
        for copy in 0..LEAVE_COPIES {
            if copy > 0 {
                tokio::time::sleep(LEAVE_GAP).await;
            }
            self.inner.lock().leave(boot);
            self.inner.flush();
        }
        self.inner.wake.notify_one();
        let cluster = self.cluster();
        tracing::info!(node = %cluster.nodes[self.inner.me].id, boot, "left the cluster");
    }

    /// This node's own view now (its coordinator, live nodes, term and
    /// authority), as it would answer a status request; no message sent.
    pub fn view(&self) -> View {
        self.inner.view()
    }

    /// This node's number in the cluster file.
    pub fn me(&self) -> NodeId {
        self.inner.me
    }

    /// The cluster, as this node knows it.
    pub fn cluster(&self) -> &ClusterConfig {
        self.inner.peers.cluster()
    }

    /// Every node's view, in the order of the cluster file: this node's
    /// own, and each other's as it answers over the peer transport (asked
    /// all at once); `None` for a node that does not answer (after the
    /// transport's retries, about two seconds).
    pub async fn views(&self) -> Vec<Option<View>> {
        let me = self.inner.me;
        let asks = self.cluster().nodes.iter().enumerate().map(|(n, node)| {
            let peers = self.inner.peers.clone();
            let own = (n == me).then(|| self.inner.view());
            let addr = node.peer_addr();
            async move {
                let view = match own {
                    Some(view) => Some(view),
                    None => ask_status(&peers, addr).await,
                };
                (n, view)
            }
        });
        let mut views = vec![None; self.cluster().nodes.len()];
        let mut asks = Unordered::new(asks);
        while let Some((n, view)) = asks.next().await {
            views[n] = view;
        }
        views
    }
}

/// One node's view of the cluster, as it answered a status request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Its coordinator, if it has one.
    pub coordinator: Option<NodeId>,
    /// The nodes it believes live, itself included, sorted.
    pub live: Vec<NodeId>,
    /// The highest term it has granted or used.
    pub term: u64,
    /// Whether it holds a majority's leases (it may decide) now.
    pub authority: bool,
}

/// The view of the node at `addr`, over `peers`; `None` if it does not
/// answer, or answers something else.
async fn ask_status<S: DatagramSocket>(peers: &Peers<S>, addr: SocketAddr) -> Option<View> {
    let body = Wire::StatusRequest.to_bytes();
    let reply = peers.call(addr, TAG, &body).await.ok()?;
    match Wire::from_bytes(&reply) {
        Ok(Wire::Status {
            coordinator,
            live,
            term,
            authority,
            ..
        }) => Some(View {
            coordinator,
            live,
            term,
            authority,
        }),
        _ => None,
    }
}

impl<S: DatagramSocket> Inner<S> {
    /// This node's view now.
    fn view(&self) -> View {
        let (coordinator, live) = {
            let e = self.lock();
            (e.coordinator(), e.live())
        };
        let a = self.authority();
        View {
            coordinator,
            live,
            term: a.highest_term().0,
            authority: a.authority(now()).is_some(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Election> {
        self.election.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn authority(&self) -> MutexGuard<'_, Authority> {
        self.authority.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deaf(&self) -> MutexGuard<'_, HashMap<NodeId, Instant>> {
        self.deaf.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The earlier of the election's and the authority's deadlines.
    fn poll_timeout(&self) -> Option<Instant> {
        let election = self.lock().poll_timeout();
        let authority = self.authority().poll_timeout();
        match (election, authority) {
            (Some(e), Some(a)) => Some(e.min(a)),
            (e, a) => e.or(a),
        }
    }

    /// Hands the authority the election's coordinator and sends what it
    /// queued, after storing the term those messages depend on.
    fn flush_authority(&self, coordinator: Option<NodeId>) {
        let (transmits, highest) = {
            let mut a = self.authority();
            a.set_coordinator(now(), coordinator);
            let transmits: Vec<_> = std::iter::from_fn(|| a.poll_transmit()).collect();
            (transmits, a.highest_term())
        };
        if transmits.is_empty() {
            return;
        }
        {
            let mut terms = self.terms.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = terms.store(highest) {
                // Sending without the term stored could reuse it after a
                // restart; sending nothing only delays authority.
                tracing::error!(
                    path = ?terms.path(),
                    "cannot store the quorum term; lease messages not sent: {e}"
                );
                return;
            }
        }
        let cluster = self.peers.cluster();
        for (to, message) in transmits {
            let Some(node) = cluster.nodes.get(to) else {
                continue;
            };
            let body = Wire::Quorum(message).to_bytes();
            if let Err(e) = self.peers.notify(node.peer_addr(), TAG, &body) {
                tracing::debug!(to = %node.id, "lease message not sent: {e}");
            }
        }
    }

    /// Sends what the machine queued and publishes what it concluded.
    fn flush(&self) {
        let (transmits, events, coordinator, live) = {
            let mut e = self.lock();
            let transmits: Vec<_> = std::iter::from_fn(|| e.poll_transmit()).collect();
            let events: Vec<_> = std::iter::from_fn(|| e.poll_event()).collect();
            (transmits, events, e.coordinator(), e.live())
        };
        let cluster = self.peers.cluster();
        for (to, message) in transmits {
            let Some(node) = cluster.nodes.get(to) else {
                continue;
            };
            let wire = match message {
                // A claim says whom the claimant hears (two-way contact).
                Message::Coordinator => Wire::Claim {
                    hears: live.clone(),
                },
                // A leave says which terms the leaver held (see `leave`).
                Message::Leaving { incarnation } => Wire::Leaving {
                    boot: incarnation,
                    term: self.authority().highest_term(),
                },
                message => Wire::Election(message),
            };
            let body = wire.to_bytes();
            if let Err(e) = self.peers.notify(node.peer_addr(), TAG, &body) {
                tracing::debug!(to = %node.id, "election notice not sent: {e}");
            }
        }
        for event in events {
            match event {
                Event::CoordinatorChanged(c) => {
                    let name = c
                        .and_then(|c| cluster.nodes.get(c))
                        .map_or("none", |n| n.id.as_str());
                    tracing::info!(node = %cluster.nodes[self.me].id, "coordinator is now {name}");
                }
                Event::NodeUp(n) => {
                    tracing::info!(node = %cluster.nodes[self.me].id, "node {} is up", cluster.nodes[n].id)
                }
                Event::NodeDown(n) => {
                    tracing::info!(node = %cluster.nodes[self.me].id, "node {} is down", cluster.nodes[n].id)
                }
            }
        }
        self.flush_authority(coordinator);
        self.coordinator
            .send_if_modified(|c| std::mem::replace(c, coordinator) != coordinator);
        self.live.send_if_modified(|l| {
            let changed = *l != live;
            *l = live;
            changed
        });
    }
}

/// The wall clock in milliseconds: a leaving node's incarnation when its
/// transport has no boot number (it does not authenticate: tests only).
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The current time from tokio's clock, so a paused or simulated clock
/// applies to the election too.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Wakes the machine at its deadlines, and after messages.
async fn drive<S: DatagramSocket>(inner: Arc<Inner<S>>, shutdown: Shutdown) {
    loop {
        let deadline = inner.poll_timeout();
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => {
                let now = now();
                let due = inner.lock().poll_timeout().is_some_and(|d| d <= now);
                if due {
                    inner.lock().handle_timeout(now);
                }
                inner.authority().handle_timeout(now);
                inner.flush();
            }
            _ = inner.wake.notified() => {}
            _ = shutdown.wait() => return,
        }
    }
}

/// The election service's peer handler.
struct Handler<S>(Arc<Inner<S>>);

impl<S: DatagramSocket> ServiceHandler for Handler<S> {
    fn handle(&self, _from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let reply = match Wire::from_bytes(&body) {
            Ok(Wire::StatusRequest) => {
                let view = self.0.view();
                Some(
                    Wire::Status {
                        me: self.0.me,
                        coordinator: view.coordinator,
                        live: view.live,
                        term: view.term,
                        authority: view.authority,
                    }
                    .to_bytes(),
                )
            }
            _ => None,
        };
        Box::pin(async move { reply })
    }

    fn notice(&self, from: SocketAddr, body: Vec<u8>) {
        let inner = &self.0;
        let cluster = inner.peers.cluster();
        let Some(sender) = cluster.node_at(from).and_then(|n| cluster.index_of(&n.id)) else {
            tracing::debug!(%from, "election notice from outside the cluster; dropped");
            return;
        };
        match Wire::from_bytes(&body) {
            Ok(Wire::Election(message)) => inner.lock().handle(now(), sender, message),
            Ok(Wire::Claim { hears }) if hears.contains(&inner.me) => {
                inner.deaf().remove(&sender);
                inner.lock().handle(now(), sender, Message::Coordinator)
            }
            Ok(Wire::Claim { .. }) => {
                // The claimant does not hear us: we cannot follow it (its
                // claim lapses and an election replaces it), nor grant it a
                // lease whose promise would only block the coordinator we
                // elect instead. It is alive, though: a sign of life, so
                // that our own claims name it and it hears that we hear it.
                tracing::debug!(%from, "coordinator claim from a node that does not hear us; not followed");
                let until = now() + inner.deaf_for;
                inner.deaf().insert(sender, until);
                inner.lock().handle(now(), sender, Message::Heartbeat)
            }
            Ok(Wire::Quorum(message @ crate::quorum::Message::LeaseRequest { .. }))
                if inner
                    .deaf()
                    .get(&sender)
                    .is_some_and(|&until| now() < until) =>
            {
                tracing::debug!(%from, ?message, "lease request from a node that does not hear us; dropped");
                return;
            }
            Ok(Wire::Quorum(message)) => inner.authority().handle(now(), sender, message),
            Ok(Wire::Leaving { boot, term }) => {
                tracing::debug!(node = %cluster.nodes[sender].id, boot, "node says it is leaving");
                inner.authority().left(sender, term);
                inner
                    .lock()
                    .handle(now(), sender, Message::Leaving { incarnation: boot });
            }
            _ => {
                tracing::debug!(%from, "malformed election notice; dropped");
                return;
            }
        }
        inner.flush();
        inner.wake.notify_one();
    }
}

/// Asks the node at `addr` for its view, through `client` (any transport:
/// `convene status` uses one of its own).
pub async fn query_status<S: DatagramSocket>(
    client: &convene_rpc::Client<S>,
    addr: SocketAddr,
) -> Result<(NodeId, View), String> {
    let mut body = vec![TAG.byte()];
    body.extend(Wire::StatusRequest.to_bytes());
    let reply = client.call(addr, body).await.map_err(|e| e.to_string())?;
    match Wire::from_bytes(&reply) {
        Ok(Wire::Status {
            me,
            coordinator,
            live,
            term,
            authority,
        }) => Ok((
            me,
            View {
                coordinator,
                live,
                term,
                authority,
            },
        )),
        other => Err(format!("unreadable status: {other:?}")),
    }
}
