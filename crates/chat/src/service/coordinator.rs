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
//!   is lost or granted twice), adding the names a majority's
//!   [copies](crate::replica) give to servers it cannot reach.
//! - **Its authority has a new term.** A claim is decided only under the
//!   term the registry was rebuilt in: another coordinator may have decided
//!   in between, and its decisions are on a majority's copies, which the
//!   rebuild reads (promising the copies' nodes to refuse older terms).
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
//! # Written to a majority before approved
//!
//! An approved claim is written to a majority's copies before the server
//! hears of it ([`copies`](super::copies)); releases, moves and a restarted
//! server's names are written too, without waiting.
//!
//! A node leaving the live set needs no rebuild: its names are kept for it
//! ([`Registry::server_away`]), since it may be alive on the other side of a
//! partition with its clients still using them. A server that restarted faster than
//! the failure detector noticed is caught by its boot number: its first
//! message carries a new one, and the coordinator frees what the previous
//! incarnation held before answering.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use convene_cluster::membership::Membership;
use convene_cluster::snapshot::{Page, read_snapshot};
use convene_cluster::{Peers, Shutdown};
use convene_rpc::DatagramSocket;
use convene_wire::{Decode, Encode};
use tokio::net::UdpSocket;
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::copies::{Copies, Shortfall, read_majority, write_majority};
use super::gate::{Gate, Verdict};
use crate::ids::MAIN_HALL_PREFIX;
use crate::peer_msg::{PeerReply, PeerRequest, decode_view};
use crate::registry::{Kind, Registry, ServerId, ServerView};
use crate::replica::{Replica, Write};

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
    /// This node's copy of the approved names (every node keeps one).
    pub copies: Arc<Copies>,
}

struct Ready {
    registry: Registry,
    /// The boot of each live server's current incarnation.
    boots: HashMap<ServerId, u64>,
    /// The term under which a majority's copies were read into `registry`;
    /// `None` if read without authority (then nothing is approved).
    term: Option<u64>,
}

/// Writes that free `freed`, stamped in `term`, sent without waiting.
fn releases(
    term: Option<u64>,
    freed: Vec<(Kind, String)>,
    stamp: impl Fn(Option<&str>, Kind, &str, u64) -> Write,
) -> Option<(u64, Vec<Write>, bool)> {
    let term = term?;
    if freed.is_empty() {
        return None;
    }
    let writes = freed
        .iter()
        .map(|(kind, name)| stamp(None, *kind, name, term))
        .collect();
    Some((term, writes, false))
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
            copies: Arc::new(Copies::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Ready>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Answers a request from chat server `server`.
    ///
    /// A claim approved here is written to a majority's copies before the
    /// answer leaves (see [`copies`](super::copies)); if that fails the
    /// server is told "not coordinator" and asks again, and the name, held
    /// for it meanwhile, is approved again then (a claim by the holder is).
    pub async fn answer(&self, server: &str, request: PeerRequest) -> PeerReply {
        let (reply, write) = self.decide(server, request);
        let Some((term, write, wait)) = write else {
            return reply;
        };
        if !wait {
            // A release or a move: answered at once (the minority side keeps
            // serving what it holds); the copies follow when they can. A
            // copy that misses it is corrected by the next rebuild, from the
            // holder's view.
            let peers = self.peers.clone();
            let copies = self.copies.clone();
            tokio::spawn(async move {
                let _ = write_majority(&peers, &copies, term, write).await;
            });
            return reply;
        }
        match write_majority(&self.peers, &self.copies, term, write).await {
            Ok(()) => reply,
            Err(shortfall) => {
                tracing::info!(%server, ?shortfall, "approved claim not yet on a majority's copies; the server asks again");
                if let Shortfall::Stale(_) = shortfall {
                    // A newer term has read the copies: ours is over.
                    self.rebuild.notify_one();
                }
                PeerReply::NotCoordinator
            }
        }
    }

    /// Decides `request` against the registry; the writes to copy, under
    /// which term, and whether the answer must wait for them.
    #[allow(clippy::type_complexity)]
    fn decide(
        &self,
        server: &str,
        request: PeerRequest,
    ) -> (PeerReply, Option<(u64, Vec<Write>, bool)>) {
        let mut guard = self.lock();
        let Some(ready) = guard.as_mut() else {
            return (PeerReply::NotCoordinator, None);
        };
        let copy_term = ready.term;
        let stamp = |holder: Option<&str>, kind: Kind, name: &str, term: u64| Write {
            stamp: self.copies.stamp(term),
            kind,
            name: name.to_string(),
            holder: holder.map(str::to_string),
        };
        match request {
            PeerRequest::WhereIs { room } => (
                PeerReply::Location(ready.registry.holder(Kind::Room, &room).map(str::to_string)),
                None,
            ),
            PeerRequest::ListRooms => (PeerReply::Rooms(ready.registry.rooms()), None),
            PeerRequest::Hello { boot } => {
                let mut freed = Vec::new();
                let reply = self.admit(ready, server, boot, &mut freed, |_| PeerReply::Ack);
                (reply, releases(copy_term, freed, stamp))
            }
            PeerRequest::Claim { boot, kind, name } => {
                let mut freed = Vec::new();
                let mut decided = None;
                let reply = self.admit(ready, server, boot, &mut freed, |r| {
                    let now = tokio::time::Instant::now().into_std();
                    match self.gate.verdict(self.membership.authority(), now) {
                        // Decided only under the term whose copies this
                        // registry was rebuilt from: a new term may follow
                        // another coordinator's decisions.
                        Verdict::Decide(term) if copy_term != Some(term.0) => {
                            self.rebuild.notify_one();
                            PeerReply::NotCoordinator
                        }
                        Verdict::Decide(term) => {
                            let approved = r.claim(server, kind, &name);
                            if approved {
                                decided = Some(stamp(Some(server), kind, &name, term.0));
                            }
                            PeerReply::Decision(approved)
                        }
                        Verdict::Wait => PeerReply::NotCoordinator,
                        Verdict::Refuse => {
                            tracing::info!(%server, %name, "claim refused: no majority behind this coordinator");
                            PeerReply::Decision(false)
                        }
                    }
                });
                match (decided, copy_term) {
                    (Some(write), Some(term)) => (reply, Some((term, vec![write], true))),
                    _ => (reply, releases(copy_term, freed, stamp)),
                }
            }
            PeerRequest::Release { boot, kind, name } => {
                let mut freed = Vec::new();
                let mut released = false;
                let reply = self.admit(ready, server, boot, &mut freed, |r| {
                    if r.holder(kind, &name) == Some(server) {
                        r.release(server, kind, &name);
                        released = r.holder(kind, &name).is_none();
                    }
                    PeerReply::Ack
                });
                if released {
                    freed.push((kind, name));
                }
                (reply, releases(copy_term, freed, stamp))
            }
            PeerRequest::Moved {
                boot,
                identity,
                former,
            } => {
                let mut freed = Vec::new();
                let mut moved = false;
                let reply = self.admit(ready, server, boot, &mut freed, |r| {
                    // The former server: a MainHall names it, another room's
                    // holder is it. Unknown (the room is gone) only allows the
                    // move if nobody else holds the identity.
                    let from = match former.strip_prefix(MAIN_HALL_PREFIX) {
                        Some(owner) => owner.to_string(),
                        None => r.holder(Kind::Room, &former).unwrap_or("").to_string(),
                    };
                    moved = r.moved(&identity, &from, server);
                    PeerReply::Decision(moved)
                });
                let mut writes = releases(copy_term, freed, stamp);
                if let (true, Some(term)) = (moved, copy_term) {
                    let write = stamp(Some(server), Kind::Identity, &identity, term);
                    match &mut writes {
                        Some((_, w, _)) => w.push(write),
                        None => writes = Some((term, vec![write], false)),
                    }
                }
                (reply, writes)
            }
            // Requests for a server or a copy, not for the coordinator.
            PeerRequest::ViewPart { .. }
            | PeerRequest::Evict { .. }
            | PeerRequest::Replicate { .. }
            | PeerRequest::ReplicaPart { .. } => (PeerReply::NotCoordinator, None),
        }
    }

    /// Runs `act` for a message from `server` of incarnation `boot`, after
    /// making sure the registry knows that incarnation.
    /// The names the old incarnation held are added to `freed`.
    fn admit(
        &self,
        ready: &mut Ready,
        server: &str,
        boot: u64,
        freed: &mut Vec<(Kind, String)>,
        act: impl FnOnce(&mut Registry) -> PeerReply,
    ) -> PeerReply {
        match ready.boots.get(server) {
            Some(&known) if known == boot && ready.registry.is_live(server) => {}
            Some(&known) if known != boot && ready.registry.is_live(server) => {
                // Restarted: its old clients are gone, and their names with them.
                tracing::info!(%server, "chat server restarted; its old names are released");
                freed.extend(
                    ready
                        .registry
                        .held()
                        .filter(|(_, _, holder)| *holder == server)
                        .map(|(kind, name, _)| (kind, name.to_string())),
                );
                ready.registry.server_down(server);
                ready.registry.add_server(server);
                ready.boots.insert(server.to_string(), boot);
            }
            _ => {
                // Not in the registry, or away: its view was missed. Rebuild
                // with it.
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

/// The least time between two rebuilds that requests asked for.
const REBUILD_PAUSE: Duration = Duration::from_millis(100);

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
                role.gate.reset(tokio::time::Instant::now().into_std());
            }
            requested = false;
            rebuild(&role, &now_live).await;
            leading = true;
        } else {
            let names = |n: &usize| role.peers.cluster().nodes.get(*n).map(|c| c.id.clone());
            let lost: Vec<String> = known.difference(&now_live).filter_map(names).collect();
            if let Some(ready) = role.lock().as_mut() {
                for server in lost {
                    // Dead, or cut off with its clients: its names stay its
                    // own until it is heard again (a restart frees them).
                    tracing::info!(%server, "chat server unreachable; its names are kept for it");
                    ready.registry.server_away(&server);
                }
            }
        }
        known = now_live;
        tokio::select! {
            _ = coordinator.changed() => {}
            _ = live.changed() => {}
            _ = role.rebuild.notified() => {
                requested = true;
                // Asked for by claims retried every 50 ms: one rebuild per
                // pause is plenty.
                tokio::time::sleep(REBUILD_PAUSE).await;
            }
            _ = shutdown.wait() => return,
        }
    }
}

/// Collects the views of the live chat servers (and of any that spoke
/// unknown) and a majority's copies of the approved names, and installs the
/// registry they make.
///
/// Under authority (term `t`) the copies are read with a promise to refuse
/// writes below `t`, so nothing the previous coordinator approved is missed
/// (see [`replica`](crate::replica)); without it, whatever copies answer
/// are read, and the registry decides no claim until a rebuild under a
/// term. The views say what the reachable servers hold now: a view is the
/// truth about its own server (a name its copy entry says it holds but its
/// view lacks was released). A name the copies give to a server without a
/// view (down, or cut off) is kept for that server
/// ([`Registry::reserve`]), unless a reachable server holds it. Whatever
/// the registry then holds that the copies do not say is written back to
/// them.
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
    let term = role.membership.authority().ok().map(|t| t.0);
    let (copies, views) = tokio::join!(read_majority(&role.peers, &role.copies, term), async {
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
        (views, boots)
    });
    let (views, boots) = views;
    let (copies, term) = match copies {
        Ok(copies) => (copies, term),
        Err(shortfall) => {
            // Decide nothing until a rebuild reads a majority; the next
            // claim asks for one.
            tracing::info!(
                ?shortfall,
                "no majority's copies of the chat names; claims wait"
            );
            (role.copies.own_copy(), None)
        }
    };
    let servers = views.len();
    let (registry, conflicts) =
        registry_from(views, &copies, |server| cluster.node(server).is_ok());
    if let Some(term) = term {
        let writes = differences(&copies, &registry, |holder, kind, name| Write {
            stamp: role.copies.stamp(term),
            kind,
            name: name.to_string(),
            holder: holder.map(str::to_string),
        });
        if !writes.is_empty()
            && let Err(shortfall) = write_majority(&role.peers, &role.copies, term, writes).await
        {
            tracing::info!(
                ?shortfall,
                "rebuilt chat names not yet on a majority's copies"
            );
        }
    }
    tracing::info!(
        servers,
        conflicts = conflicts.len(),
        term = ?term,
        "chat registry rebuilt"
    );
    *role.lock() = Some(Ready {
        registry,
        boots,
        term,
    });
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

/// The registry that the reachable servers' `views` and a majority's
/// `copies` make, and the conflicts between views (see [`rebuild`]).
/// `in_cluster` says whether a server is still in the cluster file (one that
/// is not holds nothing).
///
/// A view counts the names its server is still claiming as held, so that a
/// claim approved just before a coordinator's loss (its answer lost) is not
/// granted to anyone else. But where the copies give that name to a server
/// without a view, the claim was not approved: approval is written to a
/// majority's copies first, and the copies read here include every such
/// write. The claim yields to the copies, and is refused when asked again;
/// otherwise a claim in flight on the majority's side would take a name a
/// client holds on a server cut off with it.
fn registry_from(
    mut views: Vec<(ServerId, ServerView)>,
    copies: &Replica,
    in_cluster: impl Fn(&str) -> bool,
) -> (Registry, Vec<crate::registry::Conflict>) {
    let viewed: BTreeSet<ServerId> = views.iter().map(|(s, _)| s.clone()).collect();
    let kept_for_unreachable = |kind: Kind, name: &str| {
        copies
            .holder(kind, name)
            .filter(|holder| !viewed.contains(*holder) && in_cluster(holder))
            .is_some()
    };
    for (server, view) in &mut views {
        let claims = view.pending_identities.len() + view.pending_rooms.len();
        view.pending_identities
            .retain(|name| !kept_for_unreachable(Kind::Identity, name));
        view.pending_rooms
            .retain(|name| !kept_for_unreachable(Kind::Room, name));
        let yielded = claims - view.pending_identities.len() - view.pending_rooms.len();
        if yielded > 0 {
            tracing::info!(%server, yielded, "claims in flight yield to names the copies keep for unreachable servers");
        }
    }
    let (mut registry, conflicts) = Registry::rebuild(&views);
    for (kind, name, holder) in copies.held() {
        if viewed.contains(holder) || !in_cluster(holder) {
            // A view is the truth about its server; a server no longer in
            // the cluster file holds nothing.
            continue;
        }
        if !registry.reserve(holder, kind, name) {
            tracing::warn!(%name, %holder, "a reachable server holds a name the copies give to an unreachable one; the reachable one keeps it");
        }
    }
    (registry, conflicts)
}

/// The writes that make `copies` say what `registry` holds: every name held
/// by another server than the copies say, and every name the copies hold
/// that the registry does not.
fn differences(
    copies: &Replica,
    registry: &Registry,
    stamp: impl Fn(Option<&str>, Kind, &str) -> Write,
) -> Vec<Write> {
    let mut writes: Vec<Write> = registry
        .held()
        .filter(|(kind, name, holder)| copies.holder(*kind, name) != Some(*holder))
        .map(|(kind, name, holder)| stamp(Some(holder), kind, name))
        .collect();
    writes.extend(
        copies
            .held()
            .filter(|(kind, name, _)| registry.holder(*kind, name).is_none())
            .map(|(kind, name, _)| stamp(None, kind, name)),
    );
    writes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Stamp;

    fn write(seq: u64, kind: Kind, name: &str, holder: Option<&str>) -> Write {
        Write {
            stamp: Stamp { term: 3, seq },
            kind,
            name: name.into(),
            holder: holder.map(str::to_string),
        }
    }

    fn view(identities: &[&str], pending: &[&str]) -> ServerView {
        ServerView {
            identities: identities.iter().map(|s| s.to_string()).collect(),
            pending_identities: pending.iter().map(|s| s.to_string()).collect(),
            ..ServerView::default()
        }
    }

    /// The double hold the chaos run found: "user2" approved for a client
    /// of C, C cut off, a client of A claiming "user2" while the majority's
    /// new coordinator rebuilds. A's claim in flight must not take it.
    #[test]
    fn a_claim_in_flight_yields_to_a_name_the_copies_keep_for_an_unreachable_server() {
        let mut copies = Replica::new();
        copies
            .apply(3, &[write(1, Kind::Identity, "user2", Some("C"))])
            .unwrap();
        let views = vec![
            ("A".to_string(), view(&[], &["user2", "user5"])),
            ("B".to_string(), view(&["user1"], &[])),
        ];
        let (mut registry, conflicts) = registry_from(views, &copies, |_| true);
        assert!(conflicts.is_empty());
        assert_eq!(registry.holder(Kind::Identity, "user2"), Some("C"));
        assert!(registry.is_away("C"));
        // A's claim, asked again, is refused; its other claim stands.
        assert!(!registry.claim("A", Kind::Identity, "user2"));
        assert_eq!(registry.holder(Kind::Identity, "user5"), Some("A"));
        assert_eq!(registry.holder(Kind::Identity, "user1"), Some("B"));
    }

    /// A claim approved just before the coordinator's loss, its answer
    /// lost: the copies give the name to the claimer, which keeps it; a
    /// server gone from the cluster file keeps nothing.
    #[test]
    fn a_claim_the_copies_approved_or_that_only_a_departed_server_held_stands() {
        let mut copies = Replica::new();
        copies
            .apply(
                3,
                &[
                    write(1, Kind::Identity, "ann", Some("A")),
                    write(2, Kind::Identity, "bob", Some("Gone")),
                ],
            )
            .unwrap();
        let views = vec![("A".to_string(), view(&[], &["ann", "bob"]))];
        let (registry, _) = registry_from(views, &copies, |server| server != "Gone");
        assert_eq!(registry.holder(Kind::Identity, "ann"), Some("A"));
        assert_eq!(registry.holder(Kind::Identity, "bob"), Some("A"));
    }

    /// A name held (not claimed) on a reachable server stays there even if
    /// the copies give it to an unreachable one: the view is the truth.
    #[test]
    fn a_name_a_reachable_server_holds_stays_with_it() {
        let mut copies = Replica::new();
        copies
            .apply(3, &[write(1, Kind::Identity, "cy", Some("C"))])
            .unwrap();
        let views = vec![("A".to_string(), view(&["cy"], &[]))];
        let (registry, _) = registry_from(views, &copies, |_| true);
        assert_eq!(registry.holder(Kind::Identity, "cy"), Some("A"));
    }

    #[test]
    fn the_copies_are_told_what_the_rebuilt_registry_holds_and_no_more() {
        let mut copies = Replica::new();
        copies
            .apply(
                3,
                &[
                    write(1, Kind::Identity, "ann", Some("s1")),
                    write(2, Kind::Identity, "gone", Some("s1")),
                    write(3, Kind::Identity, "dave", Some("s3")),
                ],
            )
            .unwrap();
        let mut registry = Registry::new();
        registry.add_server("s1");
        assert!(registry.claim("s1", Kind::Identity, "ann"));
        assert!(registry.claim("s1", Kind::Identity, "bob"));
        assert!(registry.reserve("s3", Kind::Identity, "dave"));
        let stamp = |holder: Option<&str>, kind, name: &str| write(9, kind, name, holder);
        let mut writes = differences(&copies, &registry, stamp);
        writes.sort_by(|a, b| (&a.name, &a.holder).cmp(&(&b.name, &b.holder)));
        assert_eq!(
            writes,
            [
                write(9, Kind::Room, "MainHall-s1", Some("s1")),
                write(9, Kind::Identity, "bob", Some("s1")),
                write(9, Kind::Identity, "gone", None),
            ]
        );
    }
}
