//! The MySQL/MariaDB and PostgreSQL backends: one implementation of
//! [`EventDb`] over sqlx, written once for both engines.
//!
//! # What differs between the engines, and where it is handled
//!
//! The two servers speak nearly the same SQL for what the service needs.
//! [`SqlxDb`] holds the statements and the logic (transactions, chunking,
//! compare-and-set checks); an [`Engine`] supplies the few things that
//! differ, implemented in [`mysql`] and [`postgres`]:
//!
//! - **placeholders**: statements are written with `?` (MySQL's); for
//!   PostgreSQL, [`sql`] rewrites them to `$1`, `$2`, ... (no statement here
//!   has a `?` inside a string literal);
//! - **running a statement**: sqlx's query builder is typed by engine, so
//!   the engine binds the [`Arg`]s and runs the query;
//! - **reading a column**: MySQL reports `utf8mb4_bin` text columns as
//!   binary, which sqlx will not decode as a `String`, so MySQL reads text
//!   as bytes and checks they are UTF-8;
//! - **locks**: reading an event row under a shared lock is `FOR SHARE`
//!   in PostgreSQL and `LOCK IN SHARE MODE` in MySQL/MariaDB; the schema
//!   lock held while migrating is `pg_advisory_lock` or `GET_LOCK`;
//! - **`UPDATE ... RETURNING`**: PostgreSQL has it, MySQL does not.
//!
//! # Concurrency
//!
//! Every method that writes more than one row runs in one transaction.
//! The compare-and-set steps rely on row locks, which both engines take on
//! `UPDATE` and re-check after waiting: of two `finish` calls, the second
//! waits for the first to commit, then finds the event no longer open.
//! `add_constraint` reads the event row under a shared lock, so a
//! concurrent `finish` (which needs the row exclusively) either commits
//! first, and the constraint is refused, or waits, and then counts the
//! constraint in the result and deletes it with the others: no backup
//! outlives its event's result, and none is left out of it.
//!
//! # Connections
//!
//! A [`sqlx::Pool`] of up to [`MAX_CONNECTIONS`] connections per node. A
//! connection idle for longer than [`PING_AFTER_IDLE`] is pinged before
//! use (a restarted server drops connections), a busy one is not (a ping
//! per call would double the round trips).

pub mod mysql;
pub mod postgres;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use convene_events::db::{
    AccountBooking, Constraint, DbFuture, Event, EventDb, EventSummary, NewEvent, OpenEvent,
    PageOf, Participant, Session, User, decode_availability, encode_availability,
};
use convene_events::{Availability, DbError, Partial};
use sqlx::pool::PoolOptions;
use sqlx::{Connection, Database, Pool};

use crate::error::{OpenError, from_sqlx, redact};
use crate::migrations::{self, Migration, SCHEMA_TABLE};
use crate::rows::{EventRow, OPEN_EVENTS_CREATED, PageQuery, SummaryRow, dedup_participants};
use convene_events::zone::now_seconds;

/// The most connections one node opens to the server.
pub const MAX_CONNECTIONS: u32 = 10;

/// How long a call waits for a free connection (or a new one) before
/// failing with [`DbError::Unavailable`].
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A pooled connection idle this long is pinged before it is used.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(10);

/// How many names one `IN (...)` list holds in [`EventDb::unknown_users`].
pub const NAMES_PER_QUERY: usize = 500;

/// How many participants one multi-row `INSERT` holds in
/// [`EventDb::create_event`] (3 values each, well under both engines'
/// limit of 65,535 per statement).
pub const PARTICIPANTS_PER_INSERT: usize = 1_000;

/// A boxed, sendable future: what an [`Engine`]'s methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One value bound to a placeholder.
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a> {
    /// Text.
    Text(&'a str),
    /// A 64-bit integer.
    Int(i64),
    /// Bytes.
    Bytes(&'a [u8]),
    /// Text or NULL (a typed NULL: PostgreSQL wants a NULL's type).
    OptText(Option<&'a str>),
    /// A 64-bit integer or NULL.
    OptInt(Option<i64>),
}

/// What one engine supplies to [`SqlxDb`] (see the module documentation).
pub trait Engine: Database {
    /// `"mysql"` or `"postgres"`, what [`EventDb::backend`] returns.
    const BACKEND: &'static str;
    /// The schema steps for this engine.
    const MIGRATIONS: &'static [Migration];
    /// Whether placeholders are numbered (`$1`) rather than `?`.
    const NUMBERED_PLACEHOLDERS: bool;
    /// The clause that ends a `SELECT` reading rows under a shared lock.
    const SHARE_LOCK: &'static str;
    /// Whether `UPDATE ... RETURNING` is available.
    const UPDATE_RETURNING: bool;
    /// Whether a `WITH` clause may insert and update (PostgreSQL's
    /// data-modifying CTEs), so a submission is one statement.
    const WRITABLE_CTE: bool;
    /// Whether DDL is transactional (a migration step and its record commit
    /// together).
    const TRANSACTIONAL_DDL: bool;

    /// Runs `sql` with `args`; the number of rows it changed.
    fn execute<'a>(
        conn: &'a mut Self::Connection,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>>;

    /// Runs `sql` with `args`; the rows it returned.
    fn fetch<'a>(
        conn: &'a mut Self::Connection,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<Vec<Self::Row>, sqlx::Error>>;

    /// Column `i` as text.
    fn text(row: &Self::Row, i: usize) -> Result<String, DbError>;
    /// Column `i` as text or NULL.
    fn opt_text(row: &Self::Row, i: usize) -> Result<Option<String>, DbError>;
    /// Column `i` as an integer.
    fn int(row: &Self::Row, i: usize) -> Result<i64, DbError>;
    /// Column `i` as an integer or NULL.
    fn opt_int(row: &Self::Row, i: usize) -> Result<Option<i64>, DbError>;
    /// Column `i` as a boolean.
    fn flag(row: &Self::Row, i: usize) -> Result<bool, DbError>;
    /// Column `i` as bytes.
    fn bytes(row: &Self::Row, i: usize) -> Result<Vec<u8>, DbError>;

    /// Takes the lock that serializes migrations between nodes.
    fn lock_schema(conn: &mut Self::Connection) -> BoxFuture<'_, Result<(), sqlx::Error>>;
    /// Releases it.
    fn unlock_schema(conn: &mut Self::Connection) -> BoxFuture<'_, Result<(), sqlx::Error>>;
}

/// `text` with its `?` placeholders as the engine wants them.
pub fn sql<E: Engine>(text: &str) -> Cow<'_, str> {
    if !E::NUMBERED_PLACEHOLDERS {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut n = 0;
    for ch in text.chars() {
        if ch == '?' {
            n += 1;
            let _ = write!(out, "${n}");
        } else {
            out.push(ch);
        }
    }
    Cow::Owned(out)
}

/// `(?, ?, ?), (?, ?, ?)`: `rows` groups of `per_row` placeholders.
fn value_groups(rows: usize, per_row: &str) -> String {
    let mut out = String::with_capacity(rows * (per_row.len() + 2));
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(per_row);
    }
    out
}

/// The shared database on a MySQL/MariaDB or PostgreSQL server.
pub struct SqlxDb<E: Engine> {
    pub(crate) pool: Pool<E>,
}

/// The shared database on a MySQL or MariaDB server.
pub type MySqlDb = SqlxDb<sqlx::MySql>;

/// The shared database on a PostgreSQL server.
pub type PostgresDb = SqlxDb<sqlx::Postgres>;

impl<E: Engine> SqlxDb<E> {
    /// Connects once (so a wrong URL or a server that is down fails now,
    /// with a clear error), brings the schema up to date on that
    /// connection, and makes the pool the service uses.
    pub async fn open(
        url: &str,
        options: <E::Connection as Connection>::Options,
    ) -> Result<Self, OpenError> {
        let shown = redact(url);
        let mut conn =
            E::Connection::connect_with(&options)
                .await
                .map_err(|e| OpenError::Connect {
                    url: shown.clone(),
                    error: Box::new(e),
                })?;
        let migrated = migrate::<E>(&mut conn, &shown).await;
        // Closing politely can fail if the server went away meanwhile;
        // what matters is the migration's outcome.
        let _ = conn.close().await;
        migrated?;
        let pool = PoolOptions::<E>::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(0)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_AFTER_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Ok(SqlxDb { pool })
    }

    /// The pool's connections now: open, and idle of those.
    pub fn pool_use(&self) -> convene_metrics::PoolUse {
        convene_metrics::PoolUse {
            open: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }
    }

    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<E>, DbError> {
        self.pool.acquire().await.map_err(from_sqlx)
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, E>, DbError> {
        self.pool.begin().await.map_err(from_sqlx)
    }
}

/// Applies the steps the database lacks, holding the engine's schema lock
/// so that nodes starting together apply each step once.
async fn migrate<E: Engine>(conn: &mut E::Connection, url: &str) -> Result<(), OpenError> {
    let failed = |version: i64| {
        move |e: DbError| OpenError::Migrate {
            url: url.to_string(),
            version,
            error: Box::new(e),
        }
    };
    E::lock_schema(conn)
        .await
        .map_err(from_sqlx)
        .map_err(failed(0))?;
    let result = migrate_locked::<E>(conn, url).await;
    let unlocked = E::unlock_schema(conn).await;
    result?;
    unlocked.map_err(from_sqlx).map_err(failed(0))
}

async fn migrate_locked<E: Engine>(conn: &mut E::Connection, url: &str) -> Result<(), OpenError> {
    let list = E::MIGRATIONS;
    let latest = migrations::latest(list);
    let failed = |version: i64| {
        move |e: DbError| OpenError::Migrate {
            url: url.to_string(),
            version,
            error: Box::new(e),
        }
    };
    E::execute(conn, SCHEMA_TABLE, &[])
        .await
        .map_err(from_sqlx)
        .map_err(failed(0))?;
    let rows = E::fetch(
        conn,
        "SELECT COALESCE(MAX(version), 0) FROM convene_events_schema",
        &[],
    )
    .await
    .map_err(from_sqlx)
    .map_err(failed(0))?;
    let found = match rows.first() {
        Some(row) => E::int(row, 0).map_err(failed(0))?,
        None => 0,
    };
    if found > latest {
        return Err(OpenError::TooNew {
            url: url.to_string(),
            found,
            known: latest,
        });
    }
    for m in list.iter().filter(|m| m.version > found) {
        apply::<E>(conn, m).await.map_err(failed(m.version))?;
        tracing::info!(db = %url, version = m.version, step = m.name, "events schema migrated");
    }
    Ok(())
}

/// One step and its record, in a transaction (which MySQL commits at the
/// first DDL statement; its steps are re-runnable instead).
async fn apply<E: Engine>(conn: &mut E::Connection, m: &Migration) -> Result<(), DbError> {
    let record =
        sql::<E>("INSERT INTO convene_events_schema (version, name, applied_at) VALUES (?, ?, ?)");
    let args = [
        Arg::Int(m.version),
        Arg::Text(m.name),
        Arg::Int(now_seconds()),
    ];
    if E::TRANSACTIONAL_DDL {
        let mut tx = conn.begin().await.map_err(from_sqlx)?;
        for statement in m.statements {
            E::execute(&mut tx, statement, &[])
                .await
                .map_err(from_sqlx)?;
        }
        E::execute(&mut tx, &record, &args)
            .await
            .map_err(from_sqlx)?;
        tx.commit().await.map_err(from_sqlx)
    } else {
        for statement in m.statements {
            E::execute(conn, statement, &[]).await.map_err(from_sqlx)?;
        }
        E::execute(conn, &record, &args).await.map_err(from_sqlx)?;
        Ok(())
    }
}

impl<E: Engine> SqlxDb<E> {
    /// Runs one statement (written with `?` placeholders) on a pooled
    /// connection; returns the rows it changed.
    async fn run(&self, text: &str, args: &[Arg<'_>]) -> Result<u64, DbError> {
        let mut conn = self.conn().await?;
        E::execute(&mut conn, &sql::<E>(text), args)
            .await
            .map_err(from_sqlx)
    }

    /// Runs one query (written with `?` placeholders) on a pooled
    /// connection; returns its rows.
    async fn rows(&self, text: &str, args: &[Arg<'_>]) -> Result<Vec<E::Row>, DbError> {
        let mut conn = self.conn().await?;
        E::fetch(&mut conn, &sql::<E>(text), args)
            .await
            .map_err(from_sqlx)
    }

    /// `add_constraint` as one statement (one round trip instead of five:
    /// a submission is the service's hot path). The event row is read
    /// under a shared lock, so no `finish` commits in between; the
    /// statement is its own transaction.
    async fn add_constraint_at_once(
        &self,
        constraint: &Constraint,
        availability: &str,
    ) -> Result<bool, DbError> {
        let text = format!(
            "WITH added AS (
                 INSERT INTO constraints (event_id, user_name, server, origin, availability, submitted_at)
                 SELECT id, ?, ?, ?, ?, ? FROM events WHERE id = ? AND state = 'open' {}
                 RETURNING event_id
             ), marked AS (
                 UPDATE participants SET answered = TRUE
                 WHERE event_id = ? AND user_name = ? AND answered = FALSE
                   AND EXISTS (SELECT 1 FROM added)
                 RETURNING 1
             )
             SELECT COUNT(*) FROM added",
            E::SHARE_LOCK
        );
        let rows = self
            .rows(
                &text,
                &[
                    Arg::Text(&constraint.user),
                    Arg::Text(&constraint.server),
                    Arg::Text(&constraint.server),
                    Arg::Text(availability),
                    Arg::Int(constraint.submitted_at),
                    Arg::Text(&constraint.event),
                    Arg::Text(&constraint.event),
                    Arg::Text(&constraint.user),
                ],
            )
            .await?;
        let added = rows.first().map(|row| E::int(row, 0)).transpose()?;
        Ok(added.unwrap_or(0) > 0)
    }
}

impl<E: Engine> EventDb for SqlxDb<E> {
    fn backend(&self) -> &'static str {
        E::BACKEND
    }

    fn pool_use(&self) -> Option<convene_metrics::PoolUse> {
        Some(self.pool_use())
    }

    fn create_user<'a>(&'a self, user: &'a User) -> DbFuture<'a, ()> {
        Box::pin(async move {
            self.run(
                "INSERT INTO users (name, password_hash, time_zone, created_at)
                     VALUES (?, ?, ?, ?)",
                &[
                    Arg::Text(&user.name),
                    Arg::Text(&user.password_hash),
                    Arg::Text(&user.time_zone),
                    Arg::Int(now_seconds()),
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn user<'a>(&'a self, name: &'a str) -> DbFuture<'a, Option<User>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT name, password_hash, time_zone FROM users WHERE name = ?",
                    &[Arg::Text(name)],
                )
                .await?;
            rows.first()
                .map(|r| {
                    Ok(User {
                        name: E::text(r, 0)?,
                        password_hash: E::text(r, 1)?,
                        time_zone: E::text(r, 2)?,
                    })
                })
                .transpose()
        })
    }

    fn unknown_users<'a>(&'a self, names: &'a [String]) -> DbFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let mut known = std::collections::HashSet::new();
            for chunk in names.chunks(NAMES_PER_QUERY) {
                let text = format!(
                    "SELECT name FROM users WHERE name IN ({})",
                    value_groups(chunk.len(), "?")
                );
                let args: Vec<Arg> = chunk.iter().map(|n| Arg::Text(n)).collect();
                let rows = E::fetch(&mut conn, &sql::<E>(&text), &args)
                    .await
                    .map_err(from_sqlx)?;
                for row in &rows {
                    known.insert(E::text(row, 0)?);
                }
            }
            Ok(names
                .iter()
                .filter(|n| !known.contains(n.as_str()))
                .cloned()
                .collect())
        })
    }

    fn create_session<'a>(&'a self, session: &'a Session) -> DbFuture<'a, ()> {
        Box::pin(async move {
            self.run(
                "INSERT INTO sessions (token_hash, user_name, csrf, expires_at)
                     VALUES (?, ?, ?, ?)",
                &[
                    Arg::Text(&session.token_hash),
                    Arg::Text(&session.user),
                    Arg::Text(&session.csrf),
                    Arg::Int(session.expires_at),
                ],
            )
            .await?;
            Ok(())
        })
    }

    fn session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, Option<Session>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT token_hash, user_name, csrf, expires_at
                     FROM sessions WHERE token_hash = ?",
                    &[Arg::Text(token_hash)],
                )
                .await?;
            rows.first()
                .map(|r| {
                    Ok(Session {
                        token_hash: E::text(r, 0)?,
                        user: E::text(r, 1)?,
                        csrf: E::text(r, 2)?,
                        expires_at: E::int(r, 3)?,
                    })
                })
                .transpose()
        })
    }

    fn delete_session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, ()> {
        Box::pin(async move {
            self.run(
                "DELETE FROM sessions WHERE token_hash = ?",
                &[Arg::Text(token_hash)],
            )
            .await?;
            Ok(())
        })
    }

    fn save_account_booking<'a>(&'a self, booking: &'a AccountBooking) -> DbFuture<'a, ()> {
        Box::pin(async move {
            // Delete and insert in one transaction: the same on both
            // engines (their upserts differ).
            let mut tx = self.begin().await?;
            E::execute(
                &mut tx,
                &sql::<E>("DELETE FROM account_bookings WHERE id = ?"),
                &[Arg::Text(&booking.id)],
            )
            .await
            .map_err(from_sqlx)?;
            E::execute(
                &mut tx,
                &sql::<E>(
                    "INSERT INTO account_bookings (id, account, facility, start_min, end_min)
                     VALUES (?, ?, ?, ?, ?)",
                ),
                &[
                    Arg::Text(&booking.id),
                    Arg::Text(&booking.account),
                    Arg::Text(&booking.facility),
                    Arg::Int(booking.start),
                    Arg::Int(booking.end),
                ],
            )
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)
        })
    }

    fn account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<AccountBooking>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT id, account, facility, start_min, end_min
                     FROM account_bookings WHERE id = ?",
                    &[Arg::Text(id)],
                )
                .await?;
            rows.first().map(account_booking_row::<E>).transpose()
        })
    }

    fn account_bookings<'a>(&'a self, account: &'a str) -> DbFuture<'a, Vec<AccountBooking>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT id, account, facility, start_min, end_min
                     FROM account_bookings WHERE account = ? ORDER BY facility, start_min",
                    &[Arg::Text(account)],
                )
                .await?;
            rows.iter().map(account_booking_row::<E>).collect()
        })
    }

    fn delete_account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, ()> {
        Box::pin(async move {
            self.run(
                "DELETE FROM account_bookings WHERE id = ?",
                &[Arg::Text(id)],
            )
            .await?;
            Ok(())
        })
    }

    fn create_event<'a>(&'a self, event: &'a NewEvent) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            E::execute(
                &mut tx,
                &sql::<E>(
                    "INSERT INTO events (id, name, description, creator, deadline, leader, state,
                                         result, created_at, finished_at)
                     VALUES (?, ?, ?, ?, ?, ?, 'open', NULL, ?, NULL)",
                ),
                &[
                    Arg::Text(&event.id),
                    Arg::Text(&event.name),
                    Arg::Text(&event.description),
                    Arg::Text(&event.creator),
                    Arg::Int(event.deadline),
                    Arg::Text(&event.leader),
                    Arg::Int(event.created_at),
                ],
            )
            .await
            .map_err(from_sqlx)?;
            let participants = dedup_participants(event);
            for (chunk_index, chunk) in participants.chunks(PARTICIPANTS_PER_INSERT).enumerate() {
                let text = format!(
                    "INSERT INTO participants (event_id, user_name, position, answered) VALUES {}",
                    value_groups(chunk.len(), "(?, ?, ?, FALSE)")
                );
                let first = chunk_index * PARTICIPANTS_PER_INSERT;
                let mut args = Vec::with_capacity(chunk.len() * 3);
                for (i, name) in chunk.iter().enumerate() {
                    args.push(Arg::Text(&event.id));
                    args.push(Arg::Text(name));
                    args.push(Arg::Int((first + i) as i64));
                }
                E::execute(&mut tx, &sql::<E>(&text), &args)
                    .await
                    .map_err(from_sqlx)?;
            }
            tx.commit().await.map_err(from_sqlx)
        })
    }

    fn event<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<Event>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT id, name, description, creator, deadline, leader, state, result,
                            created_at
                     FROM events WHERE id = ?",
                    &[Arg::Text(id)],
                )
                .await?;
            let Some(r) = rows.first() else {
                return Ok(None);
            };
            let row = EventRow {
                id: E::text(r, 0)?,
                name: E::text(r, 1)?,
                description: E::text(r, 2)?,
                creator: E::text(r, 3)?,
                deadline: E::int(r, 4)?,
                leader: E::text(r, 5)?,
                state: E::text(r, 6)?,
                result: E::opt_text(r, 7)?,
                created_at: E::int(r, 8)?,
            };
            let rows = self
                .rows(
                    "SELECT user_name, answered FROM participants
                     WHERE event_id = ? ORDER BY position",
                    &[Arg::Text(id)],
                )
                .await?;
            let participants = rows
                .iter()
                .map(|r| {
                    Ok(Participant {
                        name: E::text(r, 0)?,
                        answered: E::flag(r, 1)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            row.into_event(participants).map(Some)
        })
    }

    fn events_page<'a>(
        &'a self,
        user: &'a str,
        page: &'a PageOf,
        limit: usize,
    ) -> DbFuture<'a, Vec<EventSummary>> {
        Box::pin(async move {
            let query = PageQuery::new(user, page, limit);
            let mut args = vec![Arg::Text(query.user)];
            if let Some((deadline, id)) = query.place {
                args.extend([Arg::Int(deadline), Arg::Int(deadline), Arg::Text(id)]);
            }
            args.push(Arg::Int(query.limit));
            let rows = self.rows(query.sql, &args).await?;
            let rows = rows
                .iter()
                .map(|r| {
                    Ok(SummaryRow {
                        id: E::text(r, 0)?,
                        name: E::text(r, 1)?,
                        creator: E::text(r, 2)?,
                        deadline: E::int(r, 3)?,
                        state: E::text(r, 4)?,
                        result: E::opt_text(r, 5)?,
                        answered: E::flag(r, 6)?,
                    })
                })
                .collect::<Result<Vec<_>, DbError>>()?;
            query.summaries(rows)
        })
    }

    fn open_events_created<'a>(&'a self, creator: &'a str, now: i64) -> DbFuture<'a, u64> {
        Box::pin(async move {
            let rows = self
                .rows(OPEN_EVENTS_CREATED, &[Arg::Text(creator), Arg::Int(now)])
                .await?;
            let count = rows.first().map(|r| E::int(r, 0)).transpose()?;
            Ok(count
                .and_then(|c| u64::try_from(c).ok())
                .unwrap_or_default())
        })
    }

    fn add_constraint<'a>(&'a self, constraint: &'a Constraint) -> DbFuture<'a, bool> {
        Box::pin(async move {
            let availability = encode_availability(&constraint.availability);
            if E::WRITABLE_CTE {
                return self.add_constraint_at_once(constraint, &availability).await;
            }
            let mut tx = self.begin().await?;
            // The event row is read under a shared lock (see the module
            // documentation): no `finish` can commit between this check
            // and this transaction's commit.
            let text = format!(
                "INSERT INTO constraints (event_id, user_name, server, origin, availability, submitted_at)
                 SELECT id, ?, ?, ?, ?, ? FROM events WHERE id = ? AND state = 'open' {}",
                E::SHARE_LOCK
            );
            let added = E::execute(
                &mut tx,
                &sql::<E>(&text),
                &[
                    Arg::Text(&constraint.user),
                    Arg::Text(&constraint.server),
                    Arg::Text(&constraint.server),
                    Arg::Text(&availability),
                    Arg::Int(constraint.submitted_at),
                    Arg::Text(&constraint.event),
                ],
            )
            .await
            .map_err(from_sqlx)?;
            if added == 0 {
                // Dropping the transaction rolls it back.
                return Ok(false);
            }
            E::execute(
                &mut tx,
                &sql::<E>(
                    "UPDATE participants SET answered = TRUE
                     WHERE event_id = ? AND user_name = ? AND answered = FALSE",
                ),
                &[Arg::Text(&constraint.event), Arg::Text(&constraint.user)],
            )
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(true)
        })
    }

    fn constraints<'a>(
        &'a self,
        event: &'a str,
        server: &'a str,
    ) -> DbFuture<'a, Vec<Availability>> {
        Box::pin(async move {
            let rows = self
                .rows(
                    "SELECT availability FROM constraints
                     WHERE event_id = ? AND (server = ? OR origin = ?) ORDER BY id",
                    &[Arg::Text(event), Arg::Text(server), Arg::Text(server)],
                )
                .await?;
            rows.iter()
                .map(|r| decode_availability(&E::text(r, 0)?))
                .collect()
        })
    }

    fn open_events(&self) -> DbFuture<'_, Vec<OpenEvent>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let rows = E::fetch(
                &mut conn,
                "SELECT id, leader, deadline FROM events WHERE state = 'open'
                 ORDER BY deadline, id",
                &[],
            )
            .await
            .map_err(from_sqlx)?;
            rows.iter()
                .map(|r| {
                    Ok(OpenEvent {
                        id: E::text(r, 0)?,
                        leader: E::text(r, 1)?,
                        deadline: E::int(r, 2)?,
                    })
                })
                .collect()
        })
    }

    fn set_leader<'a>(&'a self, event: &'a str, from: &'a str, to: &'a str) -> DbFuture<'a, bool> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            // MySQL counts matched rows here, not only changed ones (sqlx
            // connects with CLIENT_FOUND_ROWS), like PostgreSQL.
            let changed = E::execute(
                &mut conn,
                &sql::<E>(
                    "UPDATE events SET leader = ? WHERE id = ? AND leader = ? AND state = 'open'",
                ),
                &[Arg::Text(to), Arg::Text(event), Arg::Text(from)],
            )
            .await
            .map_err(from_sqlx)?;
            Ok(changed == 1)
        })
    }

    fn move_constraints<'a>(&'a self, from: &'a str, to: &'a str) -> DbFuture<'a, Vec<String>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            let rows = if E::UPDATE_RETURNING {
                // One statement names exactly the rows it moved.
                E::fetch(
                    &mut tx,
                    &sql::<E>(
                        "UPDATE constraints SET server = ? WHERE server = ? RETURNING event_id",
                    ),
                    &[Arg::Text(to), Arg::Text(from)],
                )
                .await
                .map_err(from_sqlx)?
            } else {
                // Lock the rows (and, in InnoDB's default isolation, the
                // index range, so none can be added meanwhile), then move them.
                let rows = E::fetch(
                    &mut tx,
                    &sql::<E>("SELECT event_id FROM constraints WHERE server = ? FOR UPDATE"),
                    &[Arg::Text(from)],
                )
                .await
                .map_err(from_sqlx)?;
                E::execute(
                    &mut tx,
                    &sql::<E>("UPDATE constraints SET server = ? WHERE server = ?"),
                    &[Arg::Text(to), Arg::Text(from)],
                )
                .await
                .map_err(from_sqlx)?;
                rows
            };
            tx.commit().await.map_err(from_sqlx)?;
            let mut events = rows
                .iter()
                .map(|r| E::text(r, 0))
                .collect::<Result<Vec<_>, _>>()?;
            events.sort();
            events.dedup();
            Ok(events)
        })
    }

    fn finish<'a>(
        &'a self,
        event: &'a str,
        collected: &'a Partial,
        answered: &'a [String],
    ) -> DbFuture<'a, Option<Availability>> {
        Box::pin(async move {
            let mut tx = self.begin().await?;
            // The exclusive row lock waits for every submission holding
            // the event row shared (its backup not yet committed).
            let state = E::fetch(
                &mut tx,
                &sql::<E>("SELECT state FROM events WHERE id = ? FOR UPDATE"),
                &[Arg::Text(event)],
            )
            .await
            .map_err(from_sqlx)?;
            match state.first().map(|row| E::text(row, 0)).transpose()? {
                Some(state) if state == "open" => {}
                _ => return Ok(None),
            }
            // A locking read: the latest committed rows, whatever snapshot
            // the engine's isolation level would otherwise give.
            // Only the silent servers' backups: the answering ones sent
            // theirs folded already (one placeholder per server).
            let not_in = if answered.is_empty() {
                String::new()
            } else {
                format!(
                    " AND origin NOT IN ({})",
                    vec!["?"; answered.len()].join(", ")
                )
            };
            let mut args = vec![Arg::Text(event)];
            args.extend(answered.iter().map(|server| Arg::Text(server)));
            let rows = E::fetch(
                &mut tx,
                &sql::<E>(&format!(
                    "SELECT availability FROM constraints WHERE event_id = ?{not_in} {}",
                    E::SHARE_LOCK
                )),
                &args,
            )
            .await
            .map_err(from_sqlx)?;
            let mut result = collected.clone();
            for row in &rows {
                result.fold(&decode_availability(&E::text(row, 0)?)?);
            }
            let result = result.into_result();
            E::execute(
                &mut tx,
                &sql::<E>(
                    "UPDATE events SET state = 'final', result = ?, finished_at = ?
                     WHERE id = ? AND state = 'open'",
                ),
                &[
                    Arg::Text(&encode_availability(&result)),
                    Arg::Int(now_seconds()),
                    Arg::Text(event),
                ],
            )
            .await
            .map_err(from_sqlx)?;
            E::execute(
                &mut tx,
                &sql::<E>("DELETE FROM constraints WHERE event_id = ?"),
                &[Arg::Text(event)],
            )
            .await
            .map_err(from_sqlx)?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(Some(result))
        })
    }
}

/// Runs `work` to completion on `runtime` from synchronous code: a blocking
/// thread (booking's commit thread, the blocking pool) or, for a caller
/// that blocks on the async threads as the files service's lock book does,
/// a worker of a multi-threaded runtime, which hands its other tasks on
/// while it waits ([`tokio::task::block_in_place`]).
pub(crate) fn block_on<F: Future>(runtime: &tokio::runtime::Handle, work: F) -> F::Output {
    use tokio::runtime::RuntimeFlavor;
    match tokio::runtime::Handle::try_current() {
        Ok(here) if here.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| runtime.block_on(work))
        }
        _ => runtime.block_on(work),
    }
}

/// Runs one statement (written with `?` placeholders) on `conn`; the rows
/// it changed.
pub(crate) async fn exec<E: Engine>(
    conn: &mut E::Connection,
    text: &str,
    args: &[Arg<'_>],
) -> Result<u64, DbError> {
    E::execute(conn, &sql::<E>(text), args)
        .await
        .map_err(from_sqlx)
}

/// Runs one query (written with `?` placeholders) on `conn`; its rows.
pub(crate) async fn fetch<E: Engine>(
    conn: &mut E::Connection,
    text: &str,
    args: &[Arg<'_>],
) -> Result<Vec<E::Row>, DbError> {
    E::fetch(conn, &sql::<E>(text), args)
        .await
        .map_err(from_sqlx)
}

/// One `account_bookings` row, selected as `id, account, facility,
/// start_min, end_min`.
fn account_booking_row<E: Engine>(r: &E::Row) -> Result<AccountBooking, DbError> {
    Ok(AccountBooking {
        id: E::text(r, 0)?,
        account: E::text(r, 1)?,
        facility: E::text(r, 2)?,
        start: E::int(r, 3)?,
        end: E::int(r, 4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let text = "SELECT a FROM t WHERE b = ? AND c IN (?, ?)";
        assert_eq!(sql::<sqlx::MySql>(text), text);
        assert_eq!(
            sql::<sqlx::Postgres>(text),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
        assert_eq!(value_groups(3, "?"), "?, ?, ?");
        assert_eq!(value_groups(2, "(?, ?)"), "(?, ?), (?, ?)");
        assert_eq!(value_groups(0, "?"), "");
    }
}
