//! The booking database on SQLite: one file that every node on a machine
//! opens (by default the cluster's `database_url`, which the events service
//! shares), or a node's own file when the cluster's database is a server
//! this build has no booking tables for.
//!
//! Settings match the node's store: WAL (readers never block the writer),
//! `synchronous = FULL` (a commit returns once it is on disk, so an
//! acknowledged booking survives a power cut), and a busy handler that
//! retries every millisecond, because several node processes write the one
//! file and each holds its lock for microseconds. Writes that must be
//! atomic with a check (the fence, a claim) run in `BEGIN IMMEDIATE`
//! transactions, which take the file's write lock first, so the check and
//! the write see the same database.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    BookingDb, BookingDbError, BookingRow, Committed, FencedWrite, OwnerRow, ReplyRow, check_row,
};

/// Give up on a file another process keeps locked after this long.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Schema versions, applied in order inside one `BEGIN IMMEDIATE`
/// transaction (so nodes opening the file at once apply each once), and
/// recorded in `convene_booking_schema`. Released entries are never edited.
const MIGRATIONS: &[(i64, &str)] = &[(
    1,
    "CREATE TABLE booking_owner (
         facility TEXT PRIMARY KEY,
         node INTEGER NOT NULL,
         token INTEGER NOT NULL,
         term INTEGER NOT NULL
     );
     CREATE TABLE booking_record (
         id TEXT PRIMARY KEY,
         facility TEXT NOT NULL,
         start_min INTEGER NOT NULL,
         end_min INTEGER NOT NULL,
         original_end INTEGER NOT NULL,
         cancelled INTEGER NOT NULL
     );
     CREATE INDEX booking_record_live ON booking_record (facility) WHERE cancelled = 0;
     CREATE TABLE booking_kept_reply (
         client TEXT NOT NULL,
         request_id INTEGER NOT NULL,
         facility TEXT NOT NULL,
         checksum INTEGER NOT NULL,
         reply BLOB NOT NULL,
         created_ms INTEGER NOT NULL,
         PRIMARY KEY (client, request_id)
     );
     CREATE INDEX booking_kept_reply_facility ON booking_kept_reply (facility, created_ms);
     CREATE INDEX booking_kept_reply_age ON booking_kept_reply (created_ms);",
)];

/// The booking database in one SQLite file.
#[derive(Debug)]
pub struct SqliteBookingDb {
    path: PathBuf,
    /// Writes (commits, claims, assignments) and their checks.
    writer: Mutex<Connection>,
    /// Reads, so a lookup never waits for a commit's fsync.
    reader: Mutex<Connection>,
}

impl SqliteBookingDb {
    /// Opens (creating it and its directory if needed) the file at `path`
    /// and brings its booking tables up to date.
    pub fn open(path: &Path) -> Result<SqliteBookingDb, BookingDbError> {
        let name = path.display().to_string();
        let engine = |e: rusqlite::Error| BookingDbError::Engine {
            name: name.clone(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| BookingDbError::Engine {
                name: name.clone(),
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
        }
        let writer = connect_in_wal(path).map_err(engine)?;
        let mode: String = writer
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(engine)?;
        // A database in memory (a node that runs no booking) has no journal
        // file to put in WAL mode, and nothing to warn about.
        if !mode.eq_ignore_ascii_case("wal") && path != Path::new(":memory:") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode");
        }
        migrate(&name, &writer)?;
        let reader = connect(path).map_err(engine)?;
        Ok(SqliteBookingDb {
            path: path.to_path_buf(),
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }

    fn engine(&self, e: rusqlite::Error) -> BookingDbError {
        BookingDbError::Engine {
            name: self.name(),
            message: e.to_string(),
        }
    }

    fn writer(&self) -> MutexGuard<'_, Connection> {
        // Every change is a transaction, so a panic while holding the lock
        // cannot leave the file half-written: a poisoned lock is usable.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn owner_row(conn: &Connection, facility: &str) -> rusqlite::Result<Option<OwnerRow>> {
        conn.prepare_cached("SELECT node, token, term FROM booking_owner WHERE facility = ?1")?
            .query_row(params![facility], |r| {
                Ok(OwnerRow {
                    facility: facility.to_string(),
                    node: r.get(0)?,
                    token: r.get::<_, i64>(1)? as u64,
                    term: r.get::<_, i64>(2)? as u64,
                })
            })
            .optional()
    }
}

impl SqliteBookingDb {
    /// Runs `statement` (a write of `facility`'s owner row, taking
    /// `facility`, `node` and `term`) under the file's write lock; the row
    /// after.
    fn write_owner(
        &self,
        statement: &str,
        facility: &str,
        node: u32,
        term: u64,
    ) -> Result<OwnerRow, BookingDbError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.engine(e))?;
        tx.execute(statement, params![facility, node, term as i64])
            .map_err(|e| self.engine(e))?;
        let row = Self::owner_row(&tx, facility).map_err(|e| self.engine(e))?;
        tx.commit().map_err(|e| self.engine(e))?;
        row.ok_or_else(|| BookingDbError::Corrupt {
            name: self.name(),
            table: "booking_owner",
            problem: format!("no row for {facility:?} after writing it"),
        })
    }
}

/// A writer connection to `path`, the file asked into WAL mode. Nodes
/// started at the same moment open one file at once, and SQLite answers the
/// switch to WAL mode "database is locked" at once (without its busy
/// handler) while another opener holds the file: tried again for up to 5 s.
fn connect_in_wal(path: &Path) -> rusqlite::Result<Connection> {
    let started = std::time::Instant::now();
    loop {
        let tried = connect(path).and_then(|conn| {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
            Ok(conn)
        });
        match tried {
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_handler(Some(busy_wait))?;
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Another process holds the file's lock: sleep a millisecond and try
/// again, for up to [`BUSY_TIMEOUT`]. (SQLite's own handler backs off to
/// 100 ms, far longer than any lock here is held.)
fn busy_wait(tries: i32) -> bool {
    const RETRY: Duration = Duration::from_millis(1);
    if RETRY * tries.max(0) as u32 >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(RETRY);
    true
}

fn migrate(name: &str, conn: &Connection) -> Result<(), BookingDbError> {
    let engine = |e: rusqlite::Error| BookingDbError::Engine {
        name: name.to_string(),
        message: format!("schema: {e}"),
    };
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    conn.execute_batch("BEGIN IMMEDIATE").map_err(engine)?;
    let result = (|| {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS convene_booking_schema (version INTEGER PRIMARY KEY)",
        )
        .map_err(engine)?;
        let found: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM convene_booking_schema",
                [],
                |r| r.get(0),
            )
            .map_err(engine)?;
        if found > known {
            return Err(BookingDbError::TooNew {
                name: name.to_string(),
                found,
                known,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
            conn.execute_batch(sql).map_err(engine)?;
            conn.execute(
                "INSERT INTO convene_booking_schema (version) VALUES (?1)",
                params![version],
            )
            .map_err(engine)?;
        }
        Ok(())
    })();
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    conn.execute_batch(end).map_err(engine)?;
    result
}

fn booking_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<BookingRow> {
    Ok(BookingRow {
        id: r.get(0)?,
        facility: r.get(1)?,
        start: r.get(2)?,
        end: r.get(3)?,
        original_end: r.get(4)?,
        cancelled: r.get(5)?,
    })
}

const BOOKING_COLUMNS: &str = "id, facility, start_min, end_min, original_end, cancelled";

impl BookingDb for SqliteBookingDb {
    fn name(&self) -> String {
        self.path.display().to_string()
    }

    fn owners(&self) -> Result<Vec<OwnerRow>, BookingDbError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT facility, node, token, term FROM booking_owner ORDER BY facility",
            )
            .map_err(|e| self.engine(e))?;
        stmt.query_map([], |r| {
            Ok(OwnerRow {
                facility: r.get(0)?,
                node: r.get(1)?,
                token: r.get::<_, i64>(2)? as u64,
                term: r.get::<_, i64>(3)? as u64,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.engine(e))
    }

    fn claim_unowned(&self, facility: &str, node: u32) -> Result<OwnerRow, BookingDbError> {
        self.write_owner(
            "INSERT INTO booking_owner (facility, node, token, term) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT (facility) DO NOTHING",
            facility,
            node,
            0,
        )
    }

    fn assign(&self, facility: &str, node: u32, term: u64) -> Result<OwnerRow, BookingDbError> {
        self.write_owner(
            "INSERT INTO booking_owner (facility, node, token, term) VALUES (?1, ?2, 1, ?3)
             ON CONFLICT (facility) DO UPDATE SET node = excluded.node, token = token + 1,
                                                  term = excluded.term
             WHERE node != excluded.node AND term <= excluded.term",
            facility,
            node,
            term,
        )
    }

    fn live_bookings(&self, facility: &str) -> Result<Vec<BookingRow>, BookingDbError> {
        let rows: Vec<BookingRow> = {
            let conn = self.reader();
            let mut stmt = conn
                .prepare_cached(&format!(
                    "SELECT {BOOKING_COLUMNS} FROM booking_record
                     WHERE facility = ?1 AND cancelled = 0 ORDER BY start_min"
                ))
                .map_err(|e| self.engine(e))?;
            stmt.query_map(params![facility], booking_row)
                .and_then(|rows| rows.collect())
                .map_err(|e| self.engine(e))?
        };
        for b in &rows {
            check_row(&self.name(), b)?;
        }
        Ok(rows)
    }

    fn replies(&self, facility: &str, since_ms: i64) -> Result<Vec<ReplyRow>, BookingDbError> {
        let conn = self.reader();
        let mut stmt = conn
            .prepare_cached(
                "SELECT client, request_id, checksum, reply, created_ms FROM booking_kept_reply
                 WHERE facility = ?1 AND created_ms >= ?2",
            )
            .map_err(|e| self.engine(e))?;
        stmt.query_map(params![facility, since_ms], |r| {
            Ok(ReplyRow {
                client: r.get(0)?,
                request_id: r.get(1)?,
                checksum: r.get::<_, i64>(2)? as u64,
                reply: r.get(3)?,
                created_ms: r.get(4)?,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.engine(e))
    }

    fn booking(&self, id: &str) -> Result<Option<BookingRow>, BookingDbError> {
        let row = {
            let conn = self.reader();
            conn.prepare_cached(&format!(
                "SELECT {BOOKING_COLUMNS} FROM booking_record WHERE id = ?1"
            ))
            .and_then(|mut stmt| stmt.query_row(params![id], booking_row).optional())
            .map_err(|e| self.engine(e))?
        };
        if let Some(b) = &row {
            check_row(&self.name(), b)?;
        }
        Ok(row)
    }

    fn commit(&self, writes: &[FencedWrite]) -> Result<Vec<Committed>, BookingDbError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.engine(e))?;
        let mut outcomes = Vec::with_capacity(writes.len());
        {
            // The fence: each facility's token, read under the write lock.
            let mut tokens: Vec<(&str, Option<u64>)> = Vec::new();
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO booking_record (id, facility, start_min, end_min, original_end, cancelled)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO UPDATE SET facility = ?2, start_min = ?3, end_min = ?4,
                                                    original_end = ?5, cancelled = ?6",
                )
                .map_err(|e| self.engine(e))?;
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO booking_record ({BOOKING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ))
                .map_err(|e| self.engine(e))?;
            let mut keep = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO booking_kept_reply
                     (client, request_id, facility, checksum, reply, created_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(|e| self.engine(e))?;
            let mut forget = tx
                .prepare_cached(
                    "DELETE FROM booking_kept_reply WHERE client = ?1 AND request_id = ?2",
                )
                .map_err(|e| self.engine(e))?;
            for w in writes {
                let token = match tokens.iter().find(|(f, _)| *f == w.facility) {
                    Some((_, token)) => *token,
                    None => {
                        let token = Self::owner_row(&tx, &w.facility)
                            .map_err(|e| self.engine(e))?
                            .map(|row| row.token);
                        tokens.push((&w.facility, token));
                        token
                    }
                };
                if token != Some(w.token) {
                    outcomes.push(Committed::Fenced);
                    continue;
                }
                if let Some(b) = &w.booking {
                    let statement = if w.created { &mut insert } else { &mut upsert };
                    statement
                        .execute(params![
                            b.id,
                            b.facility,
                            b.start,
                            b.end,
                            b.original_end,
                            b.cancelled
                        ])
                        .map_err(|e| self.engine(e))?;
                }
                for (client, request_id) in &w.forget {
                    forget
                        .execute(params![client, request_id])
                        .map_err(|e| self.engine(e))?;
                }
                if let Some(r) = &w.reply {
                    keep.execute(params![
                        r.client,
                        r.request_id,
                        w.facility,
                        r.checksum as i64,
                        r.reply,
                        r.created_ms
                    ])
                    .map_err(|e| self.engine(e))?;
                }
                outcomes.push(Committed::Stored);
            }
        }
        tx.commit().map_err(|e| self.engine(e))?;
        Ok(outcomes)
    }

    fn prune_replies(&self, before_ms: i64) -> Result<usize, BookingDbError> {
        self.writer()
            .execute(
                "DELETE FROM booking_kept_reply WHERE created_ms < ?1",
                params![before_ms],
            )
            .map_err(|e| self.engine(e))
    }

    fn import(&self, bookings: &[BookingRow]) -> Result<usize, BookingDbError> {
        let mut conn = self.writer();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| self.engine(e))?;
        let mut added = 0;
        {
            let mut insert = tx
                .prepare_cached(&format!(
                    "INSERT INTO booking_record ({BOOKING_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                     ON CONFLICT (id) DO NOTHING"
                ))
                .map_err(|e| self.engine(e))?;
            for b in bookings {
                added += insert
                    .execute(params![
                        b.id,
                        b.facility,
                        b.start,
                        b.end,
                        b.original_end,
                        b.cancelled
                    ])
                    .map_err(|e| self.engine(e))?;
            }
        }
        tx.commit().map_err(|e| self.engine(e))?;
        Ok(added)
    }
}

#[cfg(test)]
mod tests;
