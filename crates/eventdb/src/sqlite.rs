//! The SQLite backend: one file shared by every node on one machine.
//!
//! # Connections
//!
//! SQLite allows one writer at a time per file and, in WAL mode, any
//! number of readers alongside it. So a [`SqliteDb`] keeps
//!
//! - one **writer** connection, used by a commit thread: the changes
//!   callers ask for meanwhile run together in one `BEGIN IMMEDIATE`
//!   transaction, each in a savepoint, with cached prepared statements
//!   (group commit, in `group_commit.rs`);
//! - a few **reader** connections, taken from a small pool for each read
//!   and given back after (opened on first need, at most [`MAX_IDLE_READERS`]
//!   kept).
//!
//! Other nodes (threads or processes) open the same file with their own
//! connections; SQLite's file locks order their writers. A writer that
//! finds the file locked retries every millisecond (`busy_wait`) for
//! up to [`BUSY_TIMEOUT`] before giving up with [`DbError::Unavailable`].
//!
//! SQLite calls block, so no operation runs on the tasks serving the
//! network: reads run on Tokio's blocking pool (`spawn_blocking`), writes
//! on the commit thread. The arguments are copied into the closure first
//! (it must own what it uses), a few small strings per call.
//!
//! # Pragmas
//!
//! - `journal_mode = WAL`: readers never block the writer nor the writer
//!   them, and a commit appends to the log instead of rewriting pages.
//! - `synchronous = FULL`: a commit returns once the log is on disk
//!   (`fsync`), so an answer sent after it (a constraint stored, an event
//!   created) survives a power cut. `NORMAL` would sync the log only at
//!   checkpoints: the file would stay consistent, but the last commits a
//!   caller was told about could vanish. Group commit shares the cost: one
//!   `fsync` per batch of writes, not per write.
//! - `foreign_keys = ON`: SQLite checks the `REFERENCES` clauses only when
//!   asked, per connection.
//!
//! `sqlite::memory:` gives a private in-memory database (for tests): it
//! exists only in its one connection, so reads use the writer too.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use convene_events::db::{
    AccountBooking, Constraint, DbFuture, Event, EventDb, EventSummary, NewEvent, OpenEvent,
    PageOf, Participant, Session, User, decode_availability, encode_availability,
};
use convene_events::{Availability, DbError, Partial};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};

use crate::error::{OpenError, from_sqlite};
use crate::group_commit::GroupCommit;
use crate::migrations::{self, SCHEMA_TABLE};
use crate::rows::{EventRow, OPEN_EVENTS_CREATED, PageQuery, SummaryRow, dedup_participants};
use convene_events::zone::now_seconds;

/// How long a statement waits for another connection's write lock.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many idle reader connections a [`SqliteDb`] keeps.
pub const MAX_IDLE_READERS: usize = 4;

/// The shared database in one SQLite file.
pub struct SqliteDb {
    inner: Arc<Inner>,
}

struct Inner {
    /// The file, or `None` for a private in-memory database.
    path: Option<PathBuf>,
    /// Used by the commit thread, and by the migration before it starts
    /// (and by every read of an in-memory database).
    writer: Arc<Mutex<Connection>>,
    readers: Mutex<Vec<Connection>>,
    commits: GroupCommit,
}

impl SqliteDb {
    /// Opens (creating it and its directory if needed) the database file
    /// at `path`, configures it and brings its schema up to date.
    ///
    /// This blocks: async callers use [`crate::open()`], which runs it on the
    /// blocking pool.
    ///
    /// Nodes started at the same moment open one file at once. SQLite waits
    /// for a lock through the busy handler almost everywhere, but not in a
    /// few places an opener goes through (the switch to WAL mode, the
    /// recovery of a WAL index another connection is building): there it
    /// answers "database is locked" at once. So an open that fails that
    /// way is tried again, from the start, until [`BUSY_TIMEOUT`] has
    /// passed; any other failure is final.
    pub fn open(path: &Path) -> Result<SqliteDb, OpenError> {
        let started = std::time::Instant::now();
        loop {
            match Self::open_once(path) {
                Err(OpenError::Sqlite { error, .. })
                    if is_busy(&error) && started.elapsed() < BUSY_TIMEOUT =>
                {
                    tracing::debug!(path = %path.display(), "the database was locked while opening; trying again");
                    std::thread::sleep(BUSY_RETRY * 20);
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> Result<SqliteDb, OpenError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|error| OpenError::CreateDir {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        let sqlite = |error| OpenError::Sqlite {
            path: path.to_path_buf(),
            error,
        };
        let writer = connect(path).map_err(sqlite)?;
        // WAL is a property of the file: set once, by the writer, while no
        // transaction is open. Two nodes may do it at once; the loser waits
        // (busy timeout) and finds it done.
        let mode: String = writer
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(sqlite)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(path = %path.display(), mode, "SQLite refused WAL mode");
        }
        SqliteDb::start(Some(path.to_path_buf()), writer)
    }

    /// A private, empty in-memory database (for tests): it vanishes when
    /// dropped and no other connection can see it.
    pub fn open_in_memory() -> Result<SqliteDb, OpenError> {
        let path = PathBuf::from(":memory:");
        let conn = Connection::open_in_memory()
            .and_then(|c| configure(&c).map(|()| c))
            .map_err(|error| OpenError::Sqlite {
                path: path.clone(),
                error,
            })?;
        SqliteDb::start(None, conn)
    }

    /// Brings the schema up to date on `writer`, then starts the commit
    /// thread on it.
    fn start(path: Option<PathBuf>, writer: Connection) -> Result<SqliteDb, OpenError> {
        let name = path
            .as_deref()
            .unwrap_or(Path::new(":memory:"))
            .to_path_buf();
        let writer = Arc::new(Mutex::new(writer));
        migrate(&name_of(path.as_deref()), &writer)?;
        let commits = GroupCommit::start(writer.clone())
            .map_err(|error| OpenError::CommitThread { path: name, error })?;
        Ok(SqliteDb {
            inner: Arc::new(Inner {
                path,
                writer,
                readers: Mutex::new(Vec::new()),
                commits,
            }),
        })
    }

    /// Runs `f` on the writer connection in the next group commit;
    /// returns once its batch is on disk. An error (returned by `f`, or a
    /// corrupt value it found) rolls back `f`'s changes alone.
    async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, SqliteFailure> + Send + 'static,
    {
        self.inner
            .commits
            .write(move |conn| f(conn).map_err(|e| e.0))
            .await
    }

    /// Runs `f` on a reader connection, on the blocking pool. `f` sees one
    /// snapshot of the database (a read transaction around it).
    async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let inner = self.inner.clone();
        run_blocking(move || {
            if inner.path.is_none() {
                return f(&inner.writer());
            }
            let mut conn = inner.take_reader()?;
            let result = (|| {
                let tx = conn.transaction().map_err(from_sqlite)?;
                let value = f(&tx)?;
                tx.commit().map_err(from_sqlite)?;
                Ok(value)
            })();
            inner.give_back(conn);
            result
        })
        .await
    }
}

/// Applies the migrations the file lacks, all in one `BEGIN IMMEDIATE`
/// transaction: it takes the write lock before reading the version, so
/// two nodes opening a new file at once apply each step exactly once.
fn migrate(name: &str, writer: &Mutex<Connection>) -> Result<(), OpenError> {
    let name = name.to_string();
    let mut conn = writer.lock().unwrap_or_else(|e| e.into_inner());
    let list = migrations::SQLITE;
    let latest = migrations::latest(list);
    let failed = |version: i64| {
        let name = name.clone();
        move |e: rusqlite::Error| OpenError::Migrate {
            url: name,
            version,
            error: Box::new(e),
        }
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed(0))?;
    tx.execute_batch(SCHEMA_TABLE).map_err(failed(0))?;
    let found: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM convene_events_schema",
            [],
            |r| r.get(0),
        )
        .map_err(failed(0))?;
    if found > latest {
        return Err(OpenError::TooNew {
            url: name,
            found,
            known: latest,
        });
    }
    for m in list.iter().filter(|m| m.version > found) {
        for statement in m.statements {
            tx.execute_batch(statement).map_err(failed(m.version))?;
        }
        tx.execute(
            "INSERT INTO convene_events_schema (version, name, applied_at) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, now_seconds()],
        )
        .map_err(failed(m.version))?;
        tracing::info!(db = %name, version = m.version, step = m.name, "events schema migrated");
    }
    tx.commit().map_err(failed(latest))
}

/// The database's name in messages.
fn name_of(path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("sqlite://{}", p.display()),
        None => "sqlite::memory:".to_string(),
    }
}

impl Inner {
    fn writer(&self) -> MutexGuard<'_, Connection> {
        // Every change is a transaction, so a panic while holding the lock
        // cannot leave SQLite half-written: a poisoned lock is still usable.
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take_reader(&self) -> Result<Connection, DbError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let path = self.path.as_deref().unwrap_or(Path::new(":memory:"));
                let conn = connect(path).map_err(from_sqlite)?;
                conn.pragma_update(None, "query_only", true)
                    .map_err(from_sqlite)?;
                Ok(conn)
            }
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Runs a blocking closure on Tokio's blocking pool and turns its error
/// into a [`DbError`].
async fn run_blocking<T, E, F>(f: F) -> Result<T, DbError>
where
    T: Send + 'static,
    E: Into<SqliteFailure>,
    F: FnOnce() -> Result<T, E> + Send + 'static,
{
    match tokio::task::spawn_blocking(move || f().map_err(|e| e.into().0)).await {
        Ok(result) => result,
        Err(e) => Err(DbError::Query(format!("SQLite task failed: {e}"))),
    }
}

/// Either error a blocking closure may return, as a [`DbError`].
struct SqliteFailure(DbError);

impl From<rusqlite::Error> for SqliteFailure {
    fn from(e: rusqlite::Error) -> Self {
        SqliteFailure(from_sqlite(e))
    }
}

impl From<DbError> for SqliteFailure {
    fn from(e: DbError) -> Self {
        SqliteFailure(e)
    }
}

/// Opens one connection to the file and sets its per-connection pragmas.
fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&conn)?;
    Ok(conn)
}

/// The per-connection settings (see the module documentation).
fn configure(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_handler(Some(busy_wait))?;
    conn.execute_batch(
        "PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;",
    )?;
    // Room for every statement of this module, so none is ever re-prepared.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

/// Whether SQLite refused because another connection held the file.
fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// How long a connection waiting for a locked file sleeps between two tries at a locked file.
pub const BUSY_RETRY: Duration = Duration::from_millis(1);

/// Called by SQLite when the file is locked by another connection, with the
/// number of times it was already called for this lock; returns whether to
/// try again. It sleeps [`BUSY_RETRY`] and says yes, until about
/// [`BUSY_TIMEOUT`] has passed.
///
/// SQLite's own handler (`PRAGMA busy_timeout`) backs off from 1 ms to
/// 100 ms between tries. A write here holds the lock for tens of
/// microseconds, so a node that lost a few times in a row then sleeps far
/// longer than the lock is ever held, while the other nodes write: with
/// three nodes on one file and 64 writing tasks, some calls waited 400 ms.
/// Shorter sleeps (or yielding instead of sleeping) cost throughput
/// instead: every wake-up is a failed try that takes CPU from the writer
/// holding the lock. A steady 1 ms measured best on both counts (see the
/// `add_constraint_throughput` test).
fn busy_wait(tries: i32) -> bool {
    if busy_waited(tries) >= BUSY_TIMEOUT {
        return false;
    }
    std::thread::sleep(BUSY_RETRY);
    true
}

/// How long [`busy_wait`] has slept after `tries` calls (at least).
fn busy_waited(tries: i32) -> Duration {
    BUSY_RETRY * tries.max(0) as u32
}

impl EventDb for SqliteDb {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn create_user<'a>(&'a self, user: &'a User) -> DbFuture<'a, ()> {
        let user = user.clone();
        Box::pin(self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO users (name, password_hash, time_zone, created_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                user.name,
                user.password_hash,
                user.time_zone,
                now_seconds()
            ])?;
            Ok(())
        }))
    }

    fn user<'a>(&'a self, name: &'a str) -> DbFuture<'a, Option<User>> {
        let name = name.to_string();
        Box::pin(self.read(move |conn| {
            conn.prepare_cached("SELECT name, password_hash, time_zone FROM users WHERE name = ?1")
                .and_then(|mut s| {
                    s.query_row([name], |r| {
                        Ok(User {
                            name: r.get(0)?,
                            password_hash: r.get(1)?,
                            time_zone: r.get(2)?,
                        })
                    })
                    .optional()
                })
                .map_err(from_sqlite)
        }))
    }

    fn unknown_users<'a>(&'a self, names: &'a [String]) -> DbFuture<'a, Vec<String>> {
        let names = names.to_vec();
        Box::pin(self.read(move |conn| {
            // One indexed lookup per name, on one cached statement: as fast
            // as an IN list here (no network), and no list to build.
            let mut known = conn
                .prepare_cached("SELECT 1 FROM users WHERE name = ?1")
                .map_err(from_sqlite)?;
            let mut unknown = Vec::new();
            for name in names {
                if !known.exists([&name]).map_err(from_sqlite)? {
                    unknown.push(name);
                }
            }
            Ok(unknown)
        }))
    }

    fn create_session<'a>(&'a self, session: &'a Session) -> DbFuture<'a, ()> {
        let s = session.clone();
        Box::pin(self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (token_hash, user_name, csrf, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![s.token_hash, s.user, s.csrf, s.expires_at])?;
            Ok(())
        }))
    }

    fn session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, Option<Session>> {
        let token_hash = token_hash.to_string();
        Box::pin(self.read(move |conn| {
            conn.prepare_cached(
                "SELECT token_hash, user_name, csrf, expires_at FROM sessions WHERE token_hash = ?1",
            )
            .and_then(|mut s| {
                s.query_row([token_hash], |r| {
                    Ok(Session {
                        token_hash: r.get(0)?,
                        user: r.get(1)?,
                        csrf: r.get(2)?,
                        expires_at: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(from_sqlite)
        }))
    }

    fn delete_session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, ()> {
        let token_hash = token_hash.to_string();
        Box::pin(self.write(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE token_hash = ?1")?
                .execute([token_hash])?;
            Ok(())
        }))
    }

    fn save_account_booking<'a>(&'a self, booking: &'a AccountBooking) -> DbFuture<'a, ()> {
        let b = booking.clone();
        Box::pin(self.write(move |conn| {
            conn.prepare_cached(
                "INSERT OR REPLACE INTO account_bookings (id, account, facility, start_min, end_min)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![b.id, b.account, b.facility, b.start, b.end])?;
            Ok(())
        }))
    }

    fn account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<AccountBooking>> {
        let id = id.to_string();
        Box::pin(self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, account, facility, start_min, end_min
                 FROM account_bookings WHERE id = ?1",
            )
            .and_then(|mut s| s.query_row([id], account_booking_row).optional())
            .map_err(from_sqlite)
        }))
    }

    fn account_bookings<'a>(&'a self, account: &'a str) -> DbFuture<'a, Vec<AccountBooking>> {
        let account = account.to_string();
        Box::pin(self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, account, facility, start_min, end_min
                 FROM account_bookings WHERE account = ?1 ORDER BY facility, start_min",
            )
            .and_then(|mut s| {
                s.query_map([account], account_booking_row)?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(from_sqlite)
        }))
    }

    fn delete_account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, ()> {
        let id = id.to_string();
        Box::pin(self.write(move |conn| {
            conn.prepare_cached("DELETE FROM account_bookings WHERE id = ?1")?
                .execute([id])?;
            Ok(())
        }))
    }

    fn create_event<'a>(&'a self, event: &'a NewEvent) -> DbFuture<'a, ()> {
        let e = event.clone();
        Box::pin(self.write(move |tx| {
            tx.prepare_cached(
                "INSERT INTO events (id, name, description, creator, deadline, leader, state,
                                     result, created_at, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'open', NULL, ?7, NULL)",
            )?
            .execute(params![
                e.id,
                e.name,
                e.description,
                e.creator,
                e.deadline,
                e.leader,
                e.created_at
            ])?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO participants (event_id, user_name, position, answered)
                     VALUES (?1, ?2, ?3, FALSE)",
                )?;
                for (position, name) in dedup_participants(&e).into_iter().enumerate() {
                    insert.execute(params![e.id, name, position as i64])?;
                }
            }
            Ok(())
        }))
    }

    fn event<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<Event>> {
        let id = id.to_string();
        Box::pin(self.read(move |conn| {
            let row = conn
                .prepare_cached(
                    "SELECT id, name, description, creator, deadline, leader, state, result,
                            created_at
                     FROM events WHERE id = ?1",
                )
                .and_then(|mut s| {
                    s.query_row([&id], |r| {
                        Ok(EventRow {
                            id: r.get(0)?,
                            name: r.get(1)?,
                            description: r.get(2)?,
                            creator: r.get(3)?,
                            deadline: r.get(4)?,
                            leader: r.get(5)?,
                            state: r.get(6)?,
                            result: r.get(7)?,
                            created_at: r.get(8)?,
                        })
                    })
                    .optional()
                })
                .map_err(from_sqlite)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let participants = conn
                .prepare_cached(
                    "SELECT user_name, answered FROM participants
                     WHERE event_id = ?1 ORDER BY position",
                )
                .and_then(|mut s| {
                    s.query_map([&id], |r| {
                        Ok(Participant {
                            name: r.get(0)?,
                            answered: r.get(1)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()
                })
                .map_err(from_sqlite)?;
            row.into_event(participants).map(Some)
        }))
    }

    fn events_page<'a>(
        &'a self,
        user: &'a str,
        page: &'a PageOf,
        limit: usize,
    ) -> DbFuture<'a, Vec<EventSummary>> {
        let user = user.to_string();
        let page = page.clone();
        Box::pin(self.read(move |conn| {
            let query = PageQuery::new(&user, &page, limit);
            let read = |r: &rusqlite::Row| {
                Ok(SummaryRow {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    creator: r.get(2)?,
                    deadline: r.get(3)?,
                    state: r.get(4)?,
                    result: r.get(5)?,
                    answered: r.get(6)?,
                })
            };
            let rows = conn
                .prepare_cached(query.sql)
                .and_then(|mut s| match query.place {
                    None => s
                        .query_map(params![query.user, query.limit], read)?
                        .collect::<Result<Vec<_>, _>>(),
                    Some((deadline, id)) => s
                        .query_map(
                            params![query.user, deadline, deadline, id, query.limit],
                            read,
                        )?
                        .collect::<Result<Vec<_>, _>>(),
                })
                .map_err(from_sqlite)?;
            query.summaries(rows)
        }))
    }

    fn open_events_created<'a>(&'a self, creator: &'a str, now: i64) -> DbFuture<'a, u64> {
        let creator = creator.to_string();
        Box::pin(self.read(move |conn| {
            let count: i64 = conn
                .prepare_cached(OPEN_EVENTS_CREATED)
                .and_then(|mut s| s.query_row(params![creator, now], |r| r.get(0)))
                .map_err(from_sqlite)?;
            Ok(u64::try_from(count).unwrap_or_default())
        }))
    }

    fn add_constraint<'a>(&'a self, constraint: &'a Constraint) -> DbFuture<'a, bool> {
        let c = constraint.clone();
        let availability = encode_availability(&c.availability);
        Box::pin(self.write(move |tx| {
            // Inserts nothing unless the event exists and is open: the check
            // and the insert are one statement in the write transaction, so
            // no `finish` can slip in between.
            let added = tx
                .prepare_cached(
                    "INSERT INTO constraints (event_id, user_name, server, origin,
                                              availability, submitted_at)
                     SELECT id, ?2, ?3, ?3, ?4, ?5 FROM events WHERE id = ?1 AND state = 'open'",
                )?
                .execute(params![
                    c.event,
                    c.user,
                    c.server,
                    availability,
                    c.submitted_at
                ])?;
            if added == 0 {
                return Ok(false);
            }
            tx.prepare_cached(
                "UPDATE participants SET answered = TRUE
                 WHERE event_id = ?1 AND user_name = ?2 AND answered = FALSE",
            )?
            .execute(params![c.event, c.user])?;
            Ok(true)
        }))
    }

    fn constraints<'a>(
        &'a self,
        event: &'a str,
        server: &'a str,
    ) -> DbFuture<'a, Vec<Availability>> {
        let (event, server) = (event.to_string(), server.to_string());
        Box::pin(self.read(move |conn| {
            let texts = conn
                .prepare_cached(
                    "SELECT availability FROM constraints
                     WHERE event_id = ?1 AND (server = ?2 OR origin = ?2) ORDER BY id",
                )
                .and_then(|mut s| {
                    s.query_map([event, server], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()
                })
                .map_err(from_sqlite)?;
            texts.iter().map(|t| decode_availability(t)).collect()
        }))
    }

    fn open_events(&self) -> DbFuture<'_, Vec<OpenEvent>> {
        Box::pin(self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, leader, deadline FROM events WHERE state = 'open'
                 ORDER BY deadline, id",
            )
            .and_then(|mut s| {
                s.query_map([], |r| {
                    Ok(OpenEvent {
                        id: r.get(0)?,
                        leader: r.get(1)?,
                        deadline: r.get(2)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()
            })
            .map_err(from_sqlite)
        }))
    }

    fn set_leader<'a>(&'a self, event: &'a str, from: &'a str, to: &'a str) -> DbFuture<'a, bool> {
        let (event, from, to) = (event.to_string(), from.to_string(), to.to_string());
        Box::pin(self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE events SET leader = ?3
                     WHERE id = ?1 AND leader = ?2 AND state = 'open'",
                )?
                .execute(params![event, from, to])?;
            Ok(changed == 1)
        }))
    }

    fn move_constraints<'a>(&'a self, from: &'a str, to: &'a str) -> DbFuture<'a, Vec<String>> {
        let (from, to) = (from.to_string(), to.to_string());
        Box::pin(self.write(move |conn| {
            // RETURNING names exactly the rows this statement moved.
            let mut events = conn
                .prepare_cached(
                    "UPDATE constraints SET server = ?2 WHERE server = ?1 RETURNING event_id",
                )?
                .query_map(params![from, to], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            events.sort();
            events.dedup();
            Ok(events)
        }))
    }

    fn finish<'a>(
        &'a self,
        event: &'a str,
        collected: &'a Partial,
        answered: &'a [String],
    ) -> DbFuture<'a, Option<Availability>> {
        let (event, mut result, answered) =
            (event.to_string(), collected.clone(), answered.to_vec());
        // A corrupt stored value is an error of this write, which is then
        // rolled back, unfinished.
        Box::pin(self.write(move |tx| {
            let state: Option<String> = tx
                .prepare_cached("SELECT state FROM events WHERE id = ?1")?
                .query_row([&event], |r| r.get(0))
                .optional()?;
            if state.as_deref() != Some("open") {
                return Ok(None);
            }
            // Only the silent servers' backups: the answering ones sent
            // theirs folded already (one placeholder per server).
            let mut text = "SELECT availability FROM constraints WHERE event_id = ?1".to_string();
            if !answered.is_empty() {
                let marks: Vec<String> = (2..answered.len() + 2).map(|i| format!("?{i}")).collect();
                text.push_str(&format!(" AND origin NOT IN ({})", marks.join(", ")));
            }
            let texts = tx
                .prepare_cached(&text)?
                .query_map(
                    rusqlite::params_from_iter(std::iter::once(&event).chain(&answered)),
                    |r| r.get::<_, String>(0),
                )?
                .collect::<Result<Vec<_>, _>>()?;
            for text in texts {
                result.fold(&decode_availability(&text)?);
            }
            let result = result.into_result();
            tx.prepare_cached(
                "UPDATE events SET state = 'final', result = ?2, finished_at = ?3
                     WHERE id = ?1 AND state = 'open'",
            )?
            .execute(params![event, encode_availability(&result), now_seconds()])?;
            tx.prepare_cached("DELETE FROM constraints WHERE event_id = ?1")?
                .execute([&event])?;
            Ok(Some(result))
        }))
    }
}

/// One `account_bookings` row, selected as `id, account, facility,
/// start_min, end_min`.
fn account_booking_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AccountBooking> {
    Ok(AccountBooking {
        id: r.get(0)?,
        account: r.get(1)?,
        facility: r.get(2)?,
        start: r.get(3)?,
        end: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(conn: &Connection) -> i64 {
        conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap()
    }

    /// 2 is FULL: every commit waits for the log to reach the disk.
    #[test]
    fn every_connection_syncs_each_commit_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDb::open(&dir.path().join("events.db")).unwrap();
        assert_eq!(synchronous(&db.inner.writer()), 2);
        let reader = db.inner.take_reader().unwrap();
        assert_eq!(synchronous(&reader), 2);
        let journal: String = reader
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    /// Nodes starting together: the file held by another connection (here
    /// an exclusive lock in the old journal mode, the state a first opener
    /// can leave it in for a moment) makes an opener wait, not fail.
    #[test]
    fn opening_a_file_another_connection_holds_waits_for_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("BEGIN EXCLUSIVE; CREATE TABLE held (x INTEGER);")
            .unwrap();
        let opener = {
            let path = path.clone();
            std::thread::spawn(move || SqliteDb::open(&path).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(300));
        holder.execute_batch("COMMIT").unwrap();
        drop(holder);
        opener.join().unwrap().unwrap();
        assert!(is_busy(&rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None
        )));
    }

    fn user(name: &str) -> User {
        User {
            name: name.into(),
            password_hash: "$argon2id$x".into(),
            time_zone: "UTC".into(),
        }
    }

    /// Writes queued together commit together, and one that fails (a
    /// taken name) fails alone: the others are stored and answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_write_in_a_batch_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(SqliteDb::open(&dir.path().join("events.db")).unwrap());
        db.create_user(&user("taken")).await.unwrap();
        let mut writes = tokio::task::JoinSet::new();
        for i in 0..200 {
            let db = db.clone();
            let name = if i % 50 == 7 {
                "taken".to_string()
            } else {
                format!("u{i}")
            };
            writes.spawn(async move { (name.clone(), db.create_user(&user(&name)).await) });
        }
        let mut duplicates = 0;
        for (name, result) in writes.join_all().await {
            match result {
                Ok(()) => assert!(db.user(&name).await.unwrap().is_some(), "{name}"),
                Err(DbError::Duplicate) => {
                    assert_eq!(name, "taken");
                    duplicates += 1;
                }
                Err(e) => panic!("{name}: {e}"),
            }
        }
        assert_eq!(duplicates, 4);
        drop(db);
        let again = SqliteDb::open(&dir.path().join("events.db")).unwrap();
        assert!(again.user("u199").await.unwrap().is_some());
    }

    #[test]
    fn the_busy_wait_gives_up_after_the_timeout() {
        assert!(busy_waited(0).is_zero());
        assert_eq!(busy_waited(-1), Duration::ZERO);
        assert!(busy_waited(4_999) < BUSY_TIMEOUT);
        assert!(busy_waited(5_000) >= BUSY_TIMEOUT);
        assert!(!busy_wait(5_000));
    }
}
