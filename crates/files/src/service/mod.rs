//! The files service, running.
//!
//! - `listing.rs`: the composite listing (lab 1), which any node serves by
//!   gathering every files node's folder.
//! - `sync.rs`: the node's index of its folder, and reconciling it with a
//!   peer's records (lab 2, at start-up): the [`plan`](crate::plan)
//!   decision, carried out.
//! - `watch.rs`: the OS watcher on the folder, debounced, feeding changes
//!   made here to the sync task (lab 2 at run time).
//! - `content.rs`: moving a file's bytes: serving chunks, fetching them into
//!   a temporary file that replaces the real one only when whole and right.
//! - `snapshots.rs`: frozen lists served page by page.
//! - `queue.rs`: the sync task's work, bounded for what others send,
//!   coalesced for what this node notices.
//! - `handle.rs`: [`Files`], what a node's web front asks in-process: the
//!   composite listing and lock requests on behalf of an authenticated
//!   person.
//!
//! Every node runs it: a node without a `[node.files]` table still gathers
//! the composite listing from the others. Over the peer transport it
//! answers only the cluster's own nodes; people come through a web front.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use convene_cluster::peer::BoxFuture;
use convene_cluster::{Peers, Router, Screen, ServiceHandler, ServiceTag, Shutdown};
use convene_store::Store;
use convene_wire::{Decode, Encode};
use tokio::task::JoinHandle;

use crate::files_msg::{FilesReply, FilesRequest, LockAction};
use crate::listing::Entry;
use crate::path::SharedPath;
use crate::plan::Record;

mod content;
mod handle;
mod listing;
mod locking;
mod queue;
mod snapshots;
mod sync;
mod watch;

pub use handle::{Files, Listing, LockOutcome};

use snapshots::Snapshots;

/// What the files service needs from its node.
pub struct FilesContext {
    /// The peer transport.
    pub peers: Peers,
    /// Where to register for [`ServiceTag::Files`].
    pub router: Arc<Router>,
    /// Where notifications go.
    pub screen: Screen,
    /// The node's store (its records of the folder).
    pub store: Arc<Store>,
    /// Stops the service's tasks.
    pub shutdown: Shutdown,
    /// The shared folder, if this node has one.
    pub root: Option<PathBuf>,
    /// Faults to inject, for tests; [`FilesFaults::default`] (none)
    /// otherwise.
    pub faults: FilesFaults,
}

/// Faults a test injects into the files service: none by default, and
/// nothing but a test sets one (a node process gets them from the hidden
/// `convene node --fault` flag, which is for tests only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FilesFaults {
    /// The node waits this long before serving each chunk of a file, so a
    /// transfer from it lasts long enough to act during it.
    pub chunk_pause: Option<std::time::Duration>,
}

/// A running files service.
pub struct FilesService {
    node: Arc<FilesNode>,
    task: Option<JoinHandle<()>>,
}

/// Starts the files service of one node: registers for peer requests and,
/// for a node that shares a folder, takes stock of it and reconciles with
/// every other files node.
pub fn start(ctx: FilesContext) -> FilesService {
    let me = ctx.peers.me().id.clone();
    let holder = ctx
        .peers
        .cluster()
        .lock_holder()
        .is_some_and(|n| n.id == me);
    let lease = ctx
        .peers
        .me()
        .files
        .as_ref()
        .map_or(std::time::Duration::from_secs(3600), |f| f.lease);
    let limits = ctx.peers.cluster().limits.clone();
    let sync = ctx
        .root
        .clone()
        .map(|root| sync::Sync::new(root, me, ctx.store.clone(), holder, lease, &limits));
    let node = Arc::new(FilesNode {
        peers: ctx.peers,
        screen: ctx.screen,
        root: ctx.root,
        sync,
        listings: Snapshots::default(),
        records: Snapshots::default(),
        busy: AtomicU64::new(0),
        faults: ctx.faults,
    });
    // A second registration is a programming error; the first stands.
    let _ = ctx
        .router
        .register(ServiceTag::Files, Arc::new(FilesHandler(node.clone())));
    let task = node
        .sync
        .as_ref()
        .map(|_| tokio::spawn(sync::run(node.clone(), ctx.shutdown)));
    FilesService { node, task }
}

impl FilesService {
    /// A handle for the node's web front: listings and locks.
    pub fn handle(&self) -> Files {
        Files::new(self.node.clone())
    }

    /// Waits until the service's task has ended (after the node's shutdown).
    pub async fn join(self) {
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

/// One node's files service, shared by its tasks.
pub(crate) struct FilesNode {
    peers: Peers,
    screen: Screen,
    root: Option<PathBuf>,
    sync: Option<sync::Sync>,
    listings: Snapshots<(Vec<Entry>, Vec<String>, Vec<SharedPath>)>,
    records: Snapshots<Vec<(SharedPath, Record)>>,
    /// Requests refused because the sync queue was full.
    busy: AtomicU64,
    faults: FilesFaults,
}

impl FilesNode {
    async fn answer(self: &Arc<Self>, from: SocketAddr, request: FilesRequest) -> FilesReply {
        match request {
            FilesRequest::ListLocal { snapshot, offset } => self.list_local(snapshot, offset).await,
            FilesRequest::ListAll { snapshot, offset } => self.list_all(snapshot, offset).await,
            FilesRequest::Records { snapshot, offset } => {
                let Some(sync) = &self.sync else {
                    return FilesReply::NoFolder;
                };
                let all = if snapshot == 0 {
                    self.records.freeze(sync.records())
                } else {
                    match self.records.get(snapshot) {
                        Some(all) => (snapshot, all),
                        None => return FilesReply::StaleSnapshot,
                    }
                };
                FilesReply::records_page(all.0, &all.1, offset)
            }
            FilesRequest::Fetch {
                path,
                checksum,
                offset,
            } => match &self.sync {
                Some(sync) => {
                    if let Some(pause) = self.faults.chunk_pause {
                        tokio::time::sleep(pause).await;
                    }
                    sync.serve_chunk(&path, checksum, offset).await
                }
                None => FilesReply::NoFolder,
            },
            FilesRequest::Announce { path, record } => {
                self.queue_for_files_node(from, |from| sync::Work::Remote { from, path, record })
            }
            FilesRequest::Lock {
                path,
                owner,
                action,
            } => self.lock(path, owner, action).await,
            FilesRequest::Locks => match &self.sync {
                Some(sync) if sync.holder => FilesReply::Locked(sync.locked_paths()),
                _ => self.ask_holder(&FilesRequest::Locks).await,
            },
            FilesRequest::Hello => {
                let cluster = self.peers.cluster();
                let sender = cluster.node_at(from).filter(|n| n.files.is_some());
                match (&self.sync, sender) {
                    (Some(sync), Some(node)) => {
                        sync.pull_from(&node.id);
                        FilesReply::Ack
                    }
                    (None, _) => FilesReply::NoFolder,
                    (Some(_), None) => {
                        FilesReply::Failed("not a files node of this cluster".into())
                    }
                }
            }
        }
    }

    /// Carries out a lock request for `owner` (already authenticated by
    /// the web node that sent it): here if this node holds the locks, else
    /// at the holder.
    async fn lock(&self, path: SharedPath, owner: String, action: LockAction) -> FilesReply {
        let Some(sync) = self.sync.as_ref().filter(|s| s.holder) else {
            let request = FilesRequest::Lock {
                path,
                owner,
                action,
            };
            return self.ask_holder(&request).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work = sync::Work::Lock {
            path,
            owner,
            action,
            reply,
        };
        if sync.offer(work).is_err() {
            self.busy.fetch_add(1, Ordering::Relaxed);
            return FilesReply::Busy;
        }
        match tokio::time::timeout(std::time::Duration::from_secs(10), answer).await {
            Ok(Ok(answer)) => answer,
            _ => FilesReply::Busy,
        }
    }

    /// Queues a files node's announcement from `from`, if this node shares
    /// a folder and the sender does; `Busy` if the sync queue is full (the
    /// sender sends it again later).
    fn queue_for_files_node(
        &self,
        from: SocketAddr,
        work: impl FnOnce(String) -> sync::Work,
    ) -> FilesReply {
        let cluster = self.peers.cluster();
        let sender = cluster.node_at(from).filter(|n| n.files.is_some());
        match (&self.sync, sender) {
            (Some(sync), Some(node)) => match sync.offer(work(node.id.clone())) {
                Ok(()) => FilesReply::Ack,
                Err(queue::Full) => {
                    self.busy.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(from = %node.id, "sync queue full: announcement refused, to be sent again");
                    FilesReply::Busy
                }
            },
            (None, _) => FilesReply::NoFolder,
            (Some(_), None) => FilesReply::Failed("not a files node of this cluster".into()),
        }
    }
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

impl FilesNode {
    /// Reads a whole snapshot from the node at `addr`, page by page:
    /// `request` makes the request for a snapshot and an offset, `page` reads
    /// a reply. `None` if it cannot be had (no answer, a refusal, a snapshot
    /// that keeps expiring).
    pub(crate) async fn read_snapshot<T>(
        &self,
        addr: SocketAddr,
        request: impl Fn(u64, u32) -> FilesRequest,
        page: impl Fn(FilesReply) -> Page<T>,
    ) -> Option<Vec<T>> {
        for _ in 0..3 {
            let mut all = Vec::new();
            let mut snapshot = 0;
            loop {
                let body = request(snapshot, all.len() as u32).to_bytes();
                let reply = self.peers.call(addr, ServiceTag::Files, &body).await.ok()?;
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

    /// Forwards `request` to the lock holder and returns its answer.
    async fn ask_holder(&self, request: &FilesRequest) -> FilesReply {
        let cluster = self.peers.cluster();
        let Some(holder) = cluster.lock_holder() else {
            return FilesReply::Failed("no node shares a folder, so none holds locks".into());
        };
        if holder.id == self.peers.me().id {
            return FilesReply::Failed("the lock holder has no folder".into());
        }
        match self
            .peers
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
}

struct FilesHandler(Arc<FilesNode>);

impl ServiceHandler for FilesHandler {
    fn handle(&self, from: SocketAddr, body: Vec<u8>) -> BoxFuture<Option<Vec<u8>>> {
        let node = self.0.clone();
        Box::pin(async move {
            // Everything here is node to node: records, content, listings
            // and locks. People come through a web front, which asks its
            // own node in-process (`Files`) after authenticating them.
            if node.peers.cluster().node_at(from).is_none() {
                tracing::debug!(%from, "files request from outside the cluster dropped");
                return None;
            }
            let request = match FilesRequest::from_bytes(&body) {
                Ok(request) => request,
                Err(e) => {
                    tracing::debug!(%from, "malformed files request dropped: {e}");
                    return None;
                }
            };
            Some(node.answer(from, request).await.to_bytes())
        })
    }
}
