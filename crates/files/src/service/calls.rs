//! What this node asks of the other files nodes over the peer transport,
//! apart from a file's bytes (those are [`content`](super::content)'s):
//! functions over [`Peers`], with no state of their own.
//!
//! - [`announce`]: tell every other files node a file's new record, sent
//!   again while they are away or busy;
//! - [`hello_all`]: ask every other files node to read our records;
//! - [`records_of`], [`listing_of`]: read a node's records or folder
//!   listing, page by page ([`read_snapshot`], with no cap on their
//!   length: a peer's own folder bounds it);
//! - [`ask_holder`]: pass a lock request (or the question of what is
//!   locked) to the lock holder.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use convene_cluster::retry::{Attempt, Backoff, retry_until};
use convene_cluster::snapshot::{Page, read_snapshot};
use convene_cluster::{Peers, Shutdown};
use convene_rpc::RpcError;

use super::role::LockRole;
use crate::config::files_nodes;
use crate::peer_msg::TAG;
use convene_wire::{Decode, Encode};

use crate::listing::Entry;
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, FilesRequest};
use crate::plan::Record;

/// How many times an announcement is sent (each retried by the transport)
/// before the peer is left to catch up when it next reconciles, a second
/// apart.
const ANNOUNCE_ATTEMPTS: usize = 5;
const ANNOUNCE_WAIT: Duration = Duration::from_secs(1);

/// How many times an announcement refused as `Busy` is sent again, waiting
/// longer each time (from [`BUSY_FIRST_WAIT`], doubling up to
/// [`BUSY_LONGEST_WAIT`], jittered so that announcements refused together
/// come back spread out): about a minute in all, when the periodic
/// reconciliation takes over.
const BUSY_ATTEMPTS: usize = 20;
const BUSY_FIRST_WAIT: Duration = Duration::from_millis(100);
const BUSY_LONGEST_WAIT: Duration = Duration::from_secs(5);

/// Tells every other files node that `path` now has `record` here, each
/// on a task of its own, which ends at `shutdown`.
pub(crate) fn announce(peers: &Peers, shutdown: &Shutdown, path: &SharedPath, record: &Record) {
    let me = peers.me().id.clone();
    let body = FilesRequest::Announce {
        path: path.clone(),
        record: record.clone(),
    }
    .to_bytes();
    for (_, peer) in files_nodes(peers.cluster()) {
        if peer.id == me {
            continue;
        }
        let (peers, addr, body) = (peers.clone(), peer.peer_addr(), body.clone());
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            // The transport retries for about two seconds; a briefly
            // unreachable peer gets a few more chances. One that stays
            // down reads our records when it starts. A peer whose queue
            // is full says `Busy`: it is sent again, waiting longer each
            // time. Once this node has stopped there is no one left to
            // try for. Two budgets, counted here: the backoff is the
            // `Busy` one's, a silent peer waits its own fixed second.
            // (Atomic counters, because an attempt only borrows them and
            // the task must be `Send`.)
            let (silent, busy) = (AtomicUsize::new(0), AtomicUsize::new(0));
            let backoff = Backoff::doubling(BUSY_FIRST_WAIT, BUSY_LONGEST_WAIT).jittered();
            retry_until(&shutdown, backoff, || async {
                match peers.call(addr, TAG, &body).await {
                    Ok(reply) if FilesReply::from_bytes(&reply) == Ok(FilesReply::Busy) => {
                        if busy.fetch_add(1, Ordering::Relaxed) + 1 < BUSY_ATTEMPTS {
                            Attempt::Retry
                        } else {
                            Attempt::GiveUp
                        }
                    }
                    Ok(_) | Err(RpcError::Closed) => Attempt::<()>::GiveUp,
                    Err(_) => {
                        if silent.fetch_add(1, Ordering::Relaxed) + 1 < ANNOUNCE_ATTEMPTS {
                            Attempt::RetryAfter(ANNOUNCE_WAIT)
                        } else {
                            Attempt::GiveUp
                        }
                    }
                }
            })
            .await;
        });
    }
}

/// Says `Hello` to every other files node, so each reads our records.
pub(crate) fn hello_all(peers: &Peers) {
    let me = peers.me().id.clone();
    for (_, peer) in files_nodes(peers.cluster()) {
        if peer.id == me {
            continue;
        }
        let (peers, addr) = (peers.clone(), peer.peer_addr());
        tokio::spawn(async move {
            let body = FilesRequest::Hello.to_bytes();
            let _ = peers.call(addr, TAG, &body).await;
        });
    }
}

/// Forwards `request` to the lock holder (as `role` last read it) and
/// returns its answer.
pub(crate) async fn ask_holder(
    peers: &Peers,
    role: &LockRole,
    request: &FilesRequest,
) -> FilesReply {
    let cluster = peers.cluster();
    if files_nodes(cluster).next().is_none() {
        return FilesReply::Failed("no node shares a folder, so none holds locks".into());
    }
    let Some(holder) = role.holder(cluster) else {
        return FilesReply::Failed("no node holds the locks yet; try again in a moment".into());
    };
    if holder.id == peers.me().id {
        return FilesReply::Failed(format!(
            "node {} is taking the locks over; try again in a moment",
            holder.id
        ));
    }
    match peers
        .call(holder.peer_addr(), TAG, &request.to_bytes())
        .await
    {
        Ok(bytes) => FilesReply::from_bytes(&bytes).unwrap_or_else(|_| {
            FilesReply::Failed("unreadable answer from the lock holder".into())
        }),
        Err(_) => FilesReply::Failed(format!(
            "the lock holder, node {}, did not answer",
            holder.id
        )),
    }
}

/// The records of the node at `addr`, page by page; `None` if they cannot
/// be had.
pub(crate) async fn records_of(
    peers: &Peers,
    addr: SocketAddr,
) -> Option<Vec<(SharedPath, Record)>> {
    let fetch = |snapshot, offset| async move {
        let request = FilesRequest::Records { snapshot, offset };
        match ask(peers, addr, &request).await? {
            FilesReply::Records {
                snapshot,
                total,
                records,
            } => Some(Page::Items {
                snapshot,
                total,
                items: records,
            }),
            FilesReply::StaleSnapshot => Some(Page::Stale),
            _ => None,
        }
    };
    read_snapshot(fetch, usize::MAX).await
}

/// The folder listing of the node at `addr`, page by page; `None` if it
/// cannot be had.
pub(crate) async fn listing_of(peers: &Peers, addr: SocketAddr) -> Option<Vec<Entry>> {
    let fetch = |snapshot, offset| async move {
        let request = FilesRequest::ListLocal { snapshot, offset };
        match ask(peers, addr, &request).await? {
            FilesReply::Listing {
                snapshot,
                total,
                entries,
                ..
            } => Some(Page::Items {
                snapshot,
                total,
                items: entries,
            }),
            FilesReply::StaleSnapshot => Some(Page::Stale),
            _ => None,
        }
    };
    read_snapshot(fetch, usize::MAX).await
}

/// Asks the node at `addr`; `None` if it does not answer, or not in a
/// way that decodes.
async fn ask(peers: &Peers, addr: SocketAddr, request: &FilesRequest) -> Option<FilesReply> {
    let reply = peers.call(addr, TAG, &request.to_bytes()).await.ok()?;
    FilesReply::from_bytes(&reply).ok()
}
