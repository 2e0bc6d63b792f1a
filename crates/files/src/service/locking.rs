//! Locks at the lock holder (lab 3): while a file is locked, updates to it
//! from other nodes are held, first in first out, and weighed in arrival
//! order when it is unlocked (or its lease runs out), each as if it arrived
//! then: an edit made on the holder during the lock is one side of a
//! conflict, never overwritten.
//!
//! A held update keeps its content: the holder fetches it when the update
//! arrives, into a `.convene-held-…` file in the shared folder (a name the
//! walk, the listing and the watcher never show), because by unlock time the
//! sender may have changed the file again and no longer have that version.
//! Locks and held updates are written to the store as they happen, so a
//! restart of the holder loses neither; a lease that ran out while the
//! holder was down is applied at once when it comes back.
//!
//! A lock belongs to the account that asked for it, as the web node that
//! authenticated the person says (`owner` in the request; never a name the
//! person chose). Its owner may unlock it; the owner, an account listed in
//! the cluster file's `admins`, or the operator (who holds the cluster
//! secret) may break it (`--force`). Everyone else is refused, told whose it
//! is. An account holds at most `limits.locks_per_account` locks.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_store::files::LockRow;
use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use std::sync::Arc;

use super::FilesNode;
use super::sync::{Source, Sync};
use crate::beneath::Folder;
use crate::files_msg::{FilesReply, LockAction, OPERATOR, Refusal};
use crate::locks::{LockError, LockTable, SavedLock};
use crate::path::{RESERVED_PREFIX, SharedPath};
use crate::plan::{Record, decide};

/// An update held for a locked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    /// The node it came from.
    pub from: String,
    /// Its record.
    pub record: Record,
    /// Where its content waits in the folder (none for a deletion).
    pub file: Option<String>,
}

impl Encode for Held {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_string(&self.from);
        self.record.encode(out);
        out.put_string(self.file.as_deref().unwrap_or(""));
    }
}

impl Decode<'_> for Held {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let from = r.string_max(64)?.to_string();
        let record = Record::decode(r)?;
        let file = r.string_max(64)?;
        if !file.is_empty() && !is_held_file_name(file) {
            return Err(DecodeError::Invalid("held file name"));
        }
        Ok(Held {
            from,
            record,
            file: (!file.is_empty()).then(|| file.to_string()),
        })
    }
}

/// A held update's file name: `.convene-held-` and 16 hex digits, in the
/// folder itself (nothing that could lead elsewhere), from the OS random
/// source (no one can guess it ahead).
pub(super) fn held_file_name() -> String {
    format!(
        "{RESERVED_PREFIX}held-{:016x}",
        convene_rpc::os_random_u64()
    )
}

fn is_held_file_name(name: &str) -> bool {
    name.strip_prefix(RESERVED_PREFIX)
        .and_then(|rest| rest.strip_prefix("held-"))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The holder's locks as the store kept them; a lease that ran out while
/// the node was down comes back expired, to be applied at once.
pub(crate) fn restore(store: &convene_store::Store) -> LockTable<SharedPath, Held> {
    let now = Instant::now();
    let rows = store.file_locks().unwrap_or_default();
    let mut entries = Vec::new();
    for row in rows {
        let Ok(path) = SharedPath::parse(&row.path) else {
            continue;
        };
        let held: Vec<Held> = store
            .held_file_updates(&row.path)
            .unwrap_or_default()
            .iter()
            .filter_map(|bytes| Held::from_bytes(bytes).ok())
            .collect();
        let remaining =
            Duration::from_millis(row.expires_ms.saturating_sub(now_ms()).max(0) as u64);
        let saved = SavedLock {
            owner: row.owner,
            remaining,
            held_for: Duration::ZERO,
        };
        entries.push((path, saved, held));
    }
    LockTable::restore(entries, now).unwrap_or_default()
}

impl Sync {
    /// Paths locked here.
    pub fn locked_paths(&self) -> Vec<SharedPath> {
        self.locks().locked().map(|(p, _)| p.clone()).collect()
    }

    /// Whether `path` is locked here.
    pub(super) fn is_locked(&self, path: &SharedPath) -> bool {
        self.locks().is_locked(path)
    }

    /// Queues a held update (already fetched) for locked `path`, in memory
    /// and in the store; `false` if the lock went meanwhile.
    pub(super) fn hold(&self, path: &SharedPath, held: Held) -> bool {
        let bytes = held.to_bytes();
        if self.locks().hold(path, held).is_err() {
            return false;
        }
        if let Err(e) = self.store().hold_file_update(path.as_str(), &bytes) {
            tracing::warn!(%path, "cannot store the held update: {e}");
        }
        true
    }
}

impl FilesNode {
    /// Carries out a lock request at the holder.
    pub(super) async fn lock_request(
        self: &Arc<Self>,
        path: SharedPath,
        owner: &str,
        action: LockAction,
    ) -> FilesReply {
        let Some(sync) = self.sync.as_ref() else {
            return FilesReply::NoFolder;
        };
        self.expire_locks().await;
        let now = Instant::now();
        match action {
            LockAction::Lock => {
                let result = sync.locks().lock(path.clone(), owner, now, sync.lease);
                match result {
                    Ok(info) => {
                        let expires_ms = now_ms() + info.remaining(now).as_millis() as i64;
                        let row = LockRow {
                            path: path.as_str().to_string(),
                            owner: owner.to_string(),
                            expires_ms,
                        };
                        if let Err(e) = sync.store().put_file_lock(&row) {
                            return FilesReply::Failed(format!("cannot store the lock: {e}"));
                        }
                        self.screen.line(format!(
                            "Files: {path} is locked by {}.",
                            convene_cluster::Untrusted(owner)
                        ));
                        FilesReply::LockDone(format!(
                            "Locked {path} (for {} s unless renewed).",
                            sync.lease.as_secs()
                        ))
                    }
                    Err(e) => refused(format!("cannot lock {path}"), e, ""),
                }
            }
            LockAction::Unlock | LockAction::ForceUnlock => {
                let may_break =
                    owner == OPERATOR || self.peers.cluster().admins.iter().any(|a| a == owner);
                let released = {
                    let mut locks = sync.locks();
                    match (action, locks.get(&path)) {
                        (LockAction::ForceUnlock, Some(lock))
                            if lock.owner != owner && !may_break =>
                        {
                            let by = lock.owner.clone();
                            return FilesReply::Refused(
                                Refusal::NotOwner,
                                format!(
                                    "cannot break the lock on {path}: it belongs to {by}, and only {by} or an admin (admins in the cluster file) may break it"
                                ),
                            );
                        }
                        (LockAction::ForceUnlock, _) => locks.force_unlock(&path),
                        _ => locks.unlock(&path, owner),
                    }
                };
                match released {
                    Ok(held) => {
                        let n = held.len();
                        self.release(&path, held).await;
                        FilesReply::LockDone(format!(
                            "Unlocked {path}; {n} held update{} applied.",
                            if n == 1 { "" } else { "s" }
                        ))
                    }
                    Err(e) => {
                        let hint = if may_break && matches!(e, LockError::NotOwner { .. }) {
                            "; as an admin you may break it with --force"
                        } else {
                            ""
                        };
                        refused(format!("cannot unlock {path}"), e, hint)
                    }
                }
            }
        }
    }

    /// Applies the updates of every lease that has run out.
    pub(super) async fn expire_locks(self: &Arc<Self>) {
        let Some(sync) = self.sync.as_ref() else {
            return;
        };
        let expired = sync.locks().expire(Instant::now());
        for (path, held) in expired {
            self.screen
                .line(format!("Files: the lock on {path} ran out."));
            self.release(&path, held).await;
        }
    }

    /// Forgets the lock on `path` and weighs its held updates in arrival
    /// order, each against the file as it is by then.
    async fn release(self: &Arc<Self>, path: &SharedPath, held: Vec<Held>) {
        let Some(sync) = self.sync.as_ref() else {
            return;
        };
        let total = held.len();
        let mut changed_here = false;
        for (i, update) in held.into_iter().enumerate() {
            let file = update.file.as_deref();
            let ours = self.look_before_taking(path);
            let decision = decide(ours.as_ref(), &update.record, &sync.me, &update.from);
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
                let _ = Folder::root(&sync.root).and_then(|root| root.remove_file(name));
            }
        }
        if let Err(e) = sync.store().clear_held_file_updates(path.as_str()) {
            tracing::warn!(%path, "cannot clear the held updates: {e}");
        }
        if let Err(e) = sync.store().remove_file_lock(path.as_str()) {
            tracing::warn!(%path, "cannot remove the lock: {e}");
        }
        if changed_here {
            self.hello_all();
        }
    }
}

/// The refusal of `what` for `error`, as the person reads it, then `hint`.
fn refused(what: String, error: LockError, hint: &str) -> FilesReply {
    let refusal = match error {
        LockError::Held { .. } | LockError::Lapsed { .. } => Refusal::Held,
        LockError::NotOwner { .. } => Refusal::NotOwner,
        LockError::NotLocked => Refusal::NotLocked,
        LockError::TooMany { .. } => Refusal::TooManyLocks,
        LockError::ZeroLease | LockError::LeaseTooLong { .. } => {
            return FilesReply::Failed(format!("{what}: {error}"));
        }
    };
    FilesReply::Refused(refusal, format!("{what}: {error}{hint}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::VersionVector;

    #[test]
    fn held_updates_round_trip_and_refuse_other_file_names() {
        let held = Held {
            from: "B".into(),
            record: Record {
                version: VersionVector::from_counters([("B", 2)]),
                deleted: false,
                size: 3,
                modified_ns: 7,
                checksum: 9,
                baseline: false,
            },
            file: Some(".convene-held-00000000000000ff".into()),
        };
        assert_eq!(Held::from_bytes(&held.to_bytes()), Ok(held.clone()));
        let deletion = Held {
            file: None,
            ..held.clone()
        };
        assert_eq!(Held::from_bytes(&deletion.to_bytes()), Ok(deletion));
        for name in [
            "../../etc/passwd",
            ".convene-/../../x",
            ".convene-held-/../../x",
            ".convene-held-00ff",
            ".convene-tmp-00000000000000ff",
        ] {
            let escape = Held {
                file: Some(name.into()),
                ..held.clone()
            };
            assert!(Held::from_bytes(&escape.to_bytes()).is_err(), "{name}");
        }
        assert!(is_held_file_name(&held_file_name()));
    }
}
