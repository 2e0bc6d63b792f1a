//! The chat service's handler for peer requests: coordinator questions go
//! to the [coordinator role](super::coordinator), view and evict requests to
//! this node's server.
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
        let reply = self.reply(from, &body).map(|r| r.to_bytes());
        Box::pin(async move { reply })
    }
}

impl<S: DatagramSocket> ChatPeerHandler<S> {
    fn reply(&self, from: SocketAddr, body: &[u8]) -> Option<PeerReply> {
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
        Some(match request {
            PeerRequest::ViewPart { snapshot, offset } => self.view_part(snapshot, offset),
            PeerRequest::Evict { kind, name } => {
                let mut state = node.hub.lock();
                state.server.evict(kind, &name);
                node.hub.pump(&mut state);
                PeerReply::Ack
            }
            request => node.coordinator.answer(&sender.id, request),
        })
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
