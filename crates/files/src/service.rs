//! The files service, running: so far the composite listing (lab 1).
//!
//! Every node answers [`FilesRequest::ListAll`], whether or not it shares a
//! folder itself: it asks every node with a `[node.files]` table for its
//! listing ([`FilesRequest::ListLocal`], reading its own folder directly),
//! merges them (each name once, the newest copy's size and time), and serves
//! the result in pages of a frozen snapshot. A node that does not answer is
//! named in the reply, so the client can say the listing is partial instead
//! of silently showing less.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_cluster::peer::BoxFuture;
use convene_cluster::{Peers, Router, ServiceHandler, ServiceTag};
use convene_wire::{Decode, Encode};

use crate::files_msg::{FilesReply, FilesRequest};
use crate::listing::{Entry, merge};

/// How long a listing snapshot stays readable by page.
const SNAPSHOT_TTL: Duration = Duration::from_secs(30);

/// Snapshots kept at once (the oldest go first).
const SNAPSHOTS: usize = 16;

/// What the files service needs from its node.
pub struct FilesContext {
    /// The peer transport.
    pub peers: Peers,
    /// Where to register for [`ServiceTag::Files`].
    pub router: Arc<Router>,
    /// The shared folder, if this node has one.
    pub root: Option<PathBuf>,
}

/// A running files service.
pub struct FilesService {
    node: Arc<FilesNode>,
}

/// Starts the files service of one node.
pub fn start(ctx: FilesContext) -> FilesService {
    let node = Arc::new(FilesNode {
        peers: ctx.peers,
        root: ctx.root,
        snapshots: Mutex::new(HashMap::new()),
        next_snapshot: AtomicU64::new(1),
    });
    // A second registration is a programming error; the first stands.
    let _ = ctx
        .router
        .register(ServiceTag::Files, Arc::new(FilesHandler(node.clone())));
    FilesService { node }
}

impl FilesService {
    /// The shared folder, if this node has one.
    pub fn root(&self) -> Option<&std::path::Path> {
        self.node.root.as_deref()
    }
}

struct FilesNode {
    peers: Peers,
    root: Option<PathBuf>,
    /// Frozen listings by id: when made, the entries, the nodes missing.
    snapshots: Mutex<HashMap<u64, Snapshot>>,
    next_snapshot: AtomicU64,
}

#[derive(Clone)]
struct Snapshot {
    made: Instant,
    entries: Arc<Vec<Entry>>,
    missing: Vec<String>,
}

impl FilesNode {
    async fn answer(self: &Arc<Self>, request: FilesRequest) -> FilesReply {
        match request {
            FilesRequest::ListLocal { snapshot, offset } => {
                if self.root.is_none() {
                    return FilesReply::NoFolder;
                }
                self.serve(snapshot, offset, |node| async move {
                    node.local_entries().await.map(|e| (e, Vec::new()))
                })
                .await
            }
            FilesRequest::ListAll { snapshot, offset } => {
                self.serve(snapshot, offset, |node| async move {
                    Ok(node.composite().await)
                })
                .await
            }
        }
    }

    /// A page of snapshot `id`, or of a new one made by `make` (id 0).
    async fn serve<F, Fut>(self: &Arc<Self>, id: u64, offset: u32, make: F) -> FilesReply
    where
        F: FnOnce(Arc<Self>) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<Entry>, Vec<String>), String>>,
    {
        let snapshot = if id == 0 {
            let (entries, missing) = match make(self.clone()).await {
                Ok(made) => made,
                Err(reason) => return FilesReply::Failed(reason),
            };
            let id = self.next_snapshot.fetch_add(1, Ordering::Relaxed);
            let snapshot = Snapshot {
                made: Instant::now(),
                entries: Arc::new(entries),
                missing,
            };
            self.keep(id, snapshot.clone());
            (id, snapshot)
        } else {
            let snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
            match snapshots.get(&id) {
                Some(s) if s.made.elapsed() < SNAPSHOT_TTL => (id, s.clone()),
                _ => return FilesReply::StaleSnapshot,
            }
        };
        let (id, snapshot) = snapshot;
        FilesReply::page(id, &snapshot.entries, offset, snapshot.missing.clone())
    }

    fn keep(&self, id: u64, snapshot: Snapshot) {
        let mut snapshots = self.snapshots.lock().unwrap_or_else(|e| e.into_inner());
        snapshots.retain(|_, s| s.made.elapsed() < SNAPSHOT_TTL);
        while snapshots.len() >= SNAPSHOTS {
            let Some(oldest) = snapshots
                .iter()
                .min_by_key(|(_, s)| s.made)
                .map(|(k, _)| *k)
            else {
                break;
            };
            snapshots.remove(&oldest);
        }
        snapshots.insert(id, snapshot);
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

    /// Every files node's listing, merged; and the nodes that did not answer.
    async fn composite(self: &Arc<Self>) -> (Vec<Entry>, Vec<String>) {
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
        (merge(listings), missing)
    }

    /// Another node's folder, page by page; `None` if it cannot be had.
    async fn remote_entries(&self, addr: SocketAddr) -> Option<Vec<Entry>> {
        for _ in 0..3 {
            let mut entries = Vec::new();
            let mut snapshot = 0;
            let complete = loop {
                let request = FilesRequest::ListLocal {
                    snapshot,
                    offset: entries.len() as u32,
                };
                let reply = self
                    .peers
                    .call(addr, ServiceTag::Files, &request.to_bytes())
                    .await
                    .ok()?;
                match FilesReply::from_bytes(&reply).ok()? {
                    FilesReply::Listing {
                        snapshot: s,
                        total,
                        entries: page,
                        ..
                    } => {
                        snapshot = s;
                        if page.is_empty() && entries.len() < total as usize {
                            return None;
                        }
                        entries.extend(page);
                        if entries.len() >= total as usize {
                            break true;
                        }
                    }
                    FilesReply::StaleSnapshot => break false,
                    _ => return None,
                }
            };
            if complete {
                return Some(entries);
            }
        }
        None
    }
}

struct FilesHandler(Arc<FilesNode>);

impl ServiceHandler for FilesHandler {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let node = self.0.clone();
        Box::pin(async move {
            let request = match FilesRequest::from_bytes(&body) {
                Ok(request) => request,
                Err(e) => {
                    tracing::debug!(%from, "malformed files request dropped: {e}");
                    return None;
                }
            };
            Some(node.answer(request).await.to_bytes())
        })
    }
}
