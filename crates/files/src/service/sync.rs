//! The node's index of its folder, and reconciling it with the other files
//! nodes (lab 2 at start-up).
//!
//! On start the node takes stock: it walks its folder and folds what it
//! finds into the index it kept in its store, so files created, changed or
//! deleted while it was stopped become changes made here (see
//! [`index`](crate::index)). Then it reconciles with every other files node
//! both ways: it reads their records (and applies what [`decide`] says), and
//! sends each a `Hello`, which makes them read its records in turn. A node
//! that is down is reconciled with when it starts, since it does the same.
//!
//! Reconciliations run one at a time, on one task, so two peers' versions
//! of one file are never applied at once. What the task is asked to do
//! waits in the queues of `queue.rs`: bounded for what peers send (a full
//! queue answers `Busy`, and the peer sends again later), coalesced for what
//! this node notices itself (never lost). When applying changed something
//! the others should see (our copy won a conflict, a conflict copy was
//! made), the node says `Hello` again, and they read it.
//!
//! [`decide`]: crate::plan::decide

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use convene_cluster::{ServiceTag, Shutdown};
use convene_store::Store;
use convene_wire::{Decode, Encode};
use rustix::fs::FileType;

use super::content::{FetchError, Place, temporary_prefix};
use super::locking::Held;
use super::queue::{Full, Noticed, Pending, WorkQueue};
use super::{FilesNode, Page};
use crate::beneath::{Create, Folder};
use crate::files_msg::{FilesReply, FilesRequest};
use crate::index::{Index, LocalChange, Observed};
use crate::inventory;
use crate::locks::LockTable;
use crate::path::{SharedPath, resolve};
use crate::plan::{Decision, Record, decide};

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

/// How soon a new folder is looked at again: a file moved into a folder
/// before the OS watched it raises no event of its own.
const RECHECK_AFTER: Duration = Duration::from_millis(300);

/// How often every other files node is reconciled with anyway, and this
/// node's own folder walked: a safety net under the announcements and the
/// OS watcher (an announcement lost to a peer that was briefly away, or a
/// change the watcher missed, is made up within this time).
const RECONCILE_EVERY: Duration = Duration::from_secs(60);

/// `wait`, give or take half: announcements refused together (a burst of
/// changes) come back spread out, not all at once again.
fn jittered(wait: Duration) -> Duration {
    let half = wait / 2;
    let spread = half.as_millis().max(1) as u64 * 2;
    half + Duration::from_millis(convene_rpc::os_random_u64() % spread)
}

/// Where a peer's version of a file comes from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Source<'a> {
    /// Fetched from the peer at this address.
    Peer(std::net::SocketAddr),
    /// Already here: a held update's file, by its name in the shared
    /// folder (none for a deletion).
    Held(Option<&'a str>),
}

/// What others ask the sync task to do, one at a time, in order (what
/// this node notices itself is [`Pending`]).
#[derive(Debug)]
pub(crate) enum Work {
    /// A node announced a file's new record.
    Remote {
        /// The announcing node.
        from: String,
        /// The file.
        path: SharedPath,
        /// Its record there.
        record: Record,
    },
    /// A lock request, at the holder.
    Lock {
        /// The file.
        path: SharedPath,
        /// Who asks.
        owner: String,
        /// What to do.
        action: crate::files_msg::LockAction,
        /// Where the answer goes.
        reply: tokio::sync::oneshot::Sender<FilesReply>,
    },
}

/// The folder's index and the queue of what to do.
pub(crate) struct Sync {
    pub(super) root: PathBuf,
    pub(super) me: String,
    store: Arc<Store>,
    index: Mutex<Index<SharedPath>>,
    queue: WorkQueue,
    /// Whether this node holds the cluster's locks.
    pub(super) holder: bool,
    /// How long a lock lasts unless renewed.
    pub(super) lease: Duration,
    /// The locks and their held updates (empty unless `holder`).
    locks: Mutex<LockTable<SharedPath, Held>>,
}

impl Sync {
    /// The index as the store kept it (records that no longer decode are
    /// dropped with a warning: the next scan sees those files as new).
    /// `limits` bound the work queue and the locks per account.
    pub fn new(
        root: PathBuf,
        me: String,
        store: Arc<Store>,
        holder: bool,
        lease: Duration,
        limits: &convene_cluster::Limits,
    ) -> Sync {
        let mut records = Vec::new();
        match store.file_records() {
            Ok(rows) => {
                for (path, bytes) in rows {
                    match (SharedPath::parse(&path), Record::from_bytes(&bytes)) {
                        (Ok(path), Ok(record)) => records.push((path, record)),
                        _ => tracing::warn!(%path, "unreadable file record in the store; dropped"),
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read the files records: {e}"),
        }
        let locks = if holder {
            super::locking::restore(&store)
        } else {
            LockTable::new()
        };
        Sync {
            root,
            me,
            store,
            index: Mutex::new(Index::from_records(records)),
            queue: WorkQueue::new(limits.sync_queue),
            holder,
            lease,
            locks: Mutex::new(locks.with_owner_limit(limits.locks_per_account)),
        }
    }

    pub(super) fn index(&self) -> MutexGuard<'_, Index<SharedPath>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn locks(&self) -> MutexGuard<'_, LockTable<SharedPath, Held>> {
        self.locks.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn store(&self) -> &Store {
        &self.store
    }

    /// Every record, for a peer to reconcile with.
    pub fn records(&self) -> Vec<(SharedPath, Record)> {
        self.index()
            .records()
            .map(|(p, r)| (p.clone(), r.clone()))
            .collect()
    }

    /// Queues a reconciliation with node `node` (never refused: at most
    /// one waits per node).
    pub fn pull_from(&self, node: &str) {
        self.queue.noticed().pull(node);
    }

    /// Queues a reconciliation with every other files node.
    fn pull_from_all(&self, cluster: &convene_cluster::ClusterConfig) {
        for (_, peer) in cluster.files_nodes() {
            if peer.id != self.me {
                self.pull_from(&peer.id);
            }
        }
    }

    /// Queues work another node or a person sent, unless the queue is
    /// full (then they are told `Busy`, and send it again later).
    pub(super) fn offer(&self, work: Work) -> Result<(), Full> {
        self.queue.offer(work)
    }

    /// Where this node's own observations go, from any thread (the
    /// watcher's).
    pub(super) fn noticed(&self) -> Arc<Noticed> {
        self.queue.noticed().clone()
    }

    /// Records `record` for `path`, in the index and the store.
    pub(super) fn put(&self, path: &SharedPath, record: Record) {
        self.index().put(path.clone(), record);
        self.persist(path);
    }

    /// Writes `path`'s record, as the index has it, to the store.
    fn persist(&self, path: &SharedPath) {
        let record = self.index().get(path).cloned();
        if let Some(record) = record
            && let Err(e) = self
                .store
                .put_file_record(path.as_str(), &record.to_bytes())
        {
            tracing::warn!(%path, "cannot store the file's record: {e}");
        }
    }

    /// Writes the records of `paths`, as the index has them, to the store
    /// in one transaction (one sync to disk for a whole walk).
    fn persist_all(&self, paths: &[&SharedPath]) {
        let records: Vec<(&str, Vec<u8>)> = {
            let index = self.index();
            paths
                .iter()
                .filter_map(|p| index.get(p).map(|r| (p.as_str(), r.to_bytes())))
                .collect()
        };
        if records.is_empty() {
            return;
        }
        if let Err(e) = self.store.put_file_records(&records) {
            tracing::warn!("cannot store {} file records: {e}", records.len());
        }
    }

    /// Looks at `path` on disk and folds it in as a change made here;
    /// `true` if it was one.
    pub(super) fn observe(&self, path: &SharedPath) -> bool {
        self.observe_change(path).is_some()
    }

    /// As [`observe`](Sync::observe), returning the change.
    pub(super) fn observe_change(&self, path: &SharedPath) -> Option<LocalChange<SharedPath>> {
        let Ok(on_disk) = resolve(&self.root, path) else {
            return None;
        };
        let known = self.index().get(path).filter(|r| !r.deleted).map(observed);
        let seen = match inventory::look(&on_disk, known) {
            Ok(seen) => seen,
            Err(e) => {
                tracing::warn!(%path, "cannot read: {e}");
                return None;
            }
        };
        let change = self.index().observe(path, seen, &self.me);
        if change.is_some() {
            self.persist(path);
        }
        change
    }

    /// The files known under folder `prefix` (to find those a folder's
    /// removal or rename took away).
    fn known_under(&self, prefix: &str) -> Vec<SharedPath> {
        let prefix = format!("{prefix}/");
        self.index()
            .records()
            .filter(|(p, r)| !r.deleted && p.as_str().starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect()
    }
}

/// What a record says is on disk.
fn observed(r: &Record) -> Observed {
    Observed {
        size: r.size,
        modified_ns: r.modified_ns,
        checksum: r.checksum,
    }
}

/// Takes stock of the folder, then does the queued work as it comes:
/// reconciliations, changes seen here, changes announced by others.
pub(super) async fn run(node: Arc<FilesNode>, shutdown: Shutdown) {
    let Some(sync) = node.sync.as_ref() else {
        return;
    };
    let Some(mut work) = sync.queue.take_receiver() else {
        return;
    };
    let noticed = sync.noticed();
    // Watch before taking stock, so nothing changed during the walk is
    // missed (what the walk already saw is seen again, harmlessly).
    let _watcher = super::watch::start(sync);
    take_stock(&node, false).await;
    sync.pull_from_all(node.peers.cluster());
    node.hello_all();
    // Leases that ran out while the node was down.
    node.expire_locks().await;
    let mut reconcile = tokio::time::interval(RECONCILE_EVERY);
    reconcile.tick().await; // the first tick is now: start-up pulls are queued already
    loop {
        let expiry = sync.locks().next_expiry();
        let lease_ends = async {
            match expiry {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let next = tokio::select! {
            () = noticed.wait() => None,
            next = work.recv() => match next {
                Some(next) => Some(next),
                None => return,
            },
            () = lease_ends => {
                node.expire_locks().await;
                continue;
            }
            _ = reconcile.tick() => {
                noticed.rescan();
                sync.pull_from_all(node.peers.cluster());
                continue;
            }
            _ = shutdown.wait() => return,
        };
        let doing = async {
            match next {
                None => node.handle_noticed(noticed.take()).await,
                Some(Work::Remote { from, path, record }) => {
                    node.remote_change(&from, &path, record).await
                }
                Some(Work::Lock {
                    path,
                    owner,
                    action,
                    reply,
                }) => {
                    let _ = reply.send(node.lock_request(path, &owner, action).await);
                    false
                }
            }
        };
        let changed_here = tokio::select! {
            changed = doing => changed,
            _ = shutdown.wait() => return,
        };
        if changed_here {
            node.hello_all();
        }
    }
}

/// Folds a walk of the folder into the index: what changed while the node
/// was stopped becomes changes made here.
async fn take_stock(node: &Arc<FilesNode>, announce: bool) {
    let Some(sync) = node.sync.as_ref() else {
        return;
    };
    if let Err(e) = std::fs::create_dir_all(&sync.root) {
        tracing::warn!(root = %sync.root.display(), "cannot create the shared folder: {e}");
    }
    if !announce {
        remove_torn_transfers(&sync.root);
    }
    let known: BTreeMap<SharedPath, Observed> = sync
        .index()
        .records()
        .filter(|(_, r)| !r.deleted)
        .map(|(p, r)| (p.clone(), observed(r)))
        .collect();
    let root = sync.root.clone();
    let walked = tokio::task::spawn_blocking(move || {
        let known_ref = &known;
        inventory::scan_with(&root, &|p| known_ref.get(p).copied()).map(|inv| (inv, known))
    })
    .await;
    let (inventory, known) = match walked {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => {
            node.screen.line(format!(
                "Cannot read the shared folder {}: {e}",
                sync.root.display()
            ));
            return;
        }
        Err(_) => return,
    };
    let mut seen = inventory.files.clone();
    for skipped in &inventory.skipped {
        tracing::info!(path = %skipped.path.display(), "not shared: {}", skipped.reason);
        // A file the walk could not read is not a deleted file.
        if let Some(path) = &skipped.shared
            && let Some(k) = known.get(path)
        {
            seen.insert(path.clone(), *k);
        }
    }
    let changes = sync.index().scan(&seen, &sync.me);
    let paths: Vec<&SharedPath> = changes.iter().map(LocalChange::path).collect();
    sync.persist_all(&paths);
    for change in changes {
        node.report_local(&change, announce);
    }
}

/// Removes what transfers cut off by a stop or a crash left behind: their
/// temporary files (in the folders their files were going to) never
/// replaced anything, so they are only litter.
fn remove_torn_transfers(root: &std::path::Path) {
    let removed = Folder::root(root).and_then(|f| f.remove_files_starting(&temporary_prefix()));
    if let Err(e) = removed {
        tracing::warn!(root = %root.display(), "cannot remove torn transfers: {e}");
    }
}

impl FilesNode {
    /// Does what this node noticed itself: a rescan (which covers every
    /// changed path) or the changed paths, then the reconciliations. `true`
    /// if something changed here that peers should read.
    async fn handle_noticed(self: &Arc<Self>, pending: Pending) -> bool {
        if pending.rescan {
            take_stock(self, true).await;
        } else {
            if !pending.changed.is_empty() {
                self.local_changes(pending.changed.into_iter().collect(), true)
                    .await;
            }
            if !pending.recheck.is_empty() {
                self.local_changes(pending.recheck.into_iter().collect(), false)
                    .await;
            }
        }
        let mut changed_here = false;
        for peer in pending.pulls {
            changed_here |= self.pull(&peer).await;
        }
        changed_here
    }

    /// Folds what the watcher saw into the index, and announces each change
    /// to the other files nodes.
    async fn local_changes(self: &Arc<Self>, paths: Vec<PathBuf>, recheck_folders: bool) {
        let Some(sync) = self.sync.as_ref() else {
            return;
        };
        let folders: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
        if recheck_folders && !folders.is_empty() {
            let noticed = sync.noticed();
            tokio::spawn(async move {
                tokio::time::sleep(RECHECK_AFTER).await;
                noticed.recheck(folders);
            });
        }
        let mut files: Vec<SharedPath> = Vec::new();
        for full in paths {
            let Ok(path) = SharedPath::from_relative(&sync.root, &full) else {
                continue; // outside the folder, Convene's own, or not a valid name
            };
            // A folder (created, removed or renamed): every file in it now,
            // and every file known in it before.
            if full.is_dir()
                && let Ok(inventory) = inventory::scan(&full)
            {
                for inner in inventory.files.keys() {
                    if let Ok(inner) = SharedPath::parse(&format!("{path}/{inner}")) {
                        files.push(inner);
                    }
                }
            }
            files.extend(sync.known_under(path.as_str()));
            files.push(path);
        }
        files.sort();
        files.dedup();
        for path in files {
            if let Some(change) = sync.observe_change(&path) {
                self.report_local(&change, true);
            }
        }
    }

    /// Shows a change made here on the node's screen and, with `announce`,
    /// tells the other files nodes its record.
    fn report_local(self: &Arc<Self>, change: &LocalChange<SharedPath>, announce: bool) {
        let (path, what) = match change {
            LocalChange::Created(p) => (p, "new"),
            LocalChange::Modified(p) => (p, "changed"),
            LocalChange::Deleted(p) => (p, "deleted"),
        };
        self.screen.line(format!("Files: {path} is {what} here."));
        let record = self
            .sync
            .as_ref()
            .and_then(|s| s.index().get(path).cloned());
        if announce && let Some(record) = record {
            self.announce(path, &record);
        }
    }

    /// Our record of `path`, after looking at the disk: a change made here
    /// that the watcher has not reported yet (it waits for a quiet moment)
    /// is folded in and announced first, so an incoming version is weighed
    /// against it, as a conflict if need be, instead of overwriting it.
    pub(super) fn look_before_taking(self: &Arc<Self>, path: &SharedPath) -> Option<Record> {
        let sync = self.sync.as_ref()?;
        if let Some(change) = sync.observe_change(path) {
            self.report_local(&change, true);
        }
        sync.index().get(path).cloned()
    }

    /// Tells every other files node that `path` now has `record` here.
    fn announce(self: &Arc<Self>, path: &SharedPath, record: &Record) {
        let me = self.peers.me().id.clone();
        let body = FilesRequest::Announce {
            path: path.clone(),
            record: record.clone(),
        }
        .to_bytes();
        for (_, peer) in self.peers.cluster().files_nodes() {
            if peer.id == me {
                continue;
            }
            let (peers, addr, body) = (self.peers.clone(), peer.peer_addr(), body.clone());
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
                    match peers.call(addr, ServiceTag::Files, &body).await {
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

    /// Carries out what a node's announcement of `path` calls for.
    async fn remote_change(
        self: &Arc<Self>,
        from: &str,
        path: &SharedPath,
        theirs: Record,
    ) -> bool {
        let Some(sync) = self.sync.as_ref() else {
            return false;
        };
        let Ok(addr) = self.peers.cluster().node(from).map(|n| n.peer_addr()) else {
            return false;
        };
        let ours = self.look_before_taking(path);
        let decision = decide(ours.as_ref(), &theirs, &sync.me, from);
        self.carry_out(from, Source::Peer(addr), path, ours, theirs, decision)
            .await
    }

    /// Says `Hello` to every other files node, so each reads our records.
    pub(super) fn hello_all(self: &Arc<Self>) {
        let me = self.peers.me().id.clone();
        for (_, peer) in self.peers.cluster().files_nodes() {
            if peer.id == me {
                continue;
            }
            let (peers, addr) = (self.peers.clone(), peer.peer_addr());
            tokio::spawn(async move {
                let body = FilesRequest::Hello.to_bytes();
                let _ = peers.call(addr, ServiceTag::Files, &body).await;
            });
        }
    }

    /// Reconciles with node `peer`: reads its records and carries out each
    /// decision. `true` if something changed here that peers should read.
    async fn pull(self: &Arc<Self>, peer: &str) -> bool {
        let Some(sync) = self.sync.as_ref() else {
            return false;
        };
        let Ok(addr) = self.peers.cluster().node(peer).map(|n| n.peer_addr()) else {
            return false;
        };
        let Some(records) = self.peer_records(addr).await else {
            tracing::info!(%peer, "no records from the node; it reconciles when it starts");
            return false;
        };
        let mut changed_here = false;
        for (path, theirs) in records {
            let ours = self.look_before_taking(&path);
            let decision = decide(ours.as_ref(), &theirs, &sync.me, peer);
            changed_here |= self
                .carry_out(peer, Source::Peer(addr), &path, ours, theirs, decision)
                .await;
        }
        changed_here
    }

    /// Does what `decision` says for `path`, with `theirs`'s content from
    /// `source`; `true` if something changed here that peers should read.
    ///
    /// While `path` is locked here, a peer's update that would move content
    /// is held instead, as it came: it is decided again when the lock goes,
    /// against whatever the file is then.
    pub(super) async fn carry_out(
        self: &Arc<Self>,
        peer: &str,
        source: Source<'_>,
        path: &SharedPath,
        ours: Option<Record>,
        theirs: Record,
        decision: Decision,
    ) -> bool {
        let Some(sync) = self.sync.as_ref() else {
            return false;
        };
        let moves_content = !matches!(decision, Decision::Keep | Decision::Merge { .. });
        if let Source::Peer(addr) = source
            && moves_content
            && sync.is_locked(path)
        {
            self.hold(peer, addr, path, theirs).await;
            return false;
        }
        match decision {
            Decision::Keep => false,
            Decision::Merge { version } => {
                if let Some(ours) = ours {
                    sync.put(path, Record { version, ..ours });
                }
                false
            }
            Decision::Take { version }
            | Decision::TakeTheirs {
                version,
                conflict: None,
            } => {
                self.take(peer, source, path, Record { version, ..theirs })
                    .await;
                false
            }
            Decision::TakeTheirs {
                version,
                conflict: Some(conflict),
            } => {
                let (node, secs) = conflict.copy_of();
                let copy = path.conflict_name(node, secs);
                // The copy is the file's sibling: one folder, one rename (of
                // a plain file: a link put there is not ours to move).
                let moved =
                    Folder::parent_of(&sync.root, path, Create::Nothing).is_ok_and(|folder| {
                        let name = path.file_name();
                        matches!(folder.kind_of(name), Ok(Some(FileType::RegularFile)))
                            && folder.rename(name, &folder, copy.file_name()).is_ok()
                            && folder.sync().is_ok()
                    });
                if moved {
                    sync.observe(&copy);
                    self.screen.line(format!(
                        "Files: {path} was changed here and on {peer}; {peer}'s copy keeps the name, ours is {copy}."
                    ));
                }
                self.take(peer, source, path, Record { version, ..theirs })
                    .await;
                moved
            }
            Decision::KeepOurs { version, conflict } => {
                if let Some(conflict) = &conflict {
                    let (node, secs) = conflict.copy_of();
                    let copy = path.conflict_name(node, secs);
                    let fetched = self.place(source, path, &theirs, &copy).await.is_ok();
                    if fetched {
                        sync.observe(&copy);
                        self.screen.line(format!(
                            "Files: {path} was changed here and on {peer}; ours keeps the name, {peer}'s is {copy}."
                        ));
                    }
                }
                if let Some(ours) = ours {
                    sync.put(path, Record { version, ..ours });
                }
                true
            }
        }
    }

    /// Puts `record`'s content of `path` at `target`: fetched from a peer,
    /// or moved from the held file it already waits in.
    async fn place(
        &self,
        source: Source<'_>,
        path: &SharedPath,
        record: &Record,
        target: &SharedPath,
    ) -> Result<(), FetchError> {
        match source {
            Source::Peer(addr) => self.fetch_into(addr, path, record, target).await,
            Source::Held(file) => {
                let sync = self.sync.as_ref().ok_or(FetchError::Gone)?;
                let held = file.ok_or(FetchError::Gone)?;
                let place = Place::file(&sync.root, target)?;
                place.put(&Folder::root(&sync.root)?, held)
            }
        }
    }

    /// Applies `record` (from `peer`) to `path`: deletes, or puts the
    /// content in place; the index records it only once the folder matches.
    async fn take(&self, peer: &str, source: Source<'_>, path: &SharedPath, record: Record) {
        let Some(sync) = self.sync.as_ref() else {
            return;
        };
        if record.deleted {
            match delete(&sync.root, path) {
                Ok(true) => self
                    .screen
                    .line(format!("Files: deleted {path} (deleted on {peer}).")),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(%path, "cannot delete: {e}");
                    return;
                }
            }
            // Gone from the disk for good before the record says so.
            sync.put(path, record);
            return;
        }
        match self.place(source, path, &record, path).await {
            Ok(()) => {
                sync.put(path, record);
                self.screen
                    .line(format!("Files: synchronized {path} from {peer}."));
            }
            // A write that fails here (a full disk, permissions) is the
            // user's to know; a peer that changed its file again or went
            // away is routine, and its next record will come.
            Err(e @ (FetchError::Io(_) | FetchError::Path(_))) => {
                self.screen.line(format!(
                    "Files: cannot synchronize {path} from {peer}: {e}."
                ));
            }
            Err(e) => tracing::info!(%path, %peer, "not synchronized: {e}"),
        }
    }

    /// Holds `peer`'s update of locked `path`: its content is fetched now,
    /// into a held file, and applied when the lock goes.
    async fn hold(
        &self,
        peer: &str,
        addr: std::net::SocketAddr,
        path: &SharedPath,
        record: Record,
    ) {
        let Some(sync) = self.sync.as_ref() else {
            return;
        };
        // The same version again (a peer's records read once more after a
        // restart or a periodic reconciliation) is already waiting.
        let repeat = sync
            .locks()
            .last_held(path)
            .is_some_and(|last| last.record.version == record.version);
        if repeat {
            return;
        }
        let file = if record.deleted {
            None
        } else {
            let name = super::locking::held_file_name();
            let fetched = match Place::own(&sync.root, &name) {
                Ok(place) => self.fetch_to(addr, path, &record, &place).await,
                Err(e) => Err(e),
            };
            match fetched {
                Ok(()) => Some(name),
                Err(e) => {
                    tracing::info!(%path, %peer, "held update not fetched: {e}");
                    return;
                }
            }
        };
        let held = Held {
            from: peer.to_string(),
            record,
            file: file.clone(),
        };
        if sync.hold(path, held) {
            let waiting = sync.locks().queued_for(path);
            self.screen.line(format!(
                "Files: {path} is locked; {peer}'s update is held ({waiting} waiting)."
            ));
        } else if let Some(name) = file {
            let _ = Folder::root(&sync.root).and_then(|root| root.remove_file(&name));
        }
    }

    /// A peer's records, page by page; `None` if they cannot be had.
    async fn peer_records(&self, addr: std::net::SocketAddr) -> Option<Vec<(SharedPath, Record)>> {
        let request = |snapshot, offset| FilesRequest::Records { snapshot, offset };
        self.read_snapshot(addr, request, |reply| match reply {
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
}

/// Removes `path` from the shared folder, through its folder's handle (a
/// link on the way is refused, never followed), and syncs the folder;
/// `Ok(false)` if there was nothing to remove. A link by that name is not
/// this node's file (the walk never shares links), so it is left alone.
fn delete(root: &std::path::Path, path: &SharedPath) -> Result<bool, FetchError> {
    let folder = match Folder::parent_of(root, path, Create::Nothing) {
        Ok(folder) => folder,
        Err(crate::path::PathError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let name = path.file_name();
    match folder.kind_of(name)? {
        None => return Ok(false),
        Some(FileType::Symlink) => {
            let path = crate::path::shorten(path.as_str());
            return Err(crate::path::PathError::Symlink { path }.into());
        }
        Some(_) => {}
    }
    match folder.remove_file(name) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    folder.sync()?;
    Ok(true)
}
