//! The composite listing (lab 1): every node answers
//! [`FilesRequest::ListAll`](crate::files_msg::FilesRequest::ListAll), whether
//! or not it shares a folder itself, by asking every files node for its
//! listing (reading its own folder directly) and merging them (each name
//! once, the newest copy's size and time). A node that does not answer is
//! named in the reply, so the client can say the listing is partial instead
//! of silently showing less.

use std::net::SocketAddr;
use std::sync::Arc;

use super::{FilesNode, Page};
use crate::files_msg::{FilesReply, FilesRequest};
use crate::listing::{Entry, merge};
use crate::path::SharedPath;

impl FilesNode {
    /// A page of this node's own folder listing.
    pub(super) async fn list_local(self: &Arc<Self>, snapshot: u64, offset: u32) -> FilesReply {
        if self.root.is_none() {
            return FilesReply::NoFolder;
        }
        let (id, listing) = if snapshot == 0 {
            match self.local_entries().await {
                Ok(entries) => self.listings.freeze((entries, Vec::new(), Vec::new())),
                Err(reason) => return FilesReply::Failed(reason),
            }
        } else {
            match self.listings.get(snapshot) {
                Some(listing) => (snapshot, listing),
                None => return FilesReply::StaleSnapshot,
            }
        };
        FilesReply::page(id, &listing.0, offset, listing.1.clone(), listing.2.clone())
    }

    /// A page of the composite listing of every files node.
    pub(super) async fn list_all(self: &Arc<Self>, snapshot: u64, offset: u32) -> FilesReply {
        let (id, listing) = if snapshot == 0 {
            let composite = self.composite().await;
            self.listings.freeze(composite)
        } else {
            match self.listings.get(snapshot) {
                Some(listing) => (snapshot, listing),
                None => return FilesReply::StaleSnapshot,
            }
        };
        FilesReply::page(id, &listing.0, offset, listing.1.clone(), listing.2.clone())
    }

    /// This node's folder, read off the async threads.
    async fn local_entries(&self) -> Result<Vec<Entry>, String> {
        let Some(root) = self.root.clone() else {
            return Ok(Vec::new());
        };
        let listed = tokio::task::spawn_blocking(move || crate::inventory::entries(&root)).await;
        match listed {
            Ok(Ok(entries)) => Ok(entries),
            Ok(Err(e)) => Err(format!("cannot read the shared folder: {e}")),
            Err(e) => Err(format!("listing the shared folder failed: {e}")),
        }
    }

    /// Every files node's listing, merged; the nodes that did not answer;
    /// and the files locked at the holder.
    pub(super) async fn composite(self: &Arc<Self>) -> (Vec<Entry>, Vec<String>, Vec<SharedPath>) {
        let cluster = self.peers.cluster();
        let me = self.peers.me().id.clone();
        let mut listings = Vec::new();
        let mut missing = Vec::new();
        let mut asks = tokio::task::JoinSet::new();
        for (_, node) in cluster.files_nodes() {
            let (id, addr) = (node.id.clone(), node.peer_addr());
            let this = self.clone();
            let mine = id == me;
            asks.spawn(async move {
                let listed = if mine {
                    this.local_entries().await.ok()
                } else {
                    this.remote_entries(addr).await
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
        let locked = match &self.sync {
            Some(sync) if sync.holder => sync.locked_paths(),
            _ => match self.ask_holder(&FilesRequest::Locks).await {
                FilesReply::Locked(paths) => paths,
                _ => Vec::new(),
            },
        };
        (merge(listings), missing, locked)
    }

    /// Another node's folder, page by page; `None` if it cannot be had.
    async fn remote_entries(&self, addr: SocketAddr) -> Option<Vec<Entry>> {
        let request = |snapshot, offset| FilesRequest::ListLocal { snapshot, offset };
        self.read_snapshot(addr, request, |reply| match reply {
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
}
