//! The chat service's handler for peer requests: coordinator questions go
//! to the [coordinator role](super::coordinator), view and evict requests to
//! this node's server, writes and reads of the approved names to this
//! node's [copy](super::copies).
//!
//! Requests are accepted only from nodes of the cluster file (the sender's
//! address must be a node's peer address); anything else, and anything that
//! does not decode, is dropped without a reply.

use std::net::SocketAddr;
use std::sync::Arc;

use convene_cluster::ServiceHandler;
use convene_cluster::peer::BoxFuture;
use convene_wire::{Decode, Encode};

use super::chat_node::ChatNode;
use crate::peer_msg::{PeerReply, PeerRequest, VIEW_PART, encode_view};
use convene_rpc::DatagramSocket;

pub(crate) struct ChatPeerHandler<S>(pub Arc<ChatNode<S>>);

impl<S: DatagramSocket> ServiceHandler for ChatPeerHandler<S> {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let reply = self.reply(from, &body);
        let node = self.0.clone();
        Box::pin(async move {
            let reply = match reply? {
                Handled::Now(reply) => reply,
                // A claim waits for the copies of the names it approves.
                Handled::Coordinator(sender, request) => {
                    node.coordinator.answer(&sender, request).await
                }
            };
            Some(reply.to_bytes())
        })
    }
}

/// A request answered on the spot, or one for the coordinator role.
enum Handled {
    Now(PeerReply),
    Coordinator(String, PeerRequest),
}

impl<S: DatagramSocket> ChatPeerHandler<S> {
    fn reply(&self, from: SocketAddr, body: &[u8]) -> Option<Handled> {
        let node = &self.0;
        let Some(sender) = node.peers.cluster().node_at(from) else {
            tracing::debug!(%from, "chat request from outside the cluster; dropped");
            return None;
        };
        let request = match PeerRequest::from_bytes(body) {
            Ok(request) => request,
            Err(e) => {
                tracing::debug!(%from, "malformed chat request dropped: {e}");
                return None;
            }
        };
        Some(Handled::Now(match request {
            PeerRequest::ViewPart { snapshot, offset } => self.view_part(snapshot, offset),
            PeerRequest::Evict { kind, name } => {
                let mut state = node.hub.lock();
                state.server.evict(kind, &name);
                node.hub.pump(&mut state);
                PeerReply::Ack
            }
            PeerRequest::Replicate { term, writes } => node.coordinator.copies.apply(term, &writes),
            PeerRequest::ReplicaPart {
                term,
                snapshot,
                offset,
            } => node.coordinator.copies.part(term, snapshot, offset),
            request => return Some(Handled::Coordinator(sender.id.clone(), request)),
        }))
    }

    /// Part of this server's view, from a frozen snapshot. See
    /// [`PeerRequest::ViewPart`].
    fn view_part(&self, snapshot: u64, offset: u32) -> PeerReply {
        let node = &self.0;
        let (id, bytes) = if snapshot == 0 {
            let view = node.hub.lock().server.view();
            node.views.freeze(encode_view(&view))
        } else {
            match node.views.get(snapshot) {
                Some(bytes) => (snapshot, bytes),
                None => return PeerReply::StaleSnapshot,
            }
        };
        let start = (offset as usize).min(bytes.len());
        let end = (start + VIEW_PART).min(bytes.len());
        PeerReply::ViewPart {
            boot: node.boot,
            snapshot: id,
            total: bytes.len() as u32,
            bytes: bytes[start..end].to_vec(),
        }
    }
}
