//! [`ChatNode`]: what one node's chat service shares between its tasks, and
//! how a client's message is handled once parsed.
//!
//! Most messages go straight into the [`ChatServer`](crate::server::ChatServer).
//! Two need the cluster first, and ask the coordinator before locking the
//! server (so no lock is held across a network round trip):
//!
//! - `list` names every room of the cluster, which only the coordinator's
//!   registry knows;
//! - `joinroom` for a room this server does not have: the coordinator says
//!   which server holds it, and the cluster file gives that server's client
//!   address for the `route`.
//!
//! If the coordinator cannot be reached (an election is under way), `list`
//! answers with this server's rooms and a join to another server's room is
//! "room unchanged": the client can try again in a moment, and nothing is
//! half done.
//!
//! Two outcomes are reported to the coordinator after the fact: a `movejoin`
//! this server accepted (the identity now lives here) and a client routed
//! away (if it never arrives anywhere, its identity is released after
//! [`ROUTE_GRACE`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use convene_cluster::Peers;
use convene_cluster::membership::Membership;
use convene_cluster::snapshot::Snapshots;
use convene_rpc::DatagramSocket;
use convene_wire::{Decode, Encode};
use tokio::net::UdpSocket;

use super::coordinator::Coordinator;
use super::hub::Hub;
use super::link_op::LinkOp;
use crate::ClientMessage;
use crate::peer_msg::{PeerReply, PeerRequest};
use crate::registry::Kind;
use crate::server::{ClientId, RemoteRoom};

/// How long an identity routed away stays held for its client to `movejoin`
/// at the other server. A client that never arrives (it crashed on the way,
/// or the other server did) has its identity released after this.
pub const ROUTE_GRACE: Duration = Duration::from_secs(30);

/// How many frozen views a server keeps for coordinators reading them part
/// by part, and for how long (see [`convene_cluster::snapshot`]). One: a
/// coordinator that asks for a new view is rebuilding, and the view an
/// earlier rebuild was reading is of no more use. The TTL only bounds how
/// long a view nobody finished reading is held; a read takes milliseconds.
pub(crate) const VIEWS_KEPT: usize = 1;
/// See [`VIEWS_KEPT`].
pub(crate) const VIEW_TTL: Duration = Duration::from_secs(30);

/// One node's chat service, shared by its tasks.
pub(crate) struct ChatNode<S = UdpSocket> {
    pub hub: Hub,
    /// Where connections, messages and claims are counted (see
    /// [`observe`](super::observe)).
    pub metrics: convene_metrics::Metrics,
    pub peers: Peers<S>,
    pub membership: Membership<S>,
    /// Drawn at start: tells the coordinator this incarnation from earlier ones.
    pub boot: u64,
    /// The coordinator role, active while membership makes this node it.
    pub coordinator: Arc<Coordinator<S>>,
    /// The view being read by a coordinator, frozen and encoded: one kept
    /// ([`VIEWS_KEPT`]), so the next rebuild's request replaces it.
    pub views: Snapshots<Vec<u8>>,
}

impl<S: DatagramSocket> ChatNode<S> {
    /// Handles one parsed line from connection `id`.
    pub async fn handle(self: &Arc<Self>, id: ClientId, message: ClientMessage) {
        match message {
            ClientMessage::List => {
                let rooms = match self.ask_coordinator(&PeerRequest::ListRooms).await {
                    Some(PeerReply::Rooms(rooms)) => Some(rooms),
                    _ => None,
                };
                let mut state = self.hub.lock();
                let rooms = rooms.unwrap_or_else(|| state.server.rooms());
                state.server.set_cluster_rooms(rooms);
                state.server.handle(id, ClientMessage::List, &|_| None);
                self.hub.pump(&mut state);
            }
            ClientMessage::JoinRoom { roomid } => {
                let local = self.hub.lock().server.has_room(&roomid);
                let there = if local {
                    None
                } else {
                    self.locate(&roomid).await
                };
                let mut state = self.hub.lock();
                let before = state.server.identity_of(id).map(str::to_string);
                let message = ClientMessage::JoinRoom {
                    roomid: roomid.clone(),
                };
                state.server.handle(id, message, &|room| {
                    there.clone().filter(|_| room == roomid)
                });
                let routed = before.filter(|_| state.server.identity_of(id).is_none());
                self.hub.pump(&mut state);
                drop(state);
                if let Some(identity) = routed {
                    self.release_if_never_back(identity);
                }
            }
            ClientMessage::MoveJoin {
                identity,
                former,
                roomid,
            } => {
                let mut state = self.hub.lock();
                let message = ClientMessage::MoveJoin {
                    identity: identity.clone(),
                    former: former.clone(),
                    roomid,
                };
                state.server.handle(id, message, &|_| None);
                if state.server.identity_of(id) == Some(identity.as_str()) {
                    self.hub.to_link(LinkOp::Moved { identity, former });
                }
                self.hub.pump(&mut state);
            }
            message => {
                let mut state = self.hub.lock();
                state.server.handle(id, message, &|_| None);
                self.hub.pump(&mut state);
            }
        }
    }

    /// Where room `room` lives, if on another chat server of the cluster.
    async fn locate(&self, room: &str) -> Option<RemoteRoom> {
        let request = PeerRequest::WhereIs {
            room: room.to_string(),
        };
        let Some(PeerReply::Location(Some(server))) = self.ask_coordinator(&request).await else {
            return None;
        };
        let node = self.peers.cluster().node(&server).ok()?;
        if node.id == self.peers.me().id {
            return None; // ours after all: deleted meanwhile
        }
        let addr = node.chat_addr()?;
        Some(RemoteRoom {
            server_id: node.id.clone(),
            host: addr.ip().to_canonical().to_string(),
            port: addr.port(),
        })
    }

    /// One request to the current coordinator; `None` if there is none, it
    /// does not answer, or it answers nonsense.
    pub async fn ask_coordinator(&self, request: &PeerRequest) -> Option<PeerReply> {
        let addr = self.coordinator_addr()?;
        let reply = self
            .peers
            .call(addr, crate::peer_msg::TAG, &request.to_bytes())
            .await
            .ok()?;
        PeerReply::from_bytes(&reply).ok()
    }

    /// The current coordinator's peer address, if there is one.
    pub fn coordinator_addr(&self) -> Option<SocketAddr> {
        let coordinator = (*self.membership.coordinator().borrow())?;
        self.peers
            .cluster()
            .nodes
            .get(coordinator)
            .map(|n| n.peer_addr())
    }

    /// After [`ROUTE_GRACE`], releases `identity` unless it is back on this
    /// server. The coordinator ignores the release if another server holds
    /// the identity by then (its client arrived there), so this only frees
    /// the names of clients lost on the way.
    fn release_if_never_back(self: &Arc<Self>, identity: String) {
        let node = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(ROUTE_GRACE).await;
            let Some(node) = node.upgrade() else { return };
            let back = node.hub.lock().server.identity_in_use(&identity);
            if !back {
                node.hub.to_link(LinkOp::Release(Kind::Identity, identity));
            }
        });
    }
}
