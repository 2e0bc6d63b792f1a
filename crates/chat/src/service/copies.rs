//! The copies of the approved names, running: this node's
//! [`Replica`], served to coordinators that write or read it, and the
//! coordinator's side that writes to and reads from a majority of the
//! cluster's nodes.
//!
//! - **Write** ([`write_majority`]): the coordinator applies a batch to its
//!   own copy, sends it to every other node, and succeeds once a majority
//!   of the cluster's nodes (itself included) have acknowledged it, within
//!   [`WRITE_PATIENCE`]. A claim is answered "approved" only after that.
//! - **Read** ([`read_majority`]): a coordinator starting a term reads the
//!   copies of a majority (its own included), each node promising to refuse
//!   lower terms from then on, and merges them ([`Replica::merge`]).
//!
//! Every node keeps a copy, whether it runs a chat server or not: the
//! majority is of the cluster's nodes, as for the quorum's leases. Copies
//! live in memory: a node that restarts starts with an empty one (see
//! docs/architecture.md, "Chat under partitions", for what that costs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use convene_cluster::Peers;
use convene_cluster::snapshot::{Page, Snapshots, read_snapshot};
use convene_rpc::DatagramSocket;
use convene_wire::{Decode, Encode};
use tokio::sync::mpsc;

use crate::peer_msg::{MAX_WRITES, PeerReply, PeerRequest, VIEW_PART};
use crate::replica::{Replica, Stale, Stamp, Write};

/// How long a write waits for a majority's acknowledgements before the
/// claim is answered "not coordinator" (the server asks again).
pub(crate) const WRITE_PATIENCE: Duration = Duration::from_secs(1);

/// How long a read waits for a majority's copies.
pub(crate) const READ_PATIENCE: Duration = Duration::from_secs(2);

/// The largest copy a coordinator will read from one node (bytes).
const MAX_COPY: usize = 64 * 1024 * 1024;

/// This node's copy, and the frozen encodings coordinators are reading.
pub(crate) struct Copies {
    own: Mutex<Replica>,
    frozen: Snapshots<Vec<u8>>,
    /// The next sequence number of this node's writes as coordinator:
    /// never reused, so two writes of one term never share a stamp.
    seq: AtomicU64,
}

/// Why a write or read did not reach a majority.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shortfall {
    /// Some node has seen a higher term: this coordinator's term is over.
    Stale(u64),
    /// Too few nodes answered in time.
    TooFew,
}

impl Default for Copies {
    fn default() -> Self {
        Copies {
            own: Mutex::new(Replica::new()),
            frozen: Snapshots::new(4, Duration::from_secs(30)),
            seq: AtomicU64::new(1),
        }
    }
}

impl Copies {
    fn own(&self) -> MutexGuard<'_, Replica> {
        self.own.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// This node's copy as it is now.
    pub fn own_copy(&self) -> Replica {
        self.own().clone()
    }

    /// A fresh stamp in `term` for a write this node makes as coordinator.
    pub fn stamp(&self, term: u64) -> Stamp {
        Stamp {
            term,
            seq: self.seq.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Serves [`PeerRequest::Replicate`].
    pub fn apply(&self, term: u64, writes: &[Write]) -> PeerReply {
        if writes.iter().any(|w| w.stamp.term != term) {
            // Only a confused or hostile peer stamps with another term.
            return PeerReply::StaleTerm {
                seen: self.own().seen(),
            };
        }
        match self.own().apply(term, writes) {
            Ok(()) => PeerReply::Ack,
            Err(Stale { seen }) => PeerReply::StaleTerm { seen },
        }
    }

    /// Serves [`PeerRequest::ReplicaPart`]. Term 0 reads without a promise
    /// (a coordinator without authority, which will decide nothing).
    pub fn part(&self, term: u64, snapshot: u64, offset: u32) -> PeerReply {
        let bytes = if snapshot == 0 {
            let mut own = self.own();
            if term != 0
                && let Err(Stale { seen }) = own.promise(term)
            {
                return PeerReply::StaleTerm { seen };
            }
            let encoded = own.encode();
            drop(own);
            self.frozen.freeze(encoded)
        } else {
            match self.frozen.get(snapshot) {
                Some(bytes) => (snapshot, bytes),
                None => return PeerReply::StaleSnapshot,
            }
        };
        let (id, bytes) = bytes;
        let start = (offset as usize).min(bytes.len());
        let end = (start + VIEW_PART).min(bytes.len());
        PeerReply::ReplicaPart {
            snapshot: id,
            total: bytes.len() as u32,
            bytes: bytes[start..end].to_vec(),
        }
    }
}

/// The smallest majority of `n` nodes.
fn majority(n: usize) -> usize {
    n / 2 + 1
}

/// Writes `writes` (stamped with `term`) to this node's copy and to a
/// majority of the cluster's; `Ok` once a majority, this node included, has
/// them. The nodes not needed for the majority still get them, in the
/// background.
pub(crate) async fn write_majority<S: DatagramSocket>(
    peers: &Peers<S>,
    copies: &Copies,
    term: u64,
    writes: Vec<Write>,
) -> Result<(), Shortfall> {
    if let Err(Stale { seen }) = copies.own().apply(term, &writes) {
        return Err(Shortfall::Stale(seen));
    }
    let cluster = peers.cluster();
    let needed = majority(cluster.nodes.len());
    let mut acks = 1;
    if acks >= needed {
        return Ok(());
    }
    let writes: Arc<[Write]> = writes.into();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let me = peers.me().id.clone();
    for node in cluster.nodes.iter().filter(|n| n.id != me) {
        let (peers, writes, tx, addr) =
            (peers.clone(), writes.clone(), tx.clone(), node.peer_addr());
        tokio::spawn(async move {
            for batch in writes.chunks(MAX_WRITES) {
                let request = PeerRequest::Replicate {
                    term,
                    writes: batch.to_vec(),
                };
                let reply = peers
                    .call(addr, crate::peer_msg::TAG, &request.to_bytes())
                    .await
                    .ok()
                    .and_then(|bytes| PeerReply::from_bytes(&bytes).ok());
                match reply {
                    Some(PeerReply::Ack) => {}
                    Some(PeerReply::StaleTerm { seen }) => {
                        let _ = tx.send(Err(Shortfall::Stale(seen)));
                        return;
                    }
                    _ => {
                        let _ = tx.send(Err(Shortfall::TooFew));
                        return;
                    }
                }
            }
            let _ = tx.send(Ok(()));
        });
    }
    drop(tx);
    let mut stale = None;
    let counting = async {
        while acks < needed {
            match rx.recv().await {
                Some(Ok(())) => acks += 1,
                Some(Err(Shortfall::Stale(seen))) => stale = Some(seen),
                Some(Err(Shortfall::TooFew)) => {}
                None => break,
            }
        }
    };
    let _ = tokio::time::timeout(WRITE_PATIENCE, counting).await;
    if acks >= needed {
        Ok(())
    } else {
        Err(stale.map_or(Shortfall::TooFew, Shortfall::Stale))
    }
}

/// Reads and merges the copies of a majority of the cluster's nodes, this
/// node's included, each node promising to refuse writes below `term`.
///
/// With `term` `None` (no authority: nothing will be decided on it) it
/// promises nothing and returns whatever copies came within
/// [`READ_PATIENCE`], majority or not.
pub(crate) async fn read_majority<S: DatagramSocket>(
    peers: &Peers<S>,
    copies: &Copies,
    term: Option<u64>,
) -> Result<Replica, Shortfall> {
    let mine = {
        let mut own = copies.own();
        if let Some(term) = term
            && let Err(Stale { seen }) = own.promise(term)
        {
            return Err(Shortfall::Stale(seen));
        }
        own.clone()
    };
    let cluster = peers.cluster();
    let needed = majority(cluster.nodes.len());
    let mut read = vec![mine];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let me = peers.me().id.clone();
    let wire_term = term.unwrap_or(0);
    for node in cluster.nodes.iter().filter(|n| n.id != me) {
        let (peers, tx, addr) = (peers.clone(), tx.clone(), node.peer_addr());
        tokio::spawn(async move {
            let fetch = |snapshot, offset| {
                let peers = &peers;
                async move {
                    let request = PeerRequest::ReplicaPart {
                        term: wire_term,
                        snapshot,
                        offset,
                    };
                    let reply = peers
                        .call(addr, crate::peer_msg::TAG, &request.to_bytes())
                        .await
                        .ok()?;
                    match PeerReply::from_bytes(&reply).ok()? {
                        PeerReply::ReplicaPart {
                            snapshot,
                            total,
                            bytes,
                        } => Some(Page::Items {
                            snapshot,
                            total,
                            items: bytes,
                        }),
                        PeerReply::StaleSnapshot => Some(Page::Stale),
                        _ => None,
                    }
                }
            };
            let copy = read_snapshot(fetch, MAX_COPY)
                .await
                .and_then(|bytes| Replica::decode(&bytes).ok());
            let _ = tx.send(copy);
        });
    }
    drop(tx);
    let reading = async {
        while read.len() < needed {
            match rx.recv().await {
                Some(Some(copy)) => read.push(copy),
                Some(None) => {}
                None => break,
            }
        }
    };
    let _ = tokio::time::timeout(READ_PATIENCE, reading).await;
    let merged = Replica::merge(&read);
    match term {
        Some(term) if merged.seen() > term => Err(Shortfall::Stale(merged.seen())),
        Some(_) if read.len() < needed => Err(Shortfall::TooFew),
        _ => Ok(merged),
    }
}
