//! [`LockTable`]: who holds which file, until when, and the updates waiting
//! for each lock to end.
//!
//! # What a lock is for
//!
//! Lab 3 lets a user lock a file at Server A. While it is locked, updates to
//! that file arriving from the other side are not applied: they wait in a
//! first-in first-out queue. Unlocking applies them **in the order they
//! arrived**. Files nobody has locked keep syncing as before. The table is the
//! lock holder's record of that: the locks, and one queue per locked file.
//!
//! # Why a lock is a lease
//!
//! A lock in the handout lasts until the user unlocks it. But the user's
//! client can crash, lose its network or be killed, and a lock that only its
//! owner can lift would then hold the file, and pin its queue in memory,
//! forever. So every lock here is a **lease**: it ends by itself at
//! [`expires_at`](LockInfo::expires_at) unless its owner renews it. A lapsed
//! lease behaves exactly like an unlock ([`expire`](LockTable::expire) hands
//! back its queue, in order, to be applied): the file catches up with
//! everything that arrived meanwhile, as it would have if the owner had
//! unlocked it on their way out. A live client renews well before the end
//! (say, at a third of the lease), so a lease only lapses when its owner has
//! gone quiet. An administrator can also break any lock with
//! [`force_unlock`](LockTable::force_unlock) (`convene files unlock --force`).
//!
//! # No clock, no I/O
//!
//! The table never reads the clock: every call that depends on time takes
//! `now`, and it never touches a file. That keeps it deterministic (a test or
//! a property check replays the same calls and gets the same answers) and
//! leaves the waiting to the runtime, which asks
//! [`next_expiry`](LockTable::next_expiry) when to wake up.
//!
//! The runtime drives it like this:
//!
//! | event                              | call                                            |
//! |------------------------------------|-------------------------------------------------|
//! | before handling anything at `now`  | [`expire`], then apply what it returns          |
//! | a user locks a file, or renews     | [`lock`] or [`renew`]                           |
//! | an update for a file arrives       | [`hold`]; on `Err`, apply the update at once    |
//! | the owner unlocks                  | [`unlock`], then apply what it returns          |
//! | `convene files unlock --force`     | [`force_unlock`], then apply what it returns    |
//! | deciding how long to sleep         | [`next_expiry`]                                 |
//! | saving state, starting up          | [`snapshot`], [`restore`]                       |
//!
//! [`expire`]: LockTable::expire
//! [`lock`]: LockTable::lock
//! [`renew`]: LockTable::renew
//! [`hold`]: LockTable::hold
//! [`unlock`]: LockTable::unlock
//! [`force_unlock`]: LockTable::force_unlock
//! [`next_expiry`]: LockTable::next_expiry
//! [`snapshot`]: LockTable::snapshot
//! [`restore`]: LockTable::restore
//!
//! Calling `expire` first matters. A lease whose time has passed but that
//! `expire` has not collected yet still sits in the table with its queue, so
//! [`lock`](LockTable::lock) and [`renew`](LockTable::renew) refuse it with
//! [`LockError::Lapsed`] rather than quietly handing the file, and the updates
//! still queued for the old owner, to someone else. Calls that take no `now`
//! ([`hold`](LockTable::hold), [`is_locked`](LockTable::is_locked),
//! [`unlock`](LockTable::unlock)) see the table as of the last `expire`.
//!
//! # Ordering
//!
//! Updates held for one key come out in exactly the order they were held,
//! once, and only when that key's lock ends (unlock, force unlock or expiry).
//! Keys are independent: holding, unlocking or expiring one key never moves
//! another key's updates. An update for a key that is not locked is never
//! queued: [`hold`](LockTable::hold) gives it straight back, so it is applied
//! at once and cannot overtake, or be overtaken by, a queue.
//!
//! # How many locks one owner may hold
//!
//! A table made with [`with_owner_limit`](LockTable::with_owner_limit)
//! refuses an owner's new lock once they hold that many
//! ([`LockError::TooMany`]); renewing a lock they hold is always allowed.
//! The runtime sets it from `limits.locks_per_account`, so one account
//! cannot freeze the whole folder or fill the holder's memory with locks.
//!
//! # Memory
//!
//! The handout promises that the number of locked files and of queued updates
//! is unbounded, so the table never refuses an update. Each held update costs
//! its own size, `size_of::<U>()`, plus whatever it owns, until its lock ends;
//! the caller should keep `U` small (a file's bytes belong on disk, and a
//! queued update can name them instead of carrying them). The lease is what
//! keeps this in check: a queue lives no longer than its lock, and a lock no
//! longer than its owner keeps renewing it. [`queued`](LockTable::queued)
//! counts every held update, so the runtime can report it or warn about it.
//!
//! # Restarts
//!
//! An [`Instant`] means nothing after a restart, so the table is persisted as
//! durations: [`snapshot`](LockTable::snapshot) lists every lock with its
//! queue, [`LockInfo::save`] turns a lock into a [`SavedLock`] (time left and
//! time held, measured at the moment of saving), and
//! [`restore`](LockTable::restore) turns those back into instants relative to
//! the new `now`. A lease that ran out while the node was down is restored
//! already lapsed, and the next `expire` hands back its queue: its updates are
//! applied, not lost.
//!
//! # Example
//!
//! ```
//! use std::time::{Duration, Instant};
//! use convene_files::locks::{LockError, LockTable};
//!
//! let now = Instant::now();
//! let lease = Duration::from_secs(30);
//! let mut table: LockTable<&str, &str> = LockTable::new();
//!
//! table.lock("a.jpg", "ana", now, lease).unwrap();
//! assert_eq!(table.hold(&"a.jpg", "a.jpg v2"), Ok(()));
//! assert_eq!(table.hold(&"b.txt", "b.txt v2"), Err("b.txt v2")); // apply now
//! assert_eq!(table.hold(&"a.jpg", "a.jpg v3"), Ok(()));
//!
//! assert!(matches!(
//!     table.lock("a.jpg", "bo", now, lease),
//!     Err(LockError::Held { .. })
//! ));
//! assert_eq!(table.unlock(&"a.jpg", "ana"), Ok(vec!["a.jpg v2", "a.jpg v3"]));
//! assert!(!table.is_locked(&"a.jpg"));
//! ```
//!
//! # Cost
//!
//! Locks sit in an ordered map, with a second ordered index by expiry time, so
//! locking, renewing, unlocking and holding are logarithmic in the number of
//! locks, [`next_expiry`](LockTable::next_expiry) is logarithmic, and
//! [`expire`](LockTable::expire) touches only the leases that ran out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// One lock: who holds it, since when, and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockInfo {
    /// Who locked the file: only they may renew or unlock it.
    pub owner: String,
    /// When the lease runs out unless renewed. At or after this instant the
    /// lock has lapsed: [`LockTable::expire`] removes it.
    pub expires_at: Instant,
    /// When the owner first locked the file. Renewals keep it, so it tells how
    /// long the file has been frozen.
    pub locked_since: Instant,
}

impl LockInfo {
    /// How long the lease has left at `now`; zero once it has lapsed.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.expires_at.saturating_duration_since(now)
    }

    /// Whether the lease has run out at `now` (it is still in the table until
    /// [`LockTable::expire`] collects it).
    pub fn has_lapsed(&self, now: Instant) -> bool {
        self.expires_at <= now
    }

    /// How long the file has been locked at `now`.
    pub fn held_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.locked_since)
    }

    /// This lock as durations measured at `now`, which survive a restart
    /// where an [`Instant`] does not.
    pub fn save(&self, now: Instant) -> SavedLock {
        SavedLock {
            owner: self.owner.clone(),
            remaining: self.remaining(now),
            held_for: self.held_for(now),
        }
    }
}

/// A lock as it is persisted: durations instead of instants, since an
/// [`Instant`] is only meaningful inside the process that made it.
///
/// Made by [`LockInfo::save`], read back by [`LockTable::restore`]. The time
/// the node spends down is not counted against the lease: the owner's client
/// could not have renewed a lock on a node that was not running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedLock {
    /// Who holds the lock.
    pub owner: String,
    /// How long the lease had left when it was saved (zero if it had lapsed).
    pub remaining: Duration,
    /// How long the file had been locked when it was saved.
    pub held_for: Duration,
}

/// Why a lock, renewal or unlock was refused.
///
/// The errors do not name the file: the caller asked about it, so it knows.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Someone else holds the lock.
    #[error("locked by {by} for another {} s", expires_in.as_millis().div_ceil(1000))]
    Held {
        /// The owner of the lock.
        by: String,
        /// How long their lease has left, unless they renew it.
        expires_in: Duration,
    },
    /// The file is not locked (never was, or its lock already ended).
    #[error("the file is not locked")]
    NotLocked,
    /// The lock belongs to someone else, so only they (or a force unlock) may
    /// lift or renew it.
    #[error("the lock belongs to {by}")]
    NotOwner {
        /// The owner of the lock.
        by: String,
    },
    /// The lease has run out but [`LockTable::expire`] has not collected it,
    /// so its queued updates have not been handed back yet. Call `expire` and
    /// apply what it returns, then lock again.
    #[error("the lock by {by} ran out {ago:?} ago and is waiting to be expired")]
    Lapsed {
        /// The owner of the lapsed lock.
        by: String,
        /// How long ago the lease ran out.
        ago: Duration,
    },
    /// The owner already holds as many locks as one owner may.
    #[error("{owner} already holds {limit} locks, the most one account may hold")]
    TooMany {
        /// Who asked.
        owner: String,
        /// How many locks one owner may hold.
        limit: usize,
    },
    /// A lease of zero would lapse the instant it was granted.
    #[error("a lease must be longer than zero")]
    ZeroLease,
    /// `now + lease` is past the end of what an [`Instant`] can hold.
    #[error("a lease of {lease:?} is too long to represent")]
    LeaseTooLong {
        /// The lease asked for.
        lease: Duration,
    },
}

/// Why a saved table could not be restored.
///
/// Entries are named by their position in what was passed to
/// [`LockTable::restore`], since a key need not be printable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// Two entries lock the same key. A snapshot never does this, so the saved
    /// state is damaged; keeping either entry would drop the other's queue.
    #[error("entry {index} locks the same key as an earlier entry")]
    DuplicateKey {
        /// The position of the second entry.
        index: usize,
    },
    /// `now + remaining` is past the end of what an [`Instant`] can hold.
    #[error("entry {index}: a remaining lease of {remaining:?} is too long to represent")]
    LeaseTooLong {
        /// The position of the entry.
        index: usize,
        /// Its remaining lease.
        remaining: Duration,
    },
}

/// A lock and the updates it holds back.
#[derive(Clone, Debug)]
struct Entry<U> {
    info: LockInfo,
    /// Oldest first: the order the caller must apply them in.
    queue: Vec<U>,
}

/// The locks held at one node and the queued updates of each locked file.
/// See the [module docs](self).
///
/// `K` names a file (the runtime uses its path in the shared folder); `U` is
/// an update waiting for the lock to end, opaque to the table.
///
/// Invariants, whatever the calls: every key has at most one lock; an update
/// is queued only under a lock; every queued update is handed back exactly
/// once, when its lock ends, after every update held before it for the same
/// key; [`queued`](Self::queued) is the number of updates queued.
#[derive(Clone, Debug)]
pub struct LockTable<K, U> {
    locks: BTreeMap<K, Entry<U>>,
    /// Every lock's `(expires_at, key)`, so the next lease to run out is the
    /// first entry. Kept in step with `locks` by every call.
    by_expiry: BTreeSet<(Instant, K)>,
    /// The total length of every queue.
    queued: usize,
    /// How many locks each owner holds (owners holding none are absent).
    per_owner: BTreeMap<String, usize>,
    /// The most locks one owner may hold, if limited.
    owner_limit: Option<usize>,
}

impl<K: Ord + Clone, U> Default for LockTable<K, U> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone, U> LockTable<K, U> {
    /// An empty table: nothing locked.
    pub fn new() -> Self {
        Self {
            locks: BTreeMap::new(),
            by_expiry: BTreeSet::new(),
            queued: 0,
            per_owner: BTreeMap::new(),
            owner_limit: None,
        }
    }

    /// This table, refusing an owner's new lock once they hold `limit`
    /// (locks already held, restored ones included, are kept).
    #[must_use]
    pub fn with_owner_limit(mut self, limit: usize) -> Self {
        self.owner_limit = Some(limit);
        self
    }

    /// How many locks `owner` holds.
    pub fn owned_by(&self, owner: &str) -> usize {
        self.per_owner.get(owner).copied().unwrap_or(0)
    }

    /// Locks `key` for `owner` until `now + lease`.
    ///
    /// Locking a file you already hold renews the lease (from `now`, even if
    /// that shortens it) and keeps its queue and
    /// [`locked_since`](LockInfo::locked_since): a client that is unsure
    /// whether its lock went through can simply ask again.
    ///
    /// # Errors
    ///
    /// [`LockError::Held`] if another owner holds it;
    /// [`LockError::Lapsed`] if its lease ran out but was not expired yet
    /// (whoever held it); [`LockError::TooMany`] if it is a new lock and
    /// `owner` already holds as many as the table allows;
    /// [`LockError::ZeroLease`] or
    /// [`LockError::LeaseTooLong`] for a lease that cannot be granted.
    pub fn lock(
        &mut self,
        key: K,
        owner: &str,
        now: Instant,
        lease: Duration,
    ) -> Result<LockInfo, LockError> {
        let expires_at = lease_end(now, lease)?;
        let Some(held) = self.locks.get_mut(&key) else {
            if let Some(limit) = self.owner_limit
                && self.owned_by(owner) >= limit
            {
                return Err(LockError::TooMany {
                    owner: owner.to_owned(),
                    limit,
                });
            }
            *self.per_owner.entry(owner.to_owned()).or_default() += 1;
            let info = LockInfo {
                owner: owner.to_owned(),
                expires_at,
                locked_since: now,
            };
            self.by_expiry.insert((expires_at, key.clone()));
            self.locks.insert(
                key,
                Entry {
                    info: info.clone(),
                    queue: Vec::new(),
                },
            );
            return Ok(info);
        };
        refuse_lapsed(&held.info, now)?;
        if held.info.owner != owner {
            return Err(LockError::Held {
                by: held.info.owner.clone(),
                expires_in: held.info.remaining(now),
            });
        }
        reschedule(&mut self.by_expiry, &key, &mut held.info, expires_at);
        Ok(held.info.clone())
    }

    /// Extends `owner`'s lock on `key` to `now + lease`.
    ///
    /// # Errors
    ///
    /// [`LockError::NotLocked`] if nobody holds it; [`LockError::NotOwner`]
    /// if someone else does; [`LockError::Lapsed`] if the lease already ran
    /// out (a lapsed lease is over, even before `expire` collects it:
    /// otherwise whether a late renewal worked would depend on when the
    /// runtime's timer fired); [`LockError::ZeroLease`] or
    /// [`LockError::LeaseTooLong`] for a lease that cannot be granted.
    pub fn renew(
        &mut self,
        key: &K,
        owner: &str,
        now: Instant,
        lease: Duration,
    ) -> Result<LockInfo, LockError> {
        let expires_at = lease_end(now, lease)?;
        let held = self.locks.get_mut(key).ok_or(LockError::NotLocked)?;
        if held.info.owner != owner {
            return Err(LockError::NotOwner {
                by: held.info.owner.clone(),
            });
        }
        refuse_lapsed(&held.info, now)?;
        reschedule(&mut self.by_expiry, key, &mut held.info, expires_at);
        Ok(held.info.clone())
    }

    /// Ends `owner`'s lock on `key` and hands back its queued updates, oldest
    /// first: apply them in that order.
    ///
    /// A lease that has run out but was not expired yet can still be
    /// unlocked by its owner: the outcome is the same as expiring it.
    ///
    /// # Errors
    ///
    /// [`LockError::NotLocked`] if nobody holds it; [`LockError::NotOwner`]
    /// if someone else does (the lock and its queue are left alone).
    pub fn unlock(&mut self, key: &K, owner: &str) -> Result<Vec<U>, LockError> {
        let held = self.locks.get(key).ok_or(LockError::NotLocked)?;
        if held.info.owner != owner {
            return Err(LockError::NotOwner {
                by: held.info.owner.clone(),
            });
        }
        self.release(key).ok_or(LockError::NotLocked)
    }

    /// Ends whoever's lock on `key` and hands back its queued updates, oldest
    /// first. For an administrator (`convene files unlock --force`), when the
    /// owner cannot be reached and the lease is too long to wait out.
    ///
    /// # Errors
    ///
    /// [`LockError::NotLocked`] if nobody holds it.
    pub fn force_unlock(&mut self, key: &K) -> Result<Vec<U>, LockError> {
        self.release(key).ok_or(LockError::NotLocked)
    }

    /// Queues `update` behind the lock on `key`, if there is one.
    ///
    /// # Errors
    ///
    /// Gives `update` back when `key` is not locked: the caller applies it at
    /// once, exactly as if locks did not exist.
    pub fn hold(&mut self, key: &K, update: U) -> Result<(), U> {
        match self.locks.get_mut(key) {
            Some(held) => {
                held.queue.push(update);
                self.queued += 1;
                Ok(())
            }
            None => Err(update),
        }
    }

    /// Removes every lease that has run out at `now` and hands back each
    /// one's key and queued updates, oldest first, for the caller to apply.
    ///
    /// Expiry is an unlock by the clock: an owner that stopped renewing (most
    /// likely crashed or cut off) must not hold the file, nor its queue in
    /// memory, for ever. Locks come out in the order their leases ran out.
    #[must_use = "the expired locks' queued updates must be applied"]
    pub fn expire(&mut self, now: Instant) -> Vec<(K, Vec<U>)> {
        let mut expired = Vec::new();
        while let Some((at, _)) = self.by_expiry.first()
            && *at <= now
        {
            let Some((_, key)) = self.by_expiry.pop_first() else {
                break;
            };
            if let Some(held) = self.locks.remove(&key) {
                self.queued -= held.queue.len();
                self.forget_owner(&held.info.owner);
                expired.push((key, held.queue));
            }
        }
        expired
    }

    /// When the next lease runs out, if any: the runtime should call
    /// [`expire`](Self::expire) then. `None` when nothing is locked.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.by_expiry.first().map(|(at, _)| *at)
    }

    /// Whether `key` is locked (as of the last [`expire`](Self::expire)).
    pub fn is_locked(&self, key: &K) -> bool {
        self.locks.contains_key(key)
    }

    /// The lock on `key`, if any.
    pub fn get(&self, key: &K) -> Option<&LockInfo> {
        self.locks.get(key).map(|held| &held.info)
    }

    /// Every lock, in key order (for the listing's `<locked>` marks).
    pub fn locked(&self) -> impl Iterator<Item = (&K, &LockInfo)> {
        self.locks.iter().map(|(key, held)| (key, &held.info))
    }

    /// How many files are locked.
    pub fn len(&self) -> usize {
        self.locks.len()
    }

    /// Whether no file is locked.
    pub fn is_empty(&self) -> bool {
        self.locks.is_empty()
    }

    /// How many updates are queued, over every lock: what the queues cost in
    /// memory, counted in updates.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// How many updates are queued behind the lock on `key` (zero if none).
    pub fn queued_for(&self, key: &K) -> usize {
        self.locks.get(key).map_or(0, |held| held.queue.len())
    }

    /// The updates queued behind the lock on `key`, oldest first (none if
    /// it is not locked).
    pub fn held(&self, key: &K) -> &[U] {
        self.locks
            .get(key)
            .map_or(&[], |held| held.queue.as_slice())
    }

    /// The update most recently held for `key`, if any (so a caller can
    /// tell a repeat of it from a new one).
    pub fn last_held(&self, key: &K) -> Option<&U> {
        self.locks.get(key).and_then(|held| held.queue.last())
    }

    /// Every lock with its queue, in key order, for saving. Turn each
    /// [`LockInfo`] into a [`SavedLock`] with [`LockInfo::save`] before
    /// writing it out: its instants do not survive a restart.
    #[must_use]
    pub fn snapshot(&self) -> Vec<(K, LockInfo, Vec<U>)>
    where
        U: Clone,
    {
        self.locks
            .iter()
            .map(|(key, held)| (key.clone(), held.info.clone(), held.queue.clone()))
            .collect()
    }

    /// Rebuilds a table from saved locks, as of `now`.
    ///
    /// Each lease gets its saved time left from `now`, so time spent down is
    /// not charged to it; one that had lapsed comes back lapsed, and the next
    /// [`expire`](Self::expire) hands back its queue. `locked_since` is
    /// `now - held_for`, or `now` if that would be before the monotonic
    /// clock's origin (as it can be soon after a reboot): it is only
    /// informative, so being honest about "at least since restart" beats
    /// failing.
    ///
    /// # Errors
    ///
    /// [`RestoreError::DuplicateKey`] if two entries share a key;
    /// [`RestoreError::LeaseTooLong`] if a remaining lease cannot be added to
    /// `now`.
    pub fn restore(
        entries: impl IntoIterator<Item = (K, SavedLock, Vec<U>)>,
        now: Instant,
    ) -> Result<Self, RestoreError> {
        let mut table = Self::new();
        for (index, (key, saved, queue)) in entries.into_iter().enumerate() {
            if table.locks.contains_key(&key) {
                return Err(RestoreError::DuplicateKey { index });
            }
            let expires_at =
                now.checked_add(saved.remaining)
                    .ok_or(RestoreError::LeaseTooLong {
                        index,
                        remaining: saved.remaining,
                    })?;
            let info = LockInfo {
                owner: saved.owner,
                expires_at,
                locked_since: now.checked_sub(saved.held_for).unwrap_or(now),
            };
            table.queued += queue.len();
            *table.per_owner.entry(info.owner.clone()).or_default() += 1;
            table.by_expiry.insert((expires_at, key.clone()));
            table.locks.insert(key, Entry { info, queue });
        }
        Ok(table)
    }

    /// Removes the lock on `key` and returns its queue, or `None` if there
    /// was none.
    fn release(&mut self, key: &K) -> Option<Vec<U>> {
        let held = self.locks.remove(key)?;
        self.by_expiry.remove(&(held.info.expires_at, key.clone()));
        self.queued -= held.queue.len();
        self.forget_owner(&held.info.owner);
        Some(held.queue)
    }

    /// Counts one lock of `owner` fewer.
    fn forget_owner(&mut self, owner: &str) {
        if let Some(count) = self.per_owner.get_mut(owner) {
            *count -= 1;
            if *count == 0 {
                self.per_owner.remove(owner);
            }
        }
    }
}

/// When a lease of `lease` granted at `now` runs out.
fn lease_end(now: Instant, lease: Duration) -> Result<Instant, LockError> {
    if lease.is_zero() {
        return Err(LockError::ZeroLease);
    }
    now.checked_add(lease)
        .ok_or(LockError::LeaseTooLong { lease })
}

/// Refuses to act on a lease that has run out and waits for `expire`.
fn refuse_lapsed(info: &LockInfo, now: Instant) -> Result<(), LockError> {
    if info.has_lapsed(now) {
        return Err(LockError::Lapsed {
            by: info.owner.clone(),
            ago: now.saturating_duration_since(info.expires_at),
        });
    }
    Ok(())
}

/// Moves a lock to a new expiry, in the lock and in the expiry index.
fn reschedule<K: Ord + Clone>(
    by_expiry: &mut BTreeSet<(Instant, K)>,
    key: &K,
    info: &mut LockInfo,
    expires_at: Instant,
) {
    by_expiry.remove(&(info.expires_at, key.clone()));
    by_expiry.insert((expires_at, key.clone()));
    info.expires_at = expires_at;
}

#[cfg(test)]
mod tests;
