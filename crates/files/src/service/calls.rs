//! What this node asks of the other files nodes over the peer transport,
//! apart from a file's bytes (those are [`content`](super::content)'s):
//! functions over [`Peers`], with no state of their own.
//!
//! - [`announce`]: tell every other files node a file's new record, sent
//!   again while they are away or busy;
//! - [`hello_all`]: ask every other files node to read our records;
//! - [`records_of`], [`listing_of`]: read a node's records or folder
//!   listing, page by page ([`read_snapshot`]);
//! - [`ask_holder`]: pass a lock request (or the question of what is
//!   locked) to the lock holder.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use convene_cluster::retry::{Attempt, Backoff, retry_until};
use convene_cluster::{Peers, ServiceTag, Shutdown};
use convene_rpc::RpcError;
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
    for (_, peer) in peers.cluster().files_nodes() {
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
                match peers.call(addr, ServiceTag::Files, &body).await {
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
    for (_, peer) in peers.cluster().files_nodes() {
        if peer.id == me {
            continue;
        }
        let (peers, addr) = (peers.clone(), peer.peer_addr());
        tokio::spawn(async move {
            let body = FilesRequest::Hello.to_bytes();
            let _ = peers.call(addr, ServiceTag::Files, &body).await;
        });
    }
}

/// Forwards `request` to the lock holder and returns its answer.
pub(crate) async fn ask_holder(peers: &Peers, request: &FilesRequest) -> FilesReply {
    let cluster = peers.cluster();
    let Some(holder) = cluster.lock_holder() else {
        return FilesReply::Failed("no node shares a folder, so none holds locks".into());
    };
    if holder.id == peers.me().id {
        return FilesReply::Failed("the lock holder has no folder".into());
    }
    match peers
        .call(holder.peer_addr(), ServiceTag::Files, &request.to_bytes())
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
    let request = |snapshot, offset| FilesRequest::Records { snapshot, offset };
    read_snapshot(peers, addr, request, |reply| match reply {
        FilesReply::Records {
            snapshot,
            total,
            records,
        } => Page::Items {
            snapshot,
            total,
            items: records,
        },
        FilesReply::StaleSnapshot => Page::Stale,
        _ => Page::Refused,
    })
    .await
}

/// The folder listing of the node at `addr`, page by page; `None` if it
/// cannot be had.
pub(crate) async fn listing_of(peers: &Peers, addr: SocketAddr) -> Option<Vec<Entry>> {
    let request = |snapshot, offset| FilesRequest::ListLocal { snapshot, offset };
    read_snapshot(peers, addr, request, |reply| match reply {
        FilesReply::Listing {
            snapshot,
            total,
            entries,
            ..
        } => Page::Items {
            snapshot,
            total,
            items: entries,
        },
        FilesReply::StaleSnapshot => Page::Stale,
        _ => Page::Refused,
    })
    .await
}

/// One page of a snapshot, as a reply gives it.
pub(crate) enum Page<T> {
    /// Items from the offset asked for.
    Items {
        /// The snapshot they belong to.
        snapshot: u64,
        /// Items in the whole snapshot.
        total: u32,
        /// This page's items.
        items: Vec<T>,
    },
    /// The snapshot expired: start again.
    Stale,
    /// Anything else: give up.
    Refused,
}

/// Reads a whole snapshot from the node at `addr`, page by page: `request`
/// makes the request for a snapshot and an offset, `page` reads a reply.
/// `None` if it cannot be had (no answer, a refusal, a snapshot that keeps
/// expiring).
pub(crate) async fn read_snapshot<T>(
    peers: &Peers,
    addr: SocketAddr,
    request: impl Fn(u64, u32) -> FilesRequest,
    page: impl Fn(FilesReply) -> Page<T>,
) -> Option<Vec<T>> {
    for _ in 0..3 {
        let mut all = Vec::new();
        let mut snapshot = 0;
        loop {
            let body = request(snapshot, all.len() as u32).to_bytes();
            let reply = peers.call(addr, ServiceTag::Files, &body).await.ok()?;
            match page(FilesReply::from_bytes(&reply).ok()?) {
                Page::Items {
                    snapshot: s,
                    total,
                    items,
                } => {
                    snapshot = s;
                    if items.is_empty() && all.len() < total as usize {
                        return None;
                    }
                    all.extend(items);
                    if all.len() >= total as usize {
                        return Some(all);
                    }
                }
                Page::Stale => break,
                Page::Refused => return None,
            }
        }
    }
    None
}
