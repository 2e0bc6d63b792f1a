//! The coordinator's side: the [`Registry`] of every identity and room,
//! kept by whichever node membership says coordinates, and rebuilt from the
//! servers' views whenever that changes.
//!
//! # When the registry is rebuilt
//!
//! - **This node becomes coordinator.** It starts with nothing: the old
//!   coordinator's registry died with it (or lives on in a node that no
//!   longer coordinates). It asks every live chat server for its
//!   [`ServerView`] and rebuilds (see [`Registry::rebuild`] for why no name
//!   is lost or granted twice).
//! - **A node joins the live set.** It may be new (an empty view) or back
//!   from a partition with clients of its own, whose names may clash with
//!   names granted meanwhile; the rebuild finds such conflicts and tells
//!   the loser to [evict](crate::server::ChatServer::evict) its copy.
//! - **A server the registry does not know speaks.** Its view was missed;
//!   rebuild with it included.
//!
//! While rebuilding the coordinator answers every request with
//! `NotCoordinator`, which the servers retry: no claim is decided against a
//! registry that is about to be replaced.
//!
//! # Only under authority
//!
//! A claim is granted only while membership gives this node
//! [authority](Membership::authority) (leases from a majority); see
//! [`gate`](super::gate) for how long a claim waits for it before it is
//! refused. Releases, moves of an identity a server already holds, and
//! questions (where is a room, which rooms exist) are answered without it:
//! they grant nothing new, and a coordinator cut off from the majority
//! keeps serving what its side already holds.
//!
//! A node leaving the live set needs no rebuild: its names are simply
//! released ([`Registry::server_down`]). A server that restarted faster than
//! the failure detector noticed is caught by its boot number: its first
//! message carries a new one, and the coordinator frees what the previous
//! incarnation held before answering.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use convene_cluster::membership::Membership;
use convene_cluster::snapshot::{Page, read_snapshot};
use convene_cluster::{Peers, Shutdown};
use convene_rpc::DatagramSocket;
use convene_wire::{Decode, Encode};
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::gate::{Gate, Verdict};
use crate::ids::MAIN_HALL_PREFIX;
use crate::peer_msg::{PeerReply, PeerRequest, decode_view};
use crate::registry::{Kind, Registry, ServerId, ServerView};

/// The largest view a coordinator will collect from one server (bytes):
/// far above what a server's clients can hold, and a bound on what a
/// confused or hostile peer can make it allocate.
const MAX_VIEW: u32 = 64 * 1024 * 1024;

/// The coordinator role of one node: idle unless membership makes it the
/// coordinator.
pub(crate) struct Coordinator<S = UdpSocket> {
    peers: Peers<S>,
    membership: Membership<S>,
    /// `None` while this node does not coordinate, or is rebuilding.
    ready: Mutex<Option<Ready>>,
    /// Servers that spoke while unknown to the registry.
    unknown: Mutex<BTreeSet<ServerId>>,
    /// Wakes the watcher to rebuild.
    rebuild: Notify,
    /// Claims are decided only under authority.
    gate: Gate,
}

struct Ready {
    registry: Registry,
    /// The boot of each live server's current incarnation.
    boots: HashMap<ServerId, u64>,
}

impl<S: DatagramSocket> Coordinator<S> {
    /// The role of the node `peers` and `membership` belong to, idle until
    /// [`watch`] finds this node elected.
    pub fn new(peers: Peers<S>, membership: Membership<S>) -> Coordinator<S> {
        Coordinator {
            peers,
            membership,
            ready: Mutex::new(None),
            unknown: Mutex::new(BTreeSet::new()),
            rebuild: Notify::new(),
            gate: Gate::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Ready>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers a request from chat server `server`.
    pub fn answer(&self, server: &str, request: PeerRequest) -> PeerReply {
        let mut guard = self.lock();
        let Some(ready) = guard.as_mut() else {
            return PeerReply::NotCoordinator;
        };
        match request {
            PeerRequest::WhereIs { room } => {
                PeerReply::Location(ready.registry.holder(Kind::Room, &room).map(str::to_string))
            }
            PeerRequest::ListRooms => PeerReply::Rooms(ready.registry.rooms()),
            PeerRequest::Hello { boot } => self.admit(ready, server, boot, |_| PeerReply::Ack),
            PeerRequest::Claim { boot, kind, name } => self.admit(ready, server, boot, |r| {
                let now = tokio::time::Instant::now().into_std();
                match self.gate.verdict(self.membership.authority(), now) {
                    Verdict::Decide(_) => PeerReply::Decision(r.claim(server, kind, &name)),
                    Verdict::Wait => PeerReply::NotCoordinator,
                    Verdict::Refuse => {
                        tracing::info!(%server, %name, "claim refused: no majority behind this coordinator");
                        PeerReply::Decision(false)
                    }
                }
            }),
            PeerRequest::Release { boot, kind, name } => self.admit(ready, server, boot, |r| {
                r.release(server, kind, &name);
                PeerReply::Ack
            }),
            PeerRequest::Moved {
                boot,
                identity,
                former,
            } => self.admit(ready, server, boot, |r| {
                // The former server: a MainHall names it, another room's
                // holder is it. Unknown (the room is gone) only allows the
                // move if nobody else holds the identity.
                let from = match former.strip_prefix(MAIN_HALL_PREFIX) {
                    Some(owner) => owner.to_string(),
                    None => r.holder(Kind::Room, &former).unwrap_or("").to_string(),
                };
                PeerReply::Decision(r.moved(&identity, &from, server))
            }),
            // Requests for a server, not for the coordinator.
            PeerRequest::ViewPart { .. } | PeerRequest::Evict { .. } => PeerReply::NotCoordinator,
        }
    }

    /// Runs `act` for a message from `server` of incarnation `boot`, after
    /// making sure the registry knows that incarnation.
    fn admit(
        &self,
        ready: &mut Ready,
        server: &str,
        boot: u64,
        act: impl FnOnce(&mut Registry) -> PeerReply,
    ) -> PeerReply {
        match ready.boots.get(server) {
            Some(&known) if known == boot => {}
            Some(_) if ready.registry.is_live(server) => {
                // Restarted: its old clients are gone, and their names with them.
                tracing::info!(%server, "chat server restarted; its old names are released");
                ready.registry.server_down(server);
                ready.registry.add_server(server);
                ready.boots.insert(server.to_string(), boot);
            }
            _ => {
                // Not in the registry: its view was missed. Rebuild with it.
                self.unknown
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(server.to_string());
                self.rebuild.notify_one();
                return PeerReply::NotCoordinator;
            }
        }
        act(&mut ready.registry)
    }
}

/// Keeps the coordinator role in step with membership until `shutdown`.
pub(crate) async fn watch<S: DatagramSocket>(role: Arc<Coordinator<S>>, shutdown: Shutdown) {
    let me = role.membership.me();
    let mut coordinator = role.membership.coordinator();
    let mut live = role.membership.live();
    let mut known: BTreeSet<usize> = BTreeSet::new();
    let mut leading = false;
    let mut requested = false;
    loop {
        let leads = *coordinator.borrow_and_update() == Some(me);
        let now_live: BTreeSet<usize> = live.borrow_and_update().iter().copied().collect();
        if !leads {
            leading = false;
            *role.lock() = None;
        } else if !leading || requested || now_live.difference(&known).next().is_some() {
            if !leading {
                role.gate.reset();
            }
            requested = false;
            rebuild(&role, &now_live).await;
            leading = true;
        } else {
            let names = |n: &usize| role.peers.cluster().nodes.get(*n).map(|c| c.id.clone());
            let lost: Vec<String> = known.difference(&now_live).filter_map(names).collect();
            if let Some(ready) = role.lock().as_mut() {
                for server in lost {
                    tracing::info!(%server, "chat server down; its names are released");
                    ready.registry.server_down(&server);
                    ready.boots.remove(&server);
                }
            }
        }
        known = now_live;
        tokio::select! {
            _ = coordinator.changed() => {}
            _ = live.changed() => {}
            _ = role.rebuild.notified() => requested = true,
            _ = shutdown.wait() => return,
        }
    }
}

/// Collects the views of the live chat servers (and of any that spoke
/// unknown) and installs the rebuilt registry.
async fn rebuild<S: DatagramSocket>(role: &Coordinator<S>, live: &BTreeSet<usize>) {
    *role.lock() = None;
    let cluster = role.peers.cluster();
    let mut targets: BTreeSet<ServerId> = live
        .iter()
        .filter_map(|n| cluster.nodes.get(*n))
        .filter(|n| n.chat_port.is_some())
        .map(|n| n.id.clone())
        .collect();
    targets.extend(std::mem::take(
        &mut *role.unknown.lock().unwrap_or_else(|e| e.into_inner()),
    ));
    let mut fetches = JoinSet::new();
    for server in targets {
        let peers = role.peers.clone();
        fetches.spawn(async move {
            let view = fetch_view(&peers, &server).await;
            (server, view)
        });
    }
    let mut views: Vec<(ServerId, ServerView)> = Vec::new();
    let mut boots = HashMap::new();
    while let Some(done) = fetches.join_next().await {
        match done {
            Ok((server, Some((boot, view)))) => {
                boots.insert(server.clone(), boot);
                views.push((server, view));
            }
            Ok((server, None)) => {
                tracing::info!(%server, "no view from chat server; left out of the registry");
            }
            Err(_) => {}
        }
    }
    let (registry, conflicts) = Registry::rebuild(&views);
    tracing::info!(
        servers = views.len(),
        conflicts = conflicts.len(),
        "chat registry rebuilt"
    );
    *role.lock() = Some(Ready { registry, boots });
    for conflict in conflicts {
        let peers = role.peers.clone();
        tokio::spawn(async move {
            let Ok(target) = peers.cluster().node(&conflict.dropped) else {
                return;
            };
            let request = PeerRequest::Evict {
                kind: conflict.kind,
                name: conflict.name,
            };
            let _ = peers
                .call(
                    target.peer_addr(),
                    crate::peer_msg::TAG,
                    &request.to_bytes(),
                )
                .await;
        });
    }
}

/// One server's view, read part by part, and the boot number of the server
/// that sent it; `None` if it cannot be had. A snapshot replaced under us
/// (another rebuild asked meanwhile) means starting over, which
/// [`read_snapshot`] does a few times.
async fn fetch_view<S: DatagramSocket>(
    peers: &Peers<S>,
    server: &str,
) -> Option<(u64, ServerView)> {
    let addr = peers.cluster().node(server).ok()?.peer_addr();
    // The boot the last part came with (an atomic only so the fetch, which
    // borrows it, stays `Send`).
    let boot = AtomicU64::new(0);
    let fetch = |snapshot, offset| {
        let boot = &boot;
        async move {
            let request = PeerRequest::ViewPart { snapshot, offset };
            let reply = peers
                .call(addr, crate::peer_msg::TAG, &request.to_bytes())
                .await
                .ok()?;
            match PeerReply::from_bytes(&reply).ok()? {
                PeerReply::ViewPart {
                    boot: b,
                    snapshot,
                    total,
                    bytes,
                } => {
                    boot.store(b, Ordering::Relaxed);
                    Some(Page::Items {
                        snapshot,
                        total,
                        items: bytes,
                    })
                }
                PeerReply::StaleSnapshot => Some(Page::Stale),
                _ => None,
            }
        }
    };
    let bytes = read_snapshot(fetch, MAX_VIEW as usize).await?;
    let view = decode_view(&bytes).ok()?;
    Some((boot.load(Ordering::Relaxed), view))
}
