//! [`LockDesk`]: the lock holder's side of locks (lab 3). It owns the
//! [`LockTable`] and the table's rows in the store, and decides every lock
//! request: who may lock, unlock or break, and what is refused and why.
//!
//! While a file is locked, updates to it from other nodes are held, first
//! in first out ([`Held`]), and handed back in arrival order when it is
//! unlocked (or its lease runs out). The desk does not apply them: the
//! [sync task](super::synchronizer) weighs each as if it arrived then, so
//! an edit made on the holder during the lock is one side of a conflict,
//! never overwritten. Once they are applied the sync task says so
//! ([`finish_release`](LockDesk::finish_release)) and the desk forgets the
//! lock in the store.
//!
//! Locks and held updates are written to the store as they happen, so a
//! restart of the holder loses neither; a lease that ran out while the
//! holder was down comes back expired, to be applied at once.
//!
//! A lock belongs to the account that asked for it, as the web node that
//! authenticated the person says (`owner` in the request; never a name the
//! person chose). Its owner may unlock it; the owner, an account listed in
//! the cluster file's `admins`, or the operator (who holds the cluster
//! secret) may break it (`--force`). Everyone else is refused, told whose it
//! is. An account holds at most `limits.locks_per_account` locks.
//!
//! No network and no task: every call that depends on time takes `now`.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_store::Store;
use convene_store::files::LockRow;
use convene_wire::{Decode, Encode};

use super::held::Held;
use crate::locks::{LockError, LockTable, SavedLock};
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, OPERATOR, Refusal};
use crate::version::VersionVector;

/// The lock holder's locks, their held updates, and their rows in the store.
pub(crate) struct LockDesk {
    table: Mutex<LockTable<SharedPath, Held>>,
    store: Arc<Store>,
    /// How long a lock lasts unless renewed.
    lease: Duration,
    /// Accounts that may break anyone's lock (the cluster file's `admins`).
    admins: Vec<String>,
}

impl LockDesk {
    /// The desk with the locks as the store kept them (a lease that ran out
    /// while the node was down comes back expired, to be applied at once).
    /// A lock lasts `lease` unless renewed; an account holds at most
    /// `per_account` locks; `admins` may break anyone's.
    pub fn restore(
        store: Arc<Store>,
        lease: Duration,
        per_account: usize,
        admins: Vec<String>,
        now: Instant,
    ) -> LockDesk {
        let table = restore(&store, now).with_owner_limit(per_account);
        LockDesk {
            table: Mutex::new(table),
            store,
            lease,
            admins,
        }
    }

    fn table(&self) -> MutexGuard<'_, LockTable<SharedPath, Held>> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Paths locked here.
    pub fn locked_paths(&self) -> Vec<SharedPath> {
        self.table().locked().map(|(p, _)| p.clone()).collect()
    }

    /// Whether `path` is locked.
    pub fn is_locked(&self, path: &SharedPath) -> bool {
        self.table().is_locked(path)
    }

    /// When the next lease runs out, if any.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.table().next_expiry()
    }

    /// Whether the last update held for `path` is already `version` (a
    /// peer's records read again after a restart or a periodic
    /// reconciliation bring the same version once more).
    pub fn holds_last(&self, path: &SharedPath, version: &VersionVector) -> bool {
        self.table()
            .last_held(path)
            .is_some_and(|last| &last.record.version == version)
    }

    /// How many updates wait for `path`'s lock.
    pub fn waiting_for(&self, path: &SharedPath) -> usize {
        self.table().queued_for(path)
    }

    /// Queues a held update (its content already fetched) for locked
    /// `path`, in memory and in the store; `false` if the lock went
    /// meanwhile (the caller then applies it, or drops its file).
    pub fn hold_update(&self, path: &SharedPath, held: Held) -> bool {
        let bytes = held.to_bytes();
        if self.table().hold(path, held).is_err() {
            return false;
        }
        if let Err(e) = self.store.hold_file_update(path.as_str(), &bytes) {
            tracing::warn!(%path, "cannot store the held update: {e}");
        }
        true
    }

    /// Locks `path` for `owner`, or renews their lock, and stores it: what
    /// to tell them, or the refusal. Expired leases must have been
    /// collected first ([`expire`](LockDesk::expire)).
    pub fn lock(&self, path: &SharedPath, owner: &str, now: Instant) -> Result<String, FilesReply> {
        let result = self.table().lock(path.clone(), owner, now, self.lease);
        match result {
            Ok(info) => {
                let expires_ms = now_ms() + info.remaining(now).as_millis() as i64;
                let row = LockRow {
                    path: path.as_str().to_string(),
                    owner: owner.to_string(),
                    expires_ms,
                };
                if let Err(e) = self.store.put_file_lock(&row) {
                    return Err(FilesReply::Failed(format!("cannot store the lock: {e}")));
                }
                Ok(format!(
                    "Locked {path} (for {} s unless renewed).",
                    self.lease.as_secs()
                ))
            }
            Err(e) => Err(refused(format!("cannot lock {path}"), e, "")),
        }
    }

    /// Unlocks `path` for `owner`, or with `force` breaks the lock (if
    /// `owner` owns it, is an admin or is the operator): the held updates,
    /// in arrival order, to apply and then
    /// [`finish_release`](LockDesk::finish_release); or the refusal.
    pub fn unlock(
        &self,
        path: &SharedPath,
        owner: &str,
        force: bool,
    ) -> Result<Vec<Held>, FilesReply> {
        let may_break = owner == OPERATOR || self.admins.iter().any(|a| a == owner);
        let released = {
            let mut table = self.table();
            match (force, table.get(path)) {
                (true, Some(lock)) if lock.owner != owner && !may_break => {
                    let by = lock.owner.clone();
                    return Err(FilesReply::Refused(
                        Refusal::NotOwner,
                        format!(
                            "cannot break the lock on {path}: it belongs to {by}, and only {by} or an admin (admins in the cluster file) may break it"
                        ),
                    ));
                }
                (true, _) => table.force_unlock(path),
                (false, _) => table.unlock(path, owner),
            }
        };
        released.map_err(|e| {
            let hint = if may_break && matches!(e, LockError::NotOwner { .. }) {
                "; as an admin you may break it with --force"
            } else {
                ""
            };
            refused(format!("cannot unlock {path}"), e, hint)
        })
    }

    /// Every lease that has run out by `now`, with its held updates in
    /// arrival order, to apply and then
    /// [`finish_release`](LockDesk::finish_release).
    pub fn expire(&self, now: Instant) -> Vec<(SharedPath, Vec<Held>)> {
        self.table().expire(now)
    }

    /// Forgets `path`'s lock and held updates in the store, once the held
    /// updates a release handed back have been applied.
    pub fn finish_release(&self, path: &SharedPath) {
        if let Err(e) = self.store.clear_held_file_updates(path.as_str()) {
            tracing::warn!(%path, "cannot clear the held updates: {e}");
        }
        if let Err(e) = self.store.remove_file_lock(path.as_str()) {
            tracing::warn!(%path, "cannot remove the lock: {e}");
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The locks as the store kept them, at `now`.
fn restore(store: &Store, now: Instant) -> LockTable<SharedPath, Held> {
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
mod tests;
