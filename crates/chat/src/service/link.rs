//! The link: this server's questions and reports to the coordinator, sent
//! one at a time, in the order the server made them.
//!
//! Order matters (see the [registry](crate::registry)): a claim retried after
//! this server's release of the same name would take the name back for a
//! client that is gone. So one task sends everything, waiting for each
//! answer before the next message. Each message is retried until a
//! coordinator answers it, whoever that is by then: an election in between
//! only delays it. The new coordinator has rebuilt its registry from this
//! server's view, in which an undecided claim counts as held, so the retry
//! gets the answer the first attempt would have.
//!
//! Only claims have a deadline, because a client is waiting on each:
//! after [`CLAIM_PATIENCE`] the claim is refused to the client and the name
//! released, in case the unreachable coordinator had granted it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use convene_cluster::Shutdown;
use convene_cluster::retry::{Attempt, Backoff, retry_until};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::chat_node::ChatNode;
use super::link_op::LinkOp;
use super::observe;
use crate::peer_msg::{PeerReply, PeerRequest};
use crate::registry::Kind;
use crate::server::Claim;
use convene_rpc::DatagramSocket;

/// How long a client waits for the cluster to decide its identity or room
/// before it is refused. Longer than a failover with the default timings
/// (detection plus election, about 2 s), so a claim made as the coordinator
/// dies is still decided by the next one.
pub const CLAIM_PATIENCE: Duration = Duration::from_secs(10);

/// How soon to ask again when there is no coordinator, or it is not ready.
const RETRY: Duration = Duration::from_millis(50);

/// Sends `ops` to the coordinator until `shutdown`.
pub(crate) async fn run<S: DatagramSocket>(
    node: Arc<ChatNode<S>>,
    mut ops: mpsc::UnboundedReceiver<LinkOp>,
    shutdown: Shutdown,
) {
    let mut queue: VecDeque<LinkOp> = VecDeque::new();
    loop {
        let op = match queue.pop_front() {
            Some(op) => op,
            None => tokio::select! {
                op = ops.recv() => match op {
                    Some(op) => op,
                    None => return,
                },
                _ = shutdown.wait() => return,
            },
        };
        let boot = node.boot;
        match op {
            LinkOp::Hello => {
                if send(&node, &PeerRequest::Hello { boot }, None, &shutdown)
                    .await
                    .is_none()
                {
                    return;
                }
            }
            LinkOp::Claim(claim) => {
                let (kind, name) = match &claim {
                    Claim::Identity { identity, .. } => (Kind::Identity, identity.clone()),
                    Claim::Room { roomid, .. } => (Kind::Room, roomid.clone()),
                };
                let request = PeerRequest::Claim {
                    boot,
                    kind,
                    name: name.clone(),
                };
                let deadline = Instant::now() + CLAIM_PATIENCE;
                let observed = node.metrics.begin(
                    observe::SERVICE,
                    observe::CLUSTER,
                    match kind {
                        Kind::Identity => "identity_claim",
                        Kind::Room => "room_claim",
                    },
                    None,
                );
                let approved = match send(&node, &request, Some(deadline), &shutdown).await {
                    Some(PeerReply::Decision(approved)) => {
                        observed.finish(if approved {
                            observe::outcomes::APPROVED
                        } else {
                            observe::outcomes::REFUSED
                        });
                        approved
                    }
                    _ => {
                        if shutdown.is_triggered() {
                            return;
                        }
                        observed.finish(observe::outcomes::NO_COORDINATOR);
                        tracing::warn!(%name, "no coordinator answered a chat claim; refused");
                        // It may have been granted and only the answer lost.
                        queue.push_front(LinkOp::Release(kind, name));
                        false
                    }
                };
                let mut state = node.hub.lock();
                state.server.decide(claim, approved);
                node.hub.pump(&mut state);
            }
            LinkOp::Release(kind, name) => {
                let request = PeerRequest::Release { boot, kind, name };
                if send(&node, &request, None, &shutdown).await.is_none() {
                    return;
                }
            }
            LinkOp::Moved { identity, former } => {
                let request = PeerRequest::Moved {
                    boot,
                    identity: identity.clone(),
                    former,
                };
                match send(&node, &request, None, &shutdown).await {
                    None => return,
                    Some(PeerReply::Decision(false)) => {
                        // Someone else took the identity while its client was
                        // on the way (its old server died and released it).
                        let mut state = node.hub.lock();
                        state.server.evict(Kind::Identity, &identity);
                        node.hub.pump(&mut state);
                    }
                    Some(_) => {}
                }
            }
        }
    }
}

/// Sends `request` to whoever coordinates until one answers it (anything but
/// "not coordinator"). `None` at the deadline or on shutdown.
async fn send<S: DatagramSocket>(
    node: &ChatNode<S>,
    request: &PeerRequest,
    deadline: Option<Instant>,
    shutdown: &Shutdown,
) -> Option<PeerReply> {
    let asking = retry_until(shutdown, Backoff::fixed(RETRY), || async {
        match node.ask_coordinator(request).await {
            Some(PeerReply::NotCoordinator) | None => Attempt::Retry,
            Some(reply) => Attempt::Done(reply),
        }
    });
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, asking)
            .await
            .ok()
            .flatten(),
        None => asking.await,
    }
}
