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
use std::time::Duration;

use convene_cluster::Peers;

use crate::config::{files_nodes, lock_holder};
use crate::peer_msg::TAG;
use convene_wire::{Decode, Encode};

use crate::listing::Entry;
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, FilesRequest};
use crate::plan::Record;

/// How many times an announcement is sent (each retried by the transport)
/// before the peer is left to catch up when it next reconciles.
const ANNOUNCE_ATTEMPTS: usize = 5;

/// How many times an announcement refused as `Busy` is sent again, waiting
/// longer each time (from [`BUSY_FIRST_WAIT`], doubling up to
/// [`BUSY_LONGEST_WAIT`]): about a minute in all, when the periodic
/// reconciliation takes over.
const BUSY_ATTEMPTS: usize = 20;
const BUSY_FIRST_WAIT: Duration = Duration::from_millis(100);
const BUSY_LONGEST_WAIT: Duration = Duration::from_secs(5);

/// `wait`, give or take half: announcements refused together (a burst of
/// changes) come back spread out, not all at once again.
fn jittered(wait: Duration) -> Duration {
    let half = wait / 2;
    let spread = half.as_millis().max(1) as u64 * 2;
    half + Duration::from_millis(convene_rpc::os_random_u64() % spread)
}

/// Tells every other files node that `path` now has `record` here, each
/// on a task of its own.
pub(crate) fn announce(peers: &Peers, path: &SharedPath, record: &Record) {
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
        tokio::spawn(async move {
            // The transport retries for about two seconds; a briefly
            // unreachable peer gets a few more chances. One that stays
            // down reads our records when it starts. A peer whose queue
            // is full says `Busy`: it is sent again, waiting longer each
            // time. Once this node has stopped there is no one left to
            // try for.
            let (mut silent, mut busy) = (0, 0);
            let mut wait = BUSY_FIRST_WAIT;
            while silent < ANNOUNCE_ATTEMPTS && busy < BUSY_ATTEMPTS {
                match peers.call(addr, TAG, &body).await {
                    Ok(reply) if FilesReply::from_bytes(&reply) == Ok(FilesReply::Busy) => {
                        busy += 1;
                        tokio::time::sleep(jittered(wait)).await;
                        wait = (wait * 2).min(BUSY_LONGEST_WAIT);
                    }
                    Ok(_) | Err(convene_rpc::RpcError::Closed) => return,
                    Err(_) => {
                        silent += 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
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

/// Forwards `request` to the lock holder and returns its answer.
pub(crate) async fn ask_holder(peers: &Peers, request: &FilesRequest) -> FilesReply {
    let cluster = peers.cluster();
    let Some(holder) = lock_holder(cluster) else {
        return FilesReply::Failed("no node shares a folder, so none holds locks".into());
    };
    if holder.id == peers.me().id {
        return FilesReply::Failed("the lock holder has no folder".into());
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
            let reply = peers.call(addr, TAG, &body).await.ok()?;
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
