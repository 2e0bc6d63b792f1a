//! [`Files`]: what a node's web front asks of the files service, in the
//! same process, on behalf of a person it has authenticated. The service
//! then speaks to the other nodes over the peer transport as usual: the
//! composite listing gathers every folder, and a lock request goes to the
//! lock holder naming the authenticated account as its owner.

use std::sync::Arc;

use tracing::Instrument;

use super::files_node::FilesNode;
use super::observe;
use crate::listing::Entry;
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, LockAction, LockView, Refusal};

/// A node's files service, for its web front. Cheap to clone.
#[derive(Clone)]
pub struct Files {
    node: Arc<FilesNode>,
}

/// The composite listing of every files node's folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// One entry per name, sorted by name (numbered from 0 in this order).
    pub entries: Vec<Entry>,
    /// Nodes that did not answer: their files may be missing.
    pub missing: Vec<String>,
    /// The files locked at the lock holder.
    pub locked: Vec<SharedPath>,
}

/// What became of a lock request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockOutcome {
    /// Done; what happened, for the person.
    Done(String),
    /// The lock holder refused; why, for the person.
    Refused(Refusal, String),
    /// The lock holder's queue is full: try again shortly.
    Busy,
    /// The lock holder could not be asked (down, none, or failing); why.
    Unavailable(String),
}

impl Files {
    pub(super) fn new(node: Arc<FilesNode>) -> Files {
        Files { node }
    }

    /// How much work waits in the service's queues now (for the node's
    /// metrics).
    pub fn queue_depths(&self) -> super::QueueDepths {
        self.node.queue_depths()
    }

    /// Every files node's folder, merged, as `convene files ls` shows it.
    pub async fn listing(&self) -> Listing {
        let (entries, missing, locked) = self.node.composite().await;
        Listing {
            entries,
            missing,
            locked,
        }
    }

    /// Locks, unlocks or breaks the lock on `path` for `owner`: an account
    /// the caller has authenticated, or [`OPERATOR`](crate::peer_msg::OPERATOR).
    ///
    /// Counted as a request at door `web` (see the `observe` module).
    pub async fn lock(&self, path: SharedPath, owner: &str, action: LockAction) -> LockOutcome {
        let observed = self
            .node
            .begin(observe::WEB, observe::lock_kind(action), None);
        let reply = self
            .node
            .lock(path, owner.to_string(), action)
            .instrument(observed.span().clone())
            .await;
        observed.finish(observe::reply_outcome(&reply));
        match reply {
            FilesReply::LockDone(what) => LockOutcome::Done(what),
            FilesReply::Refused(refusal, why) => LockOutcome::Refused(refusal, why),
            FilesReply::Busy => LockOutcome::Busy,
            FilesReply::Failed(why) => LockOutcome::Unavailable(why),
            FilesReply::NoFolder => {
                LockOutcome::Unavailable("the lock holder shares no folder".into())
            }
            other => {
                tracing::warn!(?other, "unexpected answer to a lock request");
                LockOutcome::Unavailable("the lock holder gave an unexpected answer".into())
            }
        }
    }

    /// The lock on `path` (its owner, and the updates from other nodes
    /// waiting for it), `Ok(None)` if it is not locked, or why the lock
    /// holder could not be asked.
    pub async fn lock_view(&self, path: SharedPath) -> Result<Option<LockView>, String> {
        match self.node.lock_of(path).await {
            FilesReply::Lock(view) => Ok(Some(view)),
            FilesReply::Refused(Refusal::NotLocked, _) => Ok(None),
            FilesReply::Failed(why) => Err(why),
            FilesReply::Busy => Err("the lock holder is busy; try again shortly".into()),
            other => {
                tracing::warn!(?other, "unexpected answer to a lock question");
                Err("the lock holder gave an unexpected answer".into())
            }
        }
    }

    /// How many requests this node refused because its sync queue was full
    /// (each sender was told to send again later).
    pub fn busy_refusals(&self) -> u64 {
        self.node.busy_refusals()
    }
}
