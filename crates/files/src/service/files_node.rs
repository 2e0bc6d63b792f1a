//! [`FilesNode`]: one node's files service as others reach it. It answers
//! the other nodes' requests over the peer transport ([`FilesHandler`])
//! and the node's own web front in-process ([`Files`](super::Files)), and
//! hands the work to whoever owns it: listings to [`Listings`], records
//! and chunks to the [`SharedFolder`](super::shared_folder::SharedFolder),
//! announcements and lock requests to the sync task's queue
//! ([`Synchronizer`]), lock requests at other nodes to the lock holder.
//!
//! Over the peer transport it answers only the cluster's own nodes; people
//! come through a web front.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use convene_cluster::peer::BoxFuture;
use convene_cluster::snapshot::Snapshots;
use convene_cluster::{Peers, ServiceHandler};
use convene_metrics::Metrics;
use convene_wire::{Decode, Encode};
use tracing::Instrument;

use super::FilesFaults;
use super::calls::ask_holder;
use super::content::serve_chunk;
use super::listing::{Composite, Listings};
use super::observe;
use super::queue::{Full, Work};
use super::role::LockRole;
use super::synchronizer::Synchronizer;
use super::{SNAPSHOT_TTL, SNAPSHOTS_KEPT};
use crate::config::FilesSection;
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, FilesRequest, LockAction, Refusal};
use crate::plan::Record;

/// How long a lock request waits for the holder's sync task before the
/// asker is told `Busy`.
const LOCK_ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// How much work waits at a files node, read at a moment (for its
/// metrics): all zero where it has no folder or does not hold the locks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Announcements and lock requests from others in the sync queue.
    pub sync: usize,
    /// Files locked, at the lock holder.
    pub locks: usize,
    /// Updates of locked files held until their lock ends, at the lock
    /// holder.
    pub held_updates: usize,
    /// Requests refused `Busy` so far because the sync queue was full.
    pub busy_refusals: u64,
}

/// One node's files service, shared by its tasks and its web front.
pub(crate) struct FilesNode {
    peers: Peers,
    listings: Listings,
    /// The sync task's state, if this node shares a folder.
    sync: Option<Arc<Synchronizer>>,
    /// Who holds the locks.
    role: Arc<LockRole>,
    /// Our records, frozen for a peer reading them page by page.
    records: Snapshots<Vec<(SharedPath, Record)>>,
    /// Requests refused because the sync queue was full.
    busy: AtomicU64,
    faults: FilesFaults,
    /// Where requests are counted (see the `observe` module).
    metrics: Metrics,
}

impl FilesNode {
    /// The service of a node seen through `peers`, listing with
    /// `listings`; `sync` if it shares a folder.
    pub fn new(
        peers: Peers,
        listings: Listings,
        sync: Option<Arc<Synchronizer>>,
        role: Arc<LockRole>,
        faults: FilesFaults,
        metrics: Metrics,
    ) -> FilesNode {
        FilesNode {
            peers,
            listings,
            sync,
            role,
            records: Snapshots::new(SNAPSHOTS_KEPT, SNAPSHOT_TTL),
            busy: AtomicU64::new(0),
            faults,
            metrics,
        }
    }

    /// Every files node's listing, merged, with the nodes missing from it
    /// and the locked files.
    pub async fn composite(&self) -> Composite {
        self.listings.composite().await
    }

    /// How many requests were refused because the sync queue was full.
    pub fn busy_refusals(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    /// The queues' lengths now (see [`QueueDepths`]).
    pub fn queue_depths(&self) -> QueueDepths {
        let (locks, held_updates) = self.role.desk().map_or((0, 0), |desk| desk.depths());
        QueueDepths {
            sync: self.sync.as_ref().map_or(0, |sync| sync.queue_depth()),
            locks,
            held_updates,
            busy_refusals: self.busy_refusals(),
        }
    }

    /// Starts counting a request of `kind` at door `door` (see
    /// [`observe`](super::observe)).
    pub fn begin(
        &self,
        door: &'static str,
        kind: &'static str,
        peer: Option<SocketAddr>,
    ) -> convene_metrics::Request {
        self.metrics.begin(observe::SERVICE, door, kind, peer)
    }

    /// Answers a request from the node at `from`. Chunks served,
    /// announcements and lock requests are counted as requests at door
    /// `peer`.
    async fn answer(&self, from: SocketAddr, request: FilesRequest) -> FilesReply {
        let kind = match &request {
            FilesRequest::Fetch { .. } => Some(observe::kinds::CHUNK),
            FilesRequest::Announce { .. } => Some(observe::kinds::ANNOUNCE),
            FilesRequest::Lock { action, .. } => Some(observe::lock_kind(*action)),
            _ => None,
        };
        let Some(kind) = kind else {
            return self.answer_unobserved(from, request).await;
        };
        let observed = self.begin(observe::PEER, kind, Some(from));
        let reply = self
            .answer_unobserved(from, request)
            .instrument(observed.span().clone())
            .await;
        observed.finish(observe::reply_outcome(&reply));
        if let FilesReply::Chunk { bytes, .. } = &reply {
            self.metrics.count(
                observe::SERVICE,
                observe::events::BYTES_SERVED,
                bytes.len() as u64,
            );
        }
        reply
    }

    async fn answer_unobserved(&self, from: SocketAddr, request: FilesRequest) -> FilesReply {
        match request {
            FilesRequest::ListLocal { snapshot, offset } => {
                self.listings.local_page(snapshot, offset).await
            }
            FilesRequest::ListAll { snapshot, offset } => {
                self.listings.composite_page(snapshot, offset).await
            }
            FilesRequest::Records { snapshot, offset } => {
                let Some(sync) = &self.sync else {
                    return FilesReply::NoFolder;
                };
                let all = if snapshot == 0 {
                    self.records.freeze(sync.folder().records())
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
                    let folder = sync.folder();
                    let known = folder.record(&path);
                    serve_chunk(folder.root(), &path, known, checksum, offset).await
                }
                None => FilesReply::NoFolder,
            },
            FilesRequest::Announce { path, record } => {
                self.queue_for_files_node(from, |from| Work::Remote { from, path, record })
            }
            FilesRequest::Lock {
                path,
                owner,
                action,
            } => self.lock(path, owner, action).await,
            FilesRequest::Locks => match self.role.desk() {
                Some(desk) => FilesReply::Locked(desk.locked_paths()),
                None => ask_holder(&self.peers, &self.role, &FilesRequest::Locks).await,
            },
            FilesRequest::LockOf { path } => self.lock_of(path).await,
            FilesRequest::Hello => {
                let cluster = self.peers.cluster();
                let sender = cluster
                    .node_at(from)
                    .filter(|n| FilesSection::of(n).is_some());
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
    /// The lock on `path`, from the desk here or the lock holder.
    pub async fn lock_of(&self, path: SharedPath) -> FilesReply {
        match self.role.desk() {
            Some(desk) => match desk.view(&path, std::time::Instant::now()) {
                Some(view) => FilesReply::Lock(view),
                None => FilesReply::Refused(Refusal::NotLocked, format!("{path} is not locked")),
            },
            None => ask_holder(&self.peers, &self.role, &FilesRequest::LockOf { path }).await,
        }
    }

    pub async fn lock(&self, path: SharedPath, owner: String, action: LockAction) -> FilesReply {
        let Some(sync) = self.sync.as_ref().filter(|s| s.desk().is_some()) else {
            let request = FilesRequest::Lock {
                path,
                owner,
                action,
            };
            return ask_holder(&self.peers, &self.role, &request).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let work = Work::Lock {
            path,
            owner,
            action,
            reply,
        };
        if sync.offer(work).is_err() {
            self.busy.fetch_add(1, Ordering::Relaxed);
            return FilesReply::Busy;
        }
        match tokio::time::timeout(LOCK_ANSWER_WITHIN, answer).await {
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
        work: impl FnOnce(String) -> Work,
    ) -> FilesReply {
        let cluster = self.peers.cluster();
        let sender = cluster
            .node_at(from)
            .filter(|n| FilesSection::of(n).is_some());
        match (&self.sync, sender) {
            (Some(sync), Some(node)) => match sync.offer(work(node.id.clone())) {
                Ok(()) => FilesReply::Ack,
                Err(Full) => {
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

/// What the peer transport calls for a files request.
pub(crate) struct FilesHandler(pub Arc<FilesNode>);

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
