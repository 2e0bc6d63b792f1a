//! [`LockDesk`]: the lock holder's side of locks (lab 3). It owns the
//! [`LockTable`] and the table's rows in the shared [`LockBook`](super::lock_book::LockBook), and decides every lock
//! request: who may lock, unlock or break, and what is refused and why.
//!
//! While a file is locked, updates to it from other nodes are held, first
//! in first out ([`Held`]), and handed back in arrival order when it is
//! unlocked (or its lease runs out). The desk does not apply them: the
//! [sync task](super::synchronizer) weighs each as if it arrived then, so
//! an edit made on the holder during the lock is one side of a conflict,
//! never overwritten. Once they are applied the sync task says so
//! ([`finish_release`](LockDesk::finish_release)) and the desk forgets the
//! lock in the book.
//!
//! Locks and held updates are written to the cluster's shared
//! [`LockBook`](super::lock_book::LockBook) before anyone is told, each write carrying the desk's
//! fencing token: a restart of the holder, or the role moving to another
//! node, loses neither, and a desk whose token is no longer current is
//! refused and marks itself [`stale`](LockDesk::is_stale) (the role then
//! builds a fresh one, or none). A lease that ran out while no holder was
//! up comes back expired, to be applied at once; so does a lock released
//! whose updates were not yet applied.
//!
//! A lock belongs to the account that asked for it, as the web node that
//! authenticated the person says (`owner` in the request; never a name the
//! person chose). Its owner may unlock it; the owner, an account listed in
//! the cluster file's `admins`, or the operator (who holds the cluster
//! secret) may break it (`--force`). Everyone else is refused, told whose it
//! is. An account holds at most `limits.locks_per_account` locks.
//!
//! No network and no task: every call that depends on time takes `now`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use convene_wire::{Decode, Encode};

use super::held::Held;
use super::lock_book::{BookError, BookHeld, BookLock, LockBookDb};
use crate::locks::{LockError, LockTable, SavedLock};
use crate::path::SharedPath;
use crate::peer_msg::{FilesReply, LockView, MAX_HELD_SHOWN, OPERATOR, Refusal};
use crate::version::VersionVector;

/// The lock holder's locks, their held updates, and their rows in the
/// shared book.
pub(crate) struct LockDesk {
    table: Mutex<LockTable<SharedPath, Held>>,
    book: Arc<dyn LockBookDb>,
    /// The fencing token this desk writes with.
    token: u64,
    /// A write was refused or failed: the table may differ from the book,
    /// so the desk takes no more requests and is replaced.
    stale: AtomicBool,
    /// How long a lock lasts unless renewed.
    lease: Duration,
    /// Accounts that may break anyone's lock (the cluster file's `admins`).
    admins: Vec<String>,
}

impl LockDesk {
    /// The desk of holder `token` with the locks as the book keeps them
    /// (a lease that ran out while no holder was up comes back expired, to
    /// be applied at once). Each held update's content is handed to
    /// `materialize` to be put back in its file, in this node's folder. A
    /// lock lasts `lease` unless renewed; an account holds at most
    /// `per_account` locks; `admins` may break anyone's.
    pub fn restore(
        book: Arc<dyn LockBookDb>,
        token: u64,
        limits: DeskLimits,
        now: Instant,
        materialize: &mut dyn FnMut(&Held, &[u8]),
    ) -> Result<LockDesk, BookError> {
        let table = restore(book.as_ref(), now, materialize)?.with_owner_limit(limits.per_account);
        Ok(LockDesk {
            table: Mutex::new(table),
            book,
            token,
            stale: AtomicBool::new(false),
            lease: limits.lease,
            admins: limits.admins,
        })
    }

    /// The fencing token this desk writes with.
    pub fn token(&self) -> u64 {
        self.token
    }

    /// Whether a write was refused or failed, so the desk must be replaced.
    pub fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// Notes a write that did not happen: fenced (another node holds the
    /// locks) or failed; the desk takes nothing more.
    fn written(&self, what: &str, result: Result<(), BookError>) -> Result<(), FilesReply> {
        result.map_err(|e| {
            self.stale.store(true, Ordering::Relaxed);
            tracing::warn!("cannot store {what}: {e}");
            FilesReply::Failed(format!("cannot store {what}: {e}; try again"))
        })
    }

    /// Marks the desk stale, so the role builds a fresh one from the book
    /// at its next look.
    pub fn mark_stale(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    /// Copies a lock and its held updates, as an older Convene kept them
    /// in the holder's own store, into the book, unless the book has a
    /// lock on that file already; `true` if copied. The desk's table does
    /// not have it until it is built again ([`mark_stale`](Self::mark_stale)).
    pub fn import(&self, lock: &BookLock, held: &[BookHeld]) -> Result<bool, BookError> {
        if self.book.locks()?.iter().any(|l| l.path == lock.path) {
            return Ok(false);
        }
        self.book.put_lock(self.token, lock)?;
        for update in held {
            self.book.hold(self.token, &lock.path, update)?;
        }
        Ok(true)
    }

    /// Refuses every request once the desk is stale.
    fn check_fresh(&self) -> Result<(), FilesReply> {
        if self.is_stale() {
            return Err(FilesReply::Failed(
                "this node is handing the locks over; try again".into(),
            ));
        }
        Ok(())
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

    /// The lock on `path` as a person should see it, if it is locked.
    pub fn view(&self, path: &SharedPath, now: Instant) -> Option<LockView> {
        let table = self.table();
        let info = table.get(path)?;
        let held = table.held(path);
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Some(LockView {
            owner: info.owner.clone(),
            locked_ms: ms(info.held_for(now)),
            left_ms: ms(info.remaining(now)),
            held: u32::try_from(held.len()).unwrap_or(u32::MAX),
            held_from: held
                .iter()
                .take(MAX_HELD_SHOWN)
                .map(|h| h.from.clone())
                .collect(),
        })
    }

    /// How many updates wait for `path`'s lock.
    pub fn waiting_for(&self, path: &SharedPath) -> usize {
        self.table().queued_for(path)
    }

    /// Queues a held update for locked `path`, with its `content` (already
    /// fetched; none for a deletion), in the book and in memory; `false` if
    /// the lock went meanwhile or the book refused (the caller then drops
    /// its file: the new holder reads the sender's records itself).
    pub fn hold_update(&self, path: &SharedPath, held: Held, content: Option<Vec<u8>>) -> bool {
        if self.is_stale() || !self.table().is_locked(path) {
            return false;
        }
        let row = BookHeld {
            update: held.to_bytes(),
            content,
        };
        match self.book.hold(self.token, path.as_str(), &row) {
            Ok(true) => {}
            Ok(false) => {
                // The book has no such lock although the table has: the
                // table is out of date, so the desk is built again.
                self.mark_stale();
                return false;
            }
            Err(e) => {
                let _ = self.written("the held update", Err(e));
                return false;
            }
        }
        // Only the sync task changes the table, so the lock is still there.
        self.table().hold(path, held).is_ok()
    }

    /// Locks `path` for `owner`, or renews their lock, and stores it: what
    /// to tell them, or the refusal. Expired leases must have been
    /// collected first ([`expire`](LockDesk::expire)).
    pub fn lock(&self, path: &SharedPath, owner: &str, now: Instant) -> Result<String, FilesReply> {
        self.check_fresh()?;
        let result = self.table().lock(path.clone(), owner, now, self.lease);
        match result {
            Ok(info) => {
                let expires_ms = now_ms() + info.remaining(now).as_millis() as i64;
                let row = BookLock {
                    path: path.as_str().to_string(),
                    owner: owner.to_string(),
                    expires_ms,
                };
                // Stored (and fenced) before anyone is told.
                self.written("the lock", self.book.put_lock(self.token, &row))?;
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
        self.check_fresh()?;
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
        let held = released.map_err(|e| {
            let hint = if may_break && matches!(e, LockError::NotOwner { .. }) {
                "; as an admin you may break it with --force"
            } else {
                ""
            };
            refused(format!("cannot unlock {path}"), e, hint)
        })?;
        // Released in the book before anyone is told; its held updates stay
        // there until applied, so a holder that dies meanwhile leaves them
        // to the next, which applies them at once.
        self.written(
            "the unlock",
            self.book.release_lock(self.token, path.as_str()),
        )?;
        Ok(held)
    }

    /// How many files are locked, and how many updates wait behind their
    /// locks in all (read-only, for the node's metrics).
    pub fn depths(&self) -> (usize, usize) {
        let table = self.table();
        (table.len(), table.queued())
    }

    /// Every lease that has run out by `now`, with its held updates in
    /// arrival order, to apply and then
    /// [`finish_release`](LockDesk::finish_release).
    pub fn expire(&self, now: Instant) -> Vec<(SharedPath, Vec<Held>)> {
        self.table().expire(now)
    }

    /// Forgets `path`'s lock and held updates in the book, once the held
    /// updates a release handed back have been applied. (If this desk was
    /// fenced meanwhile, the new holder applies them again, to the same
    /// effect: applying a version a second time keeps it.)
    pub fn finish_release(&self, path: &SharedPath) {
        let _ = self.written(
            "the release",
            self.book.forget_lock(self.token, path.as_str()),
        );
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// What bounds a desk: the lease, each account's share, who may break.
pub(crate) struct DeskLimits {
    /// How long a lock lasts unless renewed.
    pub lease: Duration,
    /// How many locks an account holds at most.
    pub per_account: usize,
    /// Accounts that may break anyone's lock.
    pub admins: Vec<String>,
}

/// The locks as the book keeps them, at `now`; each held update's content
/// goes to `materialize`. Rows that do not parse (a damaged or forged
/// row) are left out.
fn restore(
    book: &dyn LockBookDb,
    now: Instant,
    materialize: &mut dyn FnMut(&Held, &[u8]),
) -> Result<LockTable<SharedPath, Held>, BookError> {
    let rows = book.locks()?;
    let mut entries = Vec::new();
    for row in rows {
        let Ok(path) = SharedPath::parse(&row.path) else {
            continue;
        };
        let mut held = Vec::new();
        for stored in book.held(&row.path)? {
            let Ok(update) = Held::from_bytes(&stored.update) else {
                continue;
            };
            if let Some(content) = &stored.content {
                materialize(&update, content);
            }
            held.push(update);
        }
        let remaining =
            Duration::from_millis(row.expires_ms.saturating_sub(now_ms()).max(0) as u64);
        let saved = SavedLock {
            owner: row.owner,
            remaining,
            held_for: Duration::ZERO,
        };
        entries.push((path, saved, held));
    }
    Ok(LockTable::restore(entries, now).unwrap_or_default())
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
