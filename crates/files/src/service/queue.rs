//! The sync task's work, in two queues that differ in what happens when
//! too much arrives.
//!
//! **What others send** (a peer's announcement of a file, a lock request at
//! the lock holder) waits in a bounded queue of `limits.sync_queue` items.
//! When it is full the request is refused at once with [`FilesReply::Busy`]:
//! the sender still has what it sent and tries again later (an announcing
//! node does so by itself; a person is told to). So a flood of requests
//! cannot grow the node's memory, and nothing is silently dropped.
//!
//! **What this node notices itself** (paths the OS watcher reports, new
//! folders to look at again, reconciliations to run, the periodic rescan)
//! has nobody to send it again, so it is never refused. It is coalesced
//! instead: paths into a set, reconciliations by node, the rescan into one
//! flag, so a burst of a thousand events about one file is one look at it.
//! When the paths would outgrow the same limit, the set is dropped for one
//! rescan of the whole folder, which finds every change those paths held
//! (it compares the folder with the index), in memory that does not grow.
//!
//! A leaf: it knows the work's shape ([`Work`]), not who does it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, mpsc, oneshot};

use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, LockAction};
use crate::plan::Record;

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
        action: LockAction,
        /// Where the answer goes.
        reply: oneshot::Sender<FilesReply>,
    },
}

/// The bounded queue is full: try again later.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Full;

/// Both queues. The sync task takes the receiving side once.
pub(crate) struct WorkQueue {
    sent: mpsc::Sender<Work>,
    receiver: Mutex<Option<mpsc::Receiver<Work>>>,
    noticed: Arc<Noticed>,
}

impl WorkQueue {
    /// Queues holding at most `limit` sent items and `limit` noticed paths.
    pub fn new(limit: usize) -> WorkQueue {
        let (sent, receiver) = mpsc::channel(limit.max(1));
        WorkQueue {
            sent,
            receiver: Mutex::new(Some(receiver)),
            noticed: Arc::new(Noticed {
                state: Mutex::new(Pending::default()),
                wake: Notify::new(),
                limit: limit.max(1),
            }),
        }
    }

    /// Queues work sent by others, unless the queue is full.
    pub fn offer(&self, work: Work) -> Result<(), Full> {
        self.sent.try_send(work).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => Full,
            // Closed: the node is stopping; nobody will do it, and the
            // sender will find this node again when it is back.
            mpsc::error::TrySendError::Closed(_) => Full,
        })
    }

    /// How many items others sent wait in the bounded queue now (a
    /// moment's reading, for the node's metrics).
    pub fn depth(&self) -> usize {
        self.sent.max_capacity() - self.sent.capacity()
    }

    /// The receiving side of the sent work (once; `None` after).
    pub fn take_receiver(&self) -> Option<mpsc::Receiver<Work>> {
        self.receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Where this node's own observations go (shared with the watcher's
    /// thread).
    pub fn noticed(&self) -> &Arc<Noticed> {
        &self.noticed
    }
}

/// What this node noticed and has not handled yet, coalesced.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Pending {
    /// Nodes to reconcile with.
    pub pulls: BTreeSet<String>,
    /// Paths the watcher saw change (files or folders).
    pub changed: BTreeSet<PathBuf>,
    /// New folders to look at again a moment after they appeared: a file
    /// moved into a folder before the OS watched it raises no event.
    pub recheck: BTreeSet<PathBuf>,
    /// Walk the whole folder (covers `changed` and `recheck`).
    pub rescan: bool,
}

/// The coalescing queue of what this node noticed.
pub(crate) struct Noticed {
    state: Mutex<Pending>,
    wake: Notify,
    limit: usize,
}

impl Noticed {
    fn state(&self) -> MutexGuard<'_, Pending> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The watcher saw `paths` change.
    pub fn changed(&self, paths: impl IntoIterator<Item = PathBuf>) {
        self.add_paths(paths, |p| &mut p.changed);
    }

    /// Folders to look at again in a moment.
    pub fn recheck(&self, paths: impl IntoIterator<Item = PathBuf>) {
        self.add_paths(paths, |p| &mut p.recheck);
    }

    fn add_paths(
        &self,
        paths: impl IntoIterator<Item = PathBuf>,
        set: impl Fn(&mut Pending) -> &mut BTreeSet<PathBuf>,
    ) {
        {
            let mut pending = self.state();
            if !pending.rescan {
                set(&mut pending).extend(paths);
                if pending.changed.len() + pending.recheck.len() > self.limit {
                    tracing::info!(
                        limit = self.limit,
                        "more changed paths than the sync queue holds: the folder is walked instead"
                    );
                    pending.changed.clear();
                    pending.recheck.clear();
                    pending.rescan = true;
                }
            }
        }
        self.wake.notify_one();
    }

    /// Reconcile with node `node`.
    pub fn pull(&self, node: &str) {
        self.state().pulls.insert(node.to_string());
        self.wake.notify_one();
    }

    /// Walk the whole folder.
    pub fn rescan(&self) {
        let mut pending = self.state();
        pending.changed.clear();
        pending.recheck.clear();
        pending.rescan = true;
        drop(pending);
        self.wake.notify_one();
    }

    /// Everything noticed so far; the queue is empty after.
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *self.state())
    }

    /// Resolves when something may have been noticed since the last wait.
    pub async fn wait(&self) {
        self.wake.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock_work() -> Work {
        let (reply, _) = oneshot::channel();
        Work::Lock {
            path: SharedPath::parse("a.txt").unwrap(),
            owner: "ana".into(),
            action: LockAction::Lock,
            reply,
        }
    }

    #[tokio::test]
    async fn sent_work_is_refused_when_full_and_taken_again_once_there_is_room() {
        let queue = WorkQueue::new(2);
        assert_eq!(queue.offer(lock_work()), Ok(()));
        assert_eq!(queue.offer(lock_work()), Ok(()));
        assert_eq!(queue.offer(lock_work()), Err(Full));
        let mut receiver = queue.take_receiver().unwrap();
        assert!(queue.take_receiver().is_none(), "taken once");
        assert!(receiver.recv().await.is_some());
        assert_eq!(queue.offer(lock_work()), Ok(()), "room again");
    }

    #[tokio::test]
    async fn noticed_paths_are_coalesced_never_refused() {
        let queue = WorkQueue::new(3);
        let noticed = queue.noticed().clone();
        for _ in 0..1000 {
            noticed.changed([PathBuf::from("/f/a.txt")]);
        }
        noticed.recheck([PathBuf::from("/f/new")]);
        noticed.pull("B");
        noticed.pull("B");
        // A wake-up is waiting for the task.
        tokio::time::timeout(std::time::Duration::from_secs(1), noticed.wait())
            .await
            .unwrap();
        let pending = noticed.take();
        assert_eq!(pending.changed, BTreeSet::from([PathBuf::from("/f/a.txt")]));
        assert_eq!(pending.recheck, BTreeSet::from([PathBuf::from("/f/new")]));
        assert_eq!(pending.pulls, BTreeSet::from(["B".to_string()]));
        assert!(!pending.rescan);
        assert_eq!(noticed.take(), Pending::default());
    }

    #[test]
    fn too_many_noticed_paths_become_one_rescan() {
        let queue = WorkQueue::new(3);
        let noticed = queue.noticed();
        noticed.changed((0..3).map(|i| PathBuf::from(format!("/f/{i}"))));
        assert!(!noticed.state().rescan);
        noticed.recheck([PathBuf::from("/f/dir")]);
        let pending = noticed.take();
        assert!(pending.rescan);
        assert!(pending.changed.is_empty() && pending.recheck.is_empty());
        // While a rescan is pending, paths add nothing it would not find.
        noticed.rescan();
        noticed.changed([PathBuf::from("/f/x")]);
        assert_eq!(
            noticed.take(),
            Pending {
                rescan: true,
                ..Pending::default()
            }
        );
    }
}
