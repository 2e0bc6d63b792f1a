//! [`LockBook`]: the lock table, the queue of held updates and who holds
//! the locks, kept in the cluster's shared database so that they outlive
//! the node holding the locks.
//!
//! # Why a database, and what it checks
//!
//! The lock holder used to keep its locks and held updates in its own
//! store: while it was down, nobody could lock, unlock or see what was
//! held. Here they live in the SQLite file every node of the machine
//! already shares for events (`database_url`), so the next files node can
//! take the role over with everything the last holder acknowledged.
//!
//! Moving the role must not let two nodes grant the same lock. So the book
//! carries one row naming the holder and a **fencing token**, raised by
//! one at every change of holder. A holder writes with the token it was
//! given, and every write checks, in the same transaction, that the token
//! is still the current one: a holder that was cut off, or stopped and
//! came back after the role moved, is refused ([`BookError::Fenced`])
//! before it can store (and so before it can acknowledge) a lock. Nothing
//! is answered to a person before its row is written.
//!
//! Who gets the role is written by [`hand_over`](LockBook::hand_over), a
//! compare-and-set on the token and the coordinator's term: the files
//! service calls it only on the coordinator, under the membership's
//! authority (a majority's leases, see "Quorum and terms"), so a
//! coordinator of an older term cannot undo a newer one's choice. The very
//! first holder of an empty book claims it itself
//! ([`claim_first`](LockBook::claim_first)): there is nothing to fence yet.
//!
//! A held update is stored with its content: the content waited in the
//! old holder's folder, which the next holder cannot reach.
//!
//! Every call blocks on the file (a few milliseconds; SQLite waits up to
//! [`BUSY_TIMEOUT`] for another node's write), as the node's own store does.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// How long a write waits for another node's transaction on the file.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The book's tables; created if missing, by any node, at any time (each
/// statement is idempotent). Their names start with `files_book_` so they
/// never meet the events service's tables in the same file.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS files_book_holder (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    node TEXT NOT NULL,
    token INTEGER NOT NULL,
    term INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files_book_locks (
    path TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS files_book_held (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    update_bytes BLOB NOT NULL,
    content BLOB
);
";

/// Who holds the locks, as the book says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolderRow {
    /// The holder's node id.
    pub node: String,
    /// Its fencing token: every write of the holder carries it.
    pub token: u64,
    /// The coordinator's term that chose it (0 for the first claim).
    pub term: u64,
}

/// A stored lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookLock {
    /// The locked file.
    pub path: String,
    /// The account that holds it.
    pub owner: String,
    /// When its lease ends, in milliseconds since the Unix epoch (0 once
    /// it has been unlocked but its held updates are not yet applied).
    pub expires_ms: i64,
}

/// A stored held update: its encoded `Held` (the update a lock holds back) and its
/// content (none for a deletion).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookHeld {
    /// The encoded held update.
    pub update: Vec<u8>,
    /// Its content (none for a deletion).
    pub content: Option<Vec<u8>>,
}

/// Why the book refused or failed a write.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BookError {
    /// The writer's token is no longer the current one: another node holds
    /// the locks now.
    #[error("this node no longer holds the locks (node {holder} does)")]
    Fenced {
        /// The holder the book names now.
        holder: String,
    },
    /// The database failed.
    #[error("the shared database failed: {0}")]
    Db(String),
}

impl From<rusqlite::Error> for BookError {
    fn from(e: rusqlite::Error) -> Self {
        BookError::Db(e.to_string())
    }
}

/// What the files service needs from the book: one atomic step per
/// method, blocking (callers run it off the async threads, or accept a
/// few milliseconds). [`LockBook`] keeps it in a SQLite file; the
/// MySQL/PostgreSQL one is `convene_eventdb::files_sql`. Every write
/// method is fenced by the holder's token as described above.
pub trait LockBookDb: Send + Sync + 'static {
    /// The connection pool's use now, for the node's metrics; `None` for a
    /// book without a pool (the SQLite file's one connection).
    fn pool_use(&self) -> Option<convene_metrics::PoolUse> {
        None
    }
    /// Who holds the locks, if anyone was ever chosen.
    fn holder(&self) -> Result<Option<HolderRow>, BookError>;
    /// Makes `node` the first holder of a book that never had one; the
    /// holder now (`node` or another that was first).
    fn claim_first(&self, node: &str) -> Result<HolderRow, BookError>;
    /// Hands the role to `to`, under coordinator term `term`, if the book
    /// still says what the caller saw (`seen_token`) and no later term has
    /// chosen since: the new holder, or `None` if the book moved meanwhile.
    fn hand_over(
        &self,
        seen_token: u64,
        to: &str,
        term: u64,
    ) -> Result<Option<HolderRow>, BookError>;
    /// Writes (or renews) a lock, as holder `token`.
    fn put_lock(&self, token: u64, lock: &BookLock) -> Result<(), BookError>;
    /// Marks `path`'s lock released (its lease ended at 0), as holder
    /// `token`: from now on any holder applies its held updates at once.
    fn release_lock(&self, token: u64, path: &str) -> Result<(), BookError>;
    /// Forgets `path`'s lock and its held updates, once they are applied,
    /// as holder `token`.
    fn forget_lock(&self, token: u64, path: &str) -> Result<(), BookError>;
    /// Appends an update held for `path`, with its content, as holder
    /// `token`; `false` (nothing stored) unless `path` is locked in the book.
    fn hold(&self, token: u64, path: &str, held: &BookHeld) -> Result<bool, BookError>;
    /// Every lock, by path.
    fn locks(&self) -> Result<Vec<BookLock>, BookError>;
    /// The updates held for `path`, in arrival order.
    fn held(&self, path: &str) -> Result<Vec<BookHeld>, BookError>;
}

/// The shared lock book, over one SQLite file.
pub struct LockBook {
    conn: Mutex<Connection>,
}

impl LockBook {
    /// Opens (creating if missing) the book in the SQLite file at `path`.
    pub fn open(path: &Path) -> Result<LockBook, BookError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| BookError::Db(e.to_string()))?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // The events service's journal mode (readers never wait for the
        // writer), whoever opens the file first; durable before a lock is
        // acknowledged, as the events service's writes.
        let _: Result<String, _> = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0));
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(LockBook {
            conn: Mutex::new(conn),
        })
    }

    /// The SQLite file of a `database_url` (`sqlite:///abs/path` or
    /// `sqlite://rel/path`), if it names one.
    pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
        let rest = database_url.strip_prefix("sqlite:")?;
        let file = rest.strip_prefix("//").unwrap_or(rest);
        (!file.is_empty() && !file.contains(":memory:")).then(|| PathBuf::from(file))
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `write` in one immediate transaction, after checking that
    /// `token` is still the holder's: the fence every write goes through.
    fn fenced<T>(
        &self,
        token: u64,
        write: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>,
    ) -> Result<T, BookError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let now: Option<(String, i64)> = tx
            .prepare_cached("SELECT node, token FROM files_book_holder WHERE id = 1")?
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        match now {
            Some((_, current)) if current as u64 == token => {}
            Some((holder, _)) => return Err(BookError::Fenced { holder }),
            None => {
                return Err(BookError::Fenced {
                    holder: "(none)".into(),
                });
            }
        }
        let done = write(&tx)?;
        tx.commit()?;
        Ok(done)
    }
}

impl LockBookDb for LockBook {
    /// Who holds the locks, if anyone was ever chosen.
    fn holder(&self) -> Result<Option<HolderRow>, BookError> {
        Ok(self
            .conn()
            .prepare_cached("SELECT node, token, term FROM files_book_holder WHERE id = 1")?
            .query_row([], |r| {
                Ok(HolderRow {
                    node: r.get(0)?,
                    token: r.get::<_, i64>(1)? as u64,
                    term: r.get::<_, i64>(2)? as u64,
                })
            })
            .optional()?)
    }

    /// Makes `node` the first holder of a book that never had one; the
    /// holder now (`node` or another that was first).
    fn claim_first(&self, node: &str) -> Result<HolderRow, BookError> {
        self.conn()
            .prepare_cached(
                "INSERT OR IGNORE INTO files_book_holder (id, node, token, term) VALUES (1, ?1, 1, 0)",
            )?
            .execute(params![node])?;
        self.holder()?
            .ok_or_else(|| BookError::Db("the holder row vanished".into()))
    }

    /// Hands the role to `to`, under coordinator term `term`, if the book
    /// still says what the caller saw (`seen_token`) and no later term has
    /// chosen since: the new holder, or `None` if the book moved meanwhile.
    fn hand_over(
        &self,
        seen_token: u64,
        to: &str,
        term: u64,
    ) -> Result<Option<HolderRow>, BookError> {
        let changed = self
            .conn()
            .prepare_cached(
                "UPDATE files_book_holder SET node = ?1, token = token + 1, term = ?2
                 WHERE id = 1 AND token = ?3 AND term <= ?2",
            )?
            .execute(params![to, term as i64, seen_token as i64])?;
        if changed == 0 {
            return Ok(None);
        }
        self.holder()
    }

    /// Writes (or renews) a lock, as holder `token`.
    fn put_lock(&self, token: u64, lock: &BookLock) -> Result<(), BookError> {
        self.fenced(token, |tx| {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO files_book_locks (path, owner, expires_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![lock.path, lock.owner, lock.expires_ms])
            .map(|_| ())
        })
    }

    /// Marks `path`'s lock released (its lease ended at 0), as holder
    /// `token`: from now on any holder applies its held updates at once.
    fn release_lock(&self, token: u64, path: &str) -> Result<(), BookError> {
        self.fenced(token, |tx| {
            tx.prepare_cached("UPDATE files_book_locks SET expires_ms = 0 WHERE path = ?1")?
                .execute(params![path])
                .map(|_| ())
        })
    }

    /// Forgets `path`'s lock and its held updates, once they are applied,
    /// as holder `token`.
    fn forget_lock(&self, token: u64, path: &str) -> Result<(), BookError> {
        self.fenced(token, |tx| {
            tx.prepare_cached("DELETE FROM files_book_held WHERE path = ?1")?
                .execute(params![path])?;
            tx.prepare_cached("DELETE FROM files_book_locks WHERE path = ?1")?
                .execute(params![path])
                .map(|_| ())
        })
    }

    /// Appends an update held for `path`, with its content, as holder
    /// `token`; refused unless `path` is locked in the book.
    fn hold(&self, token: u64, path: &str, held: &BookHeld) -> Result<bool, BookError> {
        self.fenced(token, |tx| {
            let locked: Option<i64> = tx
                .prepare_cached("SELECT 1 FROM files_book_locks WHERE path = ?1")?
                .query_row(params![path], |r| r.get(0))
                .optional()?;
            if locked.is_none() {
                return Ok(false);
            }
            tx.prepare_cached(
                "INSERT INTO files_book_held (path, update_bytes, content) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![path, held.update, held.content])?;
            Ok(true)
        })
    }

    /// Every lock, by path.
    fn locks(&self) -> Result<Vec<BookLock>, BookError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT path, owner, expires_ms FROM files_book_locks ORDER BY path")?;
        let rows = stmt
            .query_map([], |r| {
                Ok(BookLock {
                    path: r.get(0)?,
                    owner: r.get(1)?,
                    expires_ms: r.get(2)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// The updates held for `path`, in arrival order.
    fn held(&self, path: &str) -> Result<Vec<BookHeld>, BookError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT update_bytes, content FROM files_book_held WHERE path = ?1 ORDER BY seq",
        )?;
        let rows = stmt
            .query_map(params![path], |r| {
                Ok(BookHeld {
                    update: r.get(0)?,
                    content: r.get(1)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests;
