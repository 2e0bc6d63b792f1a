//! [`Listings`]: the composite listing (lab 1). Every node answers
//! [`FilesRequest::ListAll`], whether or not it shares a folder itself, by
//! asking every files node for its listing (reading its own folder
//! directly) and merging them (each name once, the newest copy's size and
//! time). A node that does not answer is named in the reply, so the client
//! can say the listing is partial instead of silently showing less.
//!
//! Listings travel in pages of a frozen snapshot (see
//! [`convene_cluster::snapshot`]), so a listing that changes between two
//! pages is never read half old, half new.

use std::path::PathBuf;
use std::sync::Arc;

use convene_cluster::Peers;
use convene_cluster::snapshot::Snapshots;

use super::calls::{ask_holder, listing_of};
use super::role::LockRole;
use super::{SNAPSHOT_TTL, SNAPSHOTS_KEPT};
use crate::listing::{Entry, merge};
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, FilesRequest};

/// A composite listing: every name, the nodes that did not answer, and the
/// files locked at the holder.
pub(crate) type Composite = (Vec<Entry>, Vec<String>, Vec<SharedPath>);

/// This node's listings: its own folder's, and the composite of every
/// files node's, each frozen for paging.
pub(crate) struct Listings {
    peers: Peers,
    /// This node's shared folder, if it has one.
    root: Option<PathBuf>,
    /// Who holds the locks: this node's desk, or the holder to ask.
    role: Arc<LockRole>,
    frozen: Snapshots<Composite>,
}

impl Listings {
    /// Listings of the cluster as `peers` sees it, with this node's folder
    /// at `root`; `role` says who holds the locks.
    pub fn new(peers: Peers, root: Option<PathBuf>, role: Arc<LockRole>) -> Listings {
        Listings {
            peers,
            root,
            role,
            frozen: Snapshots::new(SNAPSHOTS_KEPT, SNAPSHOT_TTL),
        }
    }

    /// A page of this node's own folder listing.
    pub async fn local_page(&self, snapshot: u64, offset: u32) -> FilesReply {
        let Some(root) = &self.root else {
            return FilesReply::NoFolder;
        };
        let (id, listing) = if snapshot == 0 {
            match local_entries(root.clone()).await {
                Ok(entries) => self.frozen.freeze((entries, Vec::new(), Vec::new())),
                Err(reason) => return FilesReply::Failed(reason),
            }
        } else {
            match self.frozen.get(snapshot) {
                Some(listing) => (snapshot, listing),
                None => return FilesReply::StaleSnapshot,
            }
        };
        FilesReply::page(id, &listing.0, offset, listing.1.clone(), listing.2.clone())
    }

    /// A page of the composite listing of every files node.
    pub async fn composite_page(&self, snapshot: u64, offset: u32) -> FilesReply {
        let (id, listing) = if snapshot == 0 {
            let composite = self.composite().await;
            self.frozen.freeze(composite)
        } else {
            match self.frozen.get(snapshot) {
                Some(listing) => (snapshot, listing),
                None => return FilesReply::StaleSnapshot,
            }
        };
        FilesReply::page(id, &listing.0, offset, listing.1.clone(), listing.2.clone())
    }

    /// Every files node's listing, merged; the nodes that did not answer;
    /// and the files locked at the holder.
    pub async fn composite(&self) -> Composite {
        let cluster = self.peers.cluster();
        let me = self.peers.me().id.clone();
        let mut listings = Vec::new();
        let mut missing = Vec::new();
        let mut asks = tokio::task::JoinSet::new();
        for (_, node) in crate::config::files_nodes(cluster) {
            let (id, addr) = (node.id.clone(), node.peer_addr());
            let (peers, root) = (self.peers.clone(), self.root.clone());
            let mine = id == me;
            asks.spawn(async move {
                let listed = match root {
                    Some(root) if mine => local_entries(root).await.ok(),
                    None if mine => Some(Vec::new()),
                    _ => listing_of(&peers, addr).await,
                };
                (id, listed)
            });
        }
        while let Some(done) = asks.join_next().await {
            match done {
                Ok((_, Some(entries))) => listings.push(entries),
                Ok((id, None)) => missing.push(id),
                Err(_) => {}
            }
        }
        missing.sort();
        let locked = match self.role.desk() {
            Some(desk) => desk.locked_paths(),
            None => match ask_holder(&self.peers, &self.role, &FilesRequest::Locks).await {
                FilesReply::Locked(paths) => paths,
                _ => Vec::new(),
            },
        };
        (merge(listings), missing, locked)
    }
}

/// The folder at `root`, read off the async threads.
async fn local_entries(root: PathBuf) -> Result<Vec<Entry>, String> {
    let listed = tokio::task::spawn_blocking(move || crate::inventory::entries(&root)).await;
    match listed {
        Ok(Ok(entries)) => Ok(entries),
        Ok(Err(e)) => Err(format!("cannot read the shared folder: {e}")),
        Err(e) => Err(format!("listing the shared folder failed: {e}")),
    }
}
