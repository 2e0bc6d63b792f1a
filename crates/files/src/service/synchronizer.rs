//! [`Synchronizer`]: the sync task of a node that shares a folder (lab 2,
//! and lab 3's locks at the holder). It owns the [`SharedFolder`], the
//! [`WorkQueue`] and, at the lock holder, the [`LockDesk`], and is the only
//! one that changes the folder on a peer's behalf.
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
//! waits in the queues of [`queue`](super::queue): bounded for what peers
//! send (a full queue answers `Busy`, and the peer sends again later),
//! coalesced for what this node notices itself (never lost). When applying
//! changed something the others should see (our copy won a conflict, a
//! conflict copy was made), the node says `Hello` again, and they read it.
//!
//! At the lock holder the same task carries out lock requests, so a lock,
//! an unlock and the updates it releases are serialised with every other
//! change to the folder. A peer's update of a locked file is fetched at
//! once into a held file and queued at the desk, undecided
//! ([`hold_until_unlocked`](Synchronizer::hold_until_unlocked)); an unlock
//! or a lease running out weighs the queue in arrival order, each update
//! against the file as it is by then, with the same [`decide`].
//!
//! [`decide`]: crate::plan::decide

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use convene_cluster::{Peers, Screen, Shutdown};

use super::calls::{announce, hello_all, records_of};
use super::content::{self, FetchError, FetchFrom, Place};
use super::held::{Held, held_file_name};
use super::lock_desk::LockDesk;
use super::queue::{Full, Pending, Work, WorkQueue};
use super::role::LockRole;
use super::shared_folder::SharedFolder;
use super::watch::FolderWatcher;
use crate::index::LocalChange;
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, LockAction};
use crate::plan::{Decision, Record, decide};

/// How soon a new folder is looked at again: a file moved into a folder
/// before the OS watched it raises no event of its own.
const RECHECK_AFTER: Duration = Duration::from_millis(300);

/// How often every other files node is reconciled with anyway, and this
/// node's own folder walked: a safety net under the announcements and the
/// OS watcher (an announcement lost to a peer that was briefly away, or a
/// change the watcher missed, is made up within this time).
const RECONCILE_EVERY: Duration = Duration::from_secs(60);

/// Where a peer's version of a file comes from.
#[derive(Clone, Copy, Debug)]
enum Source<'a> {
    /// Fetched from the peer at this address.
    Peer(SocketAddr),
    /// Already here: a held update's file, by its name in the shared
    /// folder (none for a deletion).
    Held(Option<&'a str>),
}

/// The sync task's state: the folder, what waits to be done, the locks.
pub(crate) struct Synchronizer {
    peers: Peers,
    screen: Screen,
    folder: SharedFolder,
    queue: WorkQueue,
    /// Who holds the locks, and this node's desk while it does.
    role: Arc<LockRole>,
    /// The node's shutdown: ends the task and its announcements.
    shutdown: Shutdown,
    /// Where fetches are counted (see the `observe` module).
    metrics: convene_metrics::Metrics,
}

impl Synchronizer {
    /// The sync task's state for `folder`, its queue bounded at
    /// `queue_limit`; `role` says whether this node holds the locks. Its task and what it
    /// spawns end at `shutdown`.
    pub fn new(
        peers: Peers,
        screen: Screen,
        folder: SharedFolder,
        queue_limit: usize,
        role: Arc<LockRole>,
        shutdown: Shutdown,
        metrics: convene_metrics::Metrics,
    ) -> Synchronizer {
        Synchronizer {
            peers,
            screen,
            folder,
            queue: WorkQueue::new(queue_limit),
            role,
            shutdown,
            metrics,
        }
    }

    /// How many announcements and lock requests wait in the sync queue.
    pub fn queue_depth(&self) -> usize {
        self.queue.depth()
    }

    /// The shared folder.
    pub fn folder(&self) -> &SharedFolder {
        &self.folder
    }

    /// The locks, if this node holds them.
    pub fn desk(&self) -> Option<Arc<LockDesk>> {
        self.role.desk()
    }

    /// Puts a held update's content, read from the shared lock book, back
    /// in its file here (when this node takes the locks over).
    pub fn materialize(&self, held: &Held, bytes: &[u8]) {
        let Some(name) = held.file.as_deref() else {
            return;
        };
        if let Err(e) = content::write_held(self.folder.root(), name, &held.record, bytes) {
            tracing::warn!(from = %held.from, "cannot put a held update back in its file: {e}");
        }
    }

    /// Queues a reconciliation with node `node` (never refused: at most
    /// one waits per node).
    pub fn pull_from(&self, node: &str) {
        self.queue.noticed().pull(node);
    }

    /// The content of held update file `name` in this node's folder, if
    /// it can be read.
    pub fn read_held(&self, name: &str) -> Option<Vec<u8>> {
        content::read_held(self.folder.root(), name).ok()
    }

    /// Removes the files of updates this node held while it had the locks
    /// (their content is in the shared book, for whoever has them now).
    pub fn forget_held_files(&self) {
        content::remove_held_files(self.folder.root());
    }

    /// Queues a reconciliation with every other files node (also when the
    /// locks come or go: the new holder holds what it must, a former one
    /// catches up with what it held).
    pub fn pull_from_all(&self) {
        for (_, peer) in crate::config::files_nodes(self.peers.cluster()) {
            if peer.id != self.folder.me() {
                self.pull_from(&peer.id);
            }
        }
    }

    /// Queues work another node or a person sent, unless the queue is
    /// full (then they are told `Busy`, and send it again later).
    pub fn offer(&self, work: Work) -> Result<(), Full> {
        self.queue.offer(work)
    }

    /// Takes stock of the folder, then does the queued work as it comes:
    /// reconciliations, changes seen here, changes announced by others,
    /// lock requests and leases running out. Ends at the node's shutdown.
    pub async fn run(self: Arc<Self>) {
        let shutdown = self.shutdown.clone();
        let Some(mut work) = self.queue.take_receiver() else {
            return;
        };
        let noticed = self.queue.noticed().clone();
        // Watch before taking stock, so nothing changed during the walk is
        // missed (what the walk already saw is seen again, harmlessly).
        let _watcher = FolderWatcher::start(self.folder.root(), noticed.clone());
        self.take_stock(false).await;
        if self.desk().is_none() {
            self.forget_held_files();
        }
        self.pull_from_all();
        hello_all(&self.peers);
        // Leases that ran out while the node was down.
        self.expire_locks().await;
        let mut reconcile = tokio::time::interval(RECONCILE_EVERY);
        reconcile.tick().await; // the first tick is now: start-up pulls are queued already
        loop {
            let expiry = self.desk().and_then(|desk| desk.next_expiry());
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
                    self.expire_locks().await;
                    continue;
                }
                _ = reconcile.tick() => {
                    noticed.rescan();
                    self.pull_from_all();
                    continue;
                }
                _ = shutdown.wait() => return,
            };
            let doing = async {
                match next {
                    None => self.handle_noticed(noticed.take()).await,
                    Some(Work::Remote { from, path, record }) => {
                        self.remote_change(&from, &path, record).await
                    }
                    Some(Work::Lock {
                        path,
                        owner,
                        action,
                        reply,
                    }) => {
                        let _ = reply.send(self.lock_request(path, &owner, action).await);
                        false
                    }
                }
            };
            let changed_here = tokio::select! {
                changed = doing => changed,
                _ = shutdown.wait() => return,
            };
            if changed_here {
                hello_all(&self.peers);
            }
        }
    }

    /// Folds a walk of the folder into the index: what changed while the
    /// node was stopped (or the watcher missed) becomes changes made here,
    /// announced with `announce`. At start-up (`announce` false: the peers
    /// read our records anyway) the litter of torn transfers is removed
    /// first.
    async fn take_stock(&self, announce: bool) {
        let root = self.folder.root();
        if let Err(e) = std::fs::create_dir_all(root) {
            tracing::warn!(root = %root.display(), "cannot create the shared folder: {e}");
        }
        if !announce {
            content::remove_torn_transfers(root);
        }
        match self.folder.take_stock().await {
            Ok(changes) => {
                for change in changes {
                    self.report_local(&change, announce);
                }
            }
            Err(e) => self.screen.line(format!(
                "Cannot read the shared folder {}: {e}",
                root.display()
            )),
        }
    }

    /// Does what this node noticed itself: a rescan (which covers every
    /// changed path) or the changed paths, then the reconciliations. `true`
    /// if something changed here that peers should read.
    async fn handle_noticed(&self, pending: Pending) -> bool {
        if pending.rescan {
            self.take_stock(true).await;
        } else {
            if !pending.changed.is_empty() {
                self.local_changes(pending.changed.into_iter().collect(), true);
            }
            if !pending.recheck.is_empty() {
                self.local_changes(pending.recheck.into_iter().collect(), false);
            }
        }
        let mut changed_here = false;
        for peer in pending.pulls {
            changed_here |= self.pull(&peer).await;
        }
        changed_here
    }

    /// Folds what the watcher saw into the index, and announces each change
    /// to the other files nodes; with `recheck_folders`, the folders among
    /// `paths` are looked at again a moment later.
    fn local_changes(&self, paths: Vec<PathBuf>, recheck_folders: bool) {
        let folders: Vec<PathBuf> = paths.iter().filter(|p| p.is_dir()).cloned().collect();
        if recheck_folders && !folders.is_empty() {
            let noticed = self.queue.noticed().clone();
            tokio::spawn(async move {
                tokio::time::sleep(RECHECK_AFTER).await;
                noticed.recheck(folders);
            });
        }
        for change in self.folder.observe_all(paths) {
            self.report_local(&change, true);
        }
    }

    /// Shows a change made here on the node's screen and, with `announce`,
    /// tells the other files nodes its record.
    fn report_local(&self, change: &LocalChange<SharedPath>, announce_it: bool) {
        let (path, what) = match change {
            LocalChange::Created(p) => (p, "new"),
            LocalChange::Modified(p) => (p, "changed"),
            LocalChange::Deleted(p) => (p, "deleted"),
        };
        self.screen.line(format!("Files: {path} is {what} here."));
        if announce_it && let Some(record) = self.folder.record(path) {
            announce(&self.peers, &self.shutdown, path, &record);
        }
    }

    /// Our record of `path`, after looking at the disk: a change made here
    /// that the watcher has not reported yet (it waits for a quiet moment)
    /// is folded in and announced first, so an incoming version is weighed
    /// against it, as a conflict if need be, instead of overwriting it.
    fn look_before_taking(&self, path: &SharedPath) -> Option<Record> {
        if let Some(change) = self.folder.observe(path) {
            self.report_local(&change, true);
        }
        self.folder.record(path)
    }

    /// Carries out what a node's announcement of `path` calls for.
    async fn remote_change(&self, from: &str, path: &SharedPath, theirs: Record) -> bool {
        let Ok(addr) = self.peers.cluster().node(from).map(|n| n.peer_addr()) else {
            return false;
        };
        let ours = self.look_before_taking(path);
        let decision = decide(ours.as_ref(), &theirs, self.folder.me(), from);
        self.carry_out(from, Source::Peer(addr), path, ours, theirs, decision)
            .await
    }

    /// Reconciles with node `peer`: reads its records and carries out each
    /// decision. `true` if something changed here that peers should read.
    async fn pull(&self, peer: &str) -> bool {
        let Ok(addr) = self.peers.cluster().node(peer).map(|n| n.peer_addr()) else {
            return false;
        };
        let Some(records) = records_of(&self.peers, addr).await else {
            tracing::info!(%peer, "no records from the node; it reconciles when it starts");
            return false;
        };
        let mut changed_here = false;
        for (path, theirs) in records {
            let ours = self.look_before_taking(&path);
            let decision = decide(ours.as_ref(), &theirs, self.folder.me(), peer);
            changed_here |= self
                .carry_out(peer, Source::Peer(addr), &path, ours, theirs, decision)
                .await;
        }
        changed_here
    }

    /// Does what `decision` says for `path`, with `theirs`'s content from
    /// `source`; `true` if something changed here that peers should read.
    ///
    /// This is where a file conflict is resolved: the losing copy keeps a
    /// conflict name ([`SharedPath::conflict_name`]), here and on the peer.
    /// While `path` is locked here, a peer's update that would move content
    /// is held instead, as it came: it is decided again when the lock goes,
    /// against whatever the file is then.
    async fn carry_out(
        &self,
        peer: &str,
        source: Source<'_>,
        path: &SharedPath,
        ours: Option<Record>,
        theirs: Record,
        decision: Decision,
    ) -> bool {
        let moves_content = !matches!(decision, Decision::Keep | Decision::Merge { .. });
        if let Source::Peer(addr) = source
            && moves_content
            && self.desk().is_some_and(|desk| desk.is_locked(path))
        {
            self.hold_until_unlocked(peer, addr, path, theirs).await;
            return false;
        }
        match decision {
            Decision::Keep => false,
            Decision::Merge { version } => {
                if let Some(ours) = ours {
                    self.folder.put(path, Record { version, ..ours });
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
                let moved = self.folder.move_aside(path, &copy);
                if moved {
                    self.folder.observe(&copy);
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
                        self.folder.observe(&copy);
                        self.screen.line(format!(
                            "Files: {path} was changed here and on {peer}; ours keeps the name, {peer}'s is {copy}."
                        ));
                    }
                }
                if let Some(ours) = ours {
                    self.folder.put(path, Record { version, ..ours });
                }
                true
            }
        }
    }

    /// Puts `record`'s content of `path` at `target`: fetched from a peer,
    /// or moved from the held file it already waits in.
    ///
    /// When a peer's content replaces `path` itself, the file is looked at
    /// again right before the rename: a change made here since the decision
    /// (while the content was on its way) is folded in and announced
    /// instead, and the peer's version comes back to be decided against it.
    async fn place(
        &self,
        source: Source<'_>,
        path: &SharedPath,
        record: &Record,
        target: &SharedPath,
    ) -> Result<(), FetchError> {
        let root = self.folder.root();
        let unchanged = || {
            if target != path {
                return true;
            }
            match self.folder.observe(path) {
                Some(change) => {
                    self.report_local(&change, true);
                    false
                }
                None => true,
            }
        };
        match source {
            Source::Peer(addr) => {
                let from = FetchFrom {
                    peers: &self.peers,
                    metrics: &self.metrics,
                    addr,
                };
                content::fetch_into(from, root, (path, record), target, &unchanged).await
            }
            // A held update is decided when its lock goes, against the
            // file as it is then, and placed at once: no download between.
            Source::Held(file) => content::place_held(root, file.ok_or(FetchError::Gone)?, target),
        }
    }

    /// Applies `record` (from `peer`) to `path`: deletes, or puts the
    /// content in place; the index records it only once the folder matches.
    async fn take(&self, peer: &str, source: Source<'_>, path: &SharedPath, record: Record) {
        if record.deleted {
            match self.folder.delete(path) {
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
            self.folder.put(path, record);
            return;
        }
        match self.place(source, path, &record, path).await {
            Ok(()) => {
                self.folder.put(path, record);
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
    /// into a held file, and queued at the desk, to be decided when the
    /// lock goes.
    async fn hold_until_unlocked(
        &self,
        peer: &str,
        addr: SocketAddr,
        path: &SharedPath,
        record: Record,
    ) {
        let Some(desk) = self.desk() else {
            return;
        };
        // The same version again (a peer's records read once more after a
        // restart or a periodic reconciliation) is already waiting.
        if desk.holds_last(path, &record.version) {
            return;
        }
        let file = if record.deleted {
            None
        } else {
            let name = held_file_name();
            let fetched = match Place::own(self.folder.root(), &name) {
                Ok(place) => {
                    let from = FetchFrom {
                        peers: &self.peers,
                        metrics: &self.metrics,
                        addr,
                    };
                    content::fetch_to(from, path, &record, &place).await
                }
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
        // Its content goes into the shared lock book too, so the next
        // holder has it if this one dies.
        let content = match &file {
            Some(name) => match content::read_held(self.folder.root(), name) {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    tracing::info!(%path, %peer, "held update not read back: {e}");
                    self.folder.remove_own_file(name);
                    return;
                }
            },
            None => None,
        };
        let held = Held {
            from: peer.to_string(),
            record,
            file: file.clone(),
        };
        if desk.hold_update(path, held, content) {
            let waiting = desk.waiting_for(path);
            self.screen.line(format!(
                "Files: {path} is locked; {peer}'s update is held ({waiting} waiting)."
            ));
        } else if let Some(name) = file {
            self.folder.remove_own_file(&name);
        }
    }

    /// Carries out a lock request at the holder: the desk decides, and an
    /// unlock's held updates are applied here.
    async fn lock_request(&self, path: SharedPath, owner: &str, action: LockAction) -> FilesReply {
        let Some(desk) = self.desk() else {
            return FilesReply::NoFolder;
        };
        self.expire_locks().await;
        match action {
            LockAction::Lock => match desk.lock(&path, owner, Instant::now()) {
                Ok(done) => {
                    self.screen.line(format!(
                        "Files: {path} is locked by {}.",
                        convene_cluster::Untrusted(owner)
                    ));
                    FilesReply::LockDone(done)
                }
                Err(refused) => refused,
            },
            LockAction::Unlock | LockAction::ForceUnlock => {
                let force = action == LockAction::ForceUnlock;
                match desk.unlock(&path, owner, force) {
                    Ok(held) => {
                        let n = held.len();
                        self.release(&desk, &path, held).await;
                        FilesReply::LockDone(format!(
                            "Unlocked {path}; {n} held update{} applied.",
                            if n == 1 { "" } else { "s" }
                        ))
                    }
                    Err(refused) => refused,
                }
            }
        }
    }

    /// Applies the updates of every lease that has run out.
    async fn expire_locks(&self) {
        let Some(desk) = self.desk() else {
            return;
        };
        let expired = desk.expire(Instant::now());
        for (path, held) in expired {
            self.screen
                .line(format!("Files: the lock on {path} ran out."));
            self.release(&desk, &path, held).await;
        }
    }

    /// Weighs the held updates of `path`'s lock, just released, in arrival
    /// order, each against the file as it is by then; then the desk forgets
    /// the lock.
    async fn release(&self, desk: &LockDesk, path: &SharedPath, held: Vec<Held>) {
        let total = held.len();
        let mut changed_here = false;
        for (i, update) in held.into_iter().enumerate() {
            let file = update.file.as_deref();
            let ours = self.look_before_taking(path);
            let decision = decide(
                ours.as_ref(),
                &update.record,
                self.folder.me(),
                &update.from,
            );
            changed_here |= self
                .carry_out(
                    &update.from,
                    Source::Held(file),
                    path,
                    ours,
                    update.record,
                    decision,
                )
                .await;
            self.screen.line(format!(
                "Files: applied {}'s held update of {path} ({} of {total}).",
                update.from,
                i + 1
            ));
            // Not moved into place (ours was newer, or the same): done with.
            if let Some(name) = file {
                self.folder.remove_own_file(name);
            }
        }
        desk.finish_release(path);
        if changed_here {
            hello_all(&self.peers);
        }
    }
}
