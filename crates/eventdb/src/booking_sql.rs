//! The booking tables on MySQL/MariaDB or PostgreSQL: what lets a facility
//! move between nodes on different machines (see `convene_booking::db`).
//!
//! Same tables as the SQLite backend (`booking_owner`, `booking_record`,
//! `booking_kept_reply`), in the cluster's server database next to the
//! events tables, versioned in their own `convene_booking_schema` table
//! under the engine's schema lock. Statements are written once with `?`
//! placeholders ([`sql`](crate::sql::sql)); the few differences between the engines (how an
//! insert that finds its key updates or does nothing, the binary type) are
//! chosen by [`Engine::BACKEND`].
//!
//! # The fence on a server
//!
//! [`BookingDb::commit`] reads each facility's owner row under a shared
//! lock ([`Engine::SHARE_LOCK`]) in the transaction that writes, and
//! [`BookingDb::assign`] changes the row under an exclusive one: an
//! assignment waits for the commits that read the old token, and a commit
//! after it reads the new one. Either way, a write is stored only under the
//! token current at its commit.
//!
//! # Blocking
//!
//! The booking service calls its database from blocking threads (its
//! commit thread, the blocking pool), so each method here runs its future
//! to completion on the runtime the database was opened on.

use tokio::runtime::Handle;

use convene_booking::db::{
    BookingDb, BookingDbError, BookingRow, Committed, FencedWrite, OwnerRow, ReplyRow,
};
use convene_events::DbError;

use crate::error::{OpenError, from_sqlx, redact};
use crate::sql::{Arg, Engine, SqlxDb, exec, fetch};

/// Schema steps, applied in order and recorded in `convene_booking_schema`.
/// Every statement is re-runnable (MySQL commits DDL at once, so a step
/// interrupted halfway is finished by the next open).
fn migrations(backend: &str) -> &'static [(i64, &'static [&'static str])] {
    if backend == "postgres" {
        &[(
            1,
            &[
                "CREATE TABLE IF NOT EXISTS booking_owner (
                     facility VARCHAR(300) PRIMARY KEY,
                     node BIGINT NOT NULL,
                     token BIGINT NOT NULL,
                     term BIGINT NOT NULL)",
                "CREATE TABLE IF NOT EXISTS booking_record (
                     id VARCHAR(300) PRIMARY KEY,
                     facility VARCHAR(300) NOT NULL,
                     start_min BIGINT NOT NULL,
                     end_min BIGINT NOT NULL,
                     original_end BIGINT NOT NULL,
                     cancelled BIGINT NOT NULL)",
                "CREATE INDEX IF NOT EXISTS booking_record_live ON booking_record (facility, cancelled)",
                "CREATE TABLE IF NOT EXISTS booking_kept_reply (
                     client VARCHAR(64) NOT NULL,
                     request_id BIGINT NOT NULL,
                     facility VARCHAR(300) NOT NULL,
                     checksum BIGINT NOT NULL,
                     reply BYTEA NOT NULL,
                     created_ms BIGINT NOT NULL,
                     PRIMARY KEY (client, request_id))",
                "CREATE INDEX IF NOT EXISTS booking_kept_reply_facility
                     ON booking_kept_reply (facility, created_ms)",
                "CREATE INDEX IF NOT EXISTS booking_kept_reply_age ON booking_kept_reply (created_ms)",
            ],
        )]
    } else {
        // Exact (binary) comparison of names, as the seed and SQLite do;
        // indexes inside the tables, so the step is re-runnable.
        &[(
            1,
            &[
                "CREATE TABLE IF NOT EXISTS booking_owner (
                     facility VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
                     node BIGINT NOT NULL,
                     token BIGINT NOT NULL,
                     term BIGINT NOT NULL) ENGINE = InnoDB",
                "CREATE TABLE IF NOT EXISTS booking_record (
                     id VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin PRIMARY KEY,
                     facility VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                     start_min BIGINT NOT NULL,
                     end_min BIGINT NOT NULL,
                     original_end BIGINT NOT NULL,
                     cancelled BIGINT NOT NULL,
                     INDEX booking_record_live (facility, cancelled)) ENGINE = InnoDB",
                "CREATE TABLE IF NOT EXISTS booking_kept_reply (
                     client VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                     request_id BIGINT NOT NULL,
                     facility VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                     checksum BIGINT NOT NULL,
                     reply LONGBLOB NOT NULL,
                     created_ms BIGINT NOT NULL,
                     PRIMARY KEY (client, request_id),
                     INDEX booking_kept_reply_facility (facility, created_ms),
                     INDEX booking_kept_reply_age (created_ms)) ENGINE = InnoDB",
            ],
        )]
    }
}

const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS convene_booking_schema (version BIGINT PRIMARY KEY)";

const BOOKING_COLUMNS: &str = "id, facility, start_min, end_min, original_end, cancelled";

/// The booking tables in a MySQL/MariaDB or PostgreSQL database.
pub struct SqlBookingDb<E: Engine> {
    db: SqlxDb<E>,
    name: String,
    runtime: Handle,
}

impl<E: Engine> std::fmt::Debug for SqlBookingDb<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SqlBookingDb({})", self.name)
    }
}

/// Opens the booking tables in the database at `url` (MySQL/MariaDB or
/// PostgreSQL), creating them if needed. Call it on the runtime the
/// service runs on: the methods use it.
pub async fn open_booking(url: &str) -> Result<std::sync::Arc<dyn BookingDb>, OpenError> {
    use crate::open::Target;
    match Target::parse(url)? {
        Target::MySql(url) => {
            let db = crate::sql::mysql::open_sqlx(&url).await?;
            Ok(std::sync::Arc::new(SqlBookingDb::start(db, &url).await?))
        }
        Target::Postgres(url) => {
            let db = crate::sql::postgres::open_sqlx(&url).await?;
            Ok(std::sync::Arc::new(SqlBookingDb::start(db, &url).await?))
        }
        Target::SqliteFile(_) | Target::SqliteMemory => Err(OpenError::BadUrl {
            url: redact(url),
            problem: "the SQL booking backend is for MySQL or PostgreSQL".into(),
        }),
    }
}

fn booking_row<E: Engine>(row: &E::Row) -> Result<BookingRow, DbError> {
    let minute =
        |i| u32::try_from(E::int(row, i)?).map_err(|_| DbError::Corrupt(format!("column {i}")));
    Ok(BookingRow {
        id: E::text(row, 0)?,
        facility: E::text(row, 1)?,
        start: minute(2)?,
        end: minute(3)?,
        original_end: minute(4)?,
        cancelled: E::int(row, 5)? != 0,
    })
}

fn owner_row<E: Engine>(facility: &str, row: &E::Row) -> Result<OwnerRow, DbError> {
    Ok(OwnerRow {
        facility: facility.to_string(),
        node: u32::try_from(E::int(row, 0)?).map_err(|_| DbError::Corrupt("node".into()))?,
        token: E::int(row, 1)? as u64,
        term: E::int(row, 2)? as u64,
    })
}

impl<E: Engine> SqlBookingDb<E> {
    async fn start(db: SqlxDb<E>, url: &str) -> Result<Self, OpenError> {
        let name = redact(url);
        let failed = |e: DbError| OpenError::Migrate {
            url: name.clone(),
            version: 0,
            error: Box::new(e),
        };
        let mut conn = db.pool.acquire().await.map_err(from_sqlx).map_err(failed)?;
        E::lock_schema(&mut conn)
            .await
            .map_err(from_sqlx)
            .map_err(failed)?;
        let migrated = async {
            exec::<E>(&mut conn, SCHEMA, &[]).await?;
            let rows = fetch::<E>(
                &mut conn,
                "SELECT COALESCE(MAX(version), 0) FROM convene_booking_schema",
                &[],
            )
            .await?;
            let found = match rows.first() {
                Some(row) => E::int(row, 0)?,
                None => 0,
            };
            let steps = migrations(E::BACKEND);
            let known = steps.last().map_or(0, |s| s.0);
            if found > known {
                return Err(DbError::Corrupt(format!(
                    "booking schema version {found} is newer than this Convene knows ({known})"
                )));
            }
            for (version, statements) in steps.iter().filter(|s| s.0 > found) {
                for statement in *statements {
                    exec::<E>(&mut conn, statement, &[]).await?;
                }
                exec::<E>(
                    &mut conn,
                    "INSERT INTO convene_booking_schema (version) VALUES (?)",
                    &[Arg::Int(*version)],
                )
                .await?;
            }
            Ok(())
        }
        .await;
        let unlocked = E::unlock_schema(&mut conn).await;
        migrated.map_err(failed)?;
        unlocked.map_err(from_sqlx).map_err(failed)?;
        Ok(SqlBookingDb {
            db,
            name,
            runtime: Handle::current(),
        })
    }

    fn error(&self, e: DbError) -> BookingDbError {
        match e {
            DbError::Corrupt(problem) => BookingDbError::Corrupt {
                name: self.name.clone(),
                table: "booking",
                problem,
            },
            other => BookingDbError::Engine {
                name: self.name.clone(),
                message: other.to_string(),
            },
        }
    }

    /// Runs `work` to completion on the database's runtime (callers are
    /// blocking threads).
    fn block<T>(
        &self,
        work: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, BookingDbError> {
        crate::sql::block_on(&self.runtime, work).map_err(|e| self.error(e))
    }

    fn postgres() -> bool {
        E::BACKEND == "postgres"
    }

    async fn owner_in(
        conn: &mut E::Connection,
        facility: &str,
        lock: &str,
    ) -> Result<Option<OwnerRow>, DbError> {
        let rows = fetch::<E>(
            conn,
            &format!("SELECT node, token, term FROM booking_owner WHERE facility = ? {lock}"),
            &[Arg::Text(facility)],
        )
        .await?;
        rows.first()
            .map(|r| owner_row::<E>(facility, r))
            .transpose()
    }
}

impl<E: Engine> BookingDb for SqlBookingDb<E> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn pool_use(&self) -> Option<convene_metrics::PoolUse> {
        Some(self.db.pool_use())
    }

    fn owners(&self) -> Result<Vec<OwnerRow>, BookingDbError> {
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                "SELECT facility, node, token, term FROM booking_owner ORDER BY facility",
                &[],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    let facility = E::text(r, 0)?;
                    Ok(OwnerRow {
                        node: u32::try_from(E::int(r, 1)?)
                            .map_err(|_| DbError::Corrupt("node".into()))?,
                        token: E::int(r, 2)? as u64,
                        term: E::int(r, 3)? as u64,
                        facility,
                    })
                })
                .collect()
        })
    }

    fn claim_unowned(&self, facility: &str, node: u32) -> Result<OwnerRow, BookingDbError> {
        let insert = if Self::postgres() {
            "INSERT INTO booking_owner (facility, node, token, term) VALUES (?, ?, 1, 0)
             ON CONFLICT (facility) DO NOTHING"
        } else {
            "INSERT IGNORE INTO booking_owner (facility, node, token, term) VALUES (?, ?, 1, 0)"
        };
        self.block(async {
            let mut tx = self.db.pool.begin().await.map_err(from_sqlx)?;
            exec::<E>(
                &mut tx,
                insert,
                &[Arg::Text(facility), Arg::Int(node.into())],
            )
            .await?;
            let row = Self::owner_in(&mut tx, facility, "").await?;
            tx.commit().await.map_err(from_sqlx)?;
            row.ok_or_else(|| DbError::Corrupt(format!("no owner row for {facility:?}")))
        })
    }

    fn assign(&self, facility: &str, node: u32, term: u64) -> Result<OwnerRow, BookingDbError> {
        self.block(async {
            let mut tx = self.db.pool.begin().await.map_err(from_sqlx)?;
            match Self::owner_in(&mut tx, facility, "FOR UPDATE").await? {
                // Already there, or a later term decided since.
                Some(row) if row.node == node || row.term > term => {}
                Some(_) => {
                    exec::<E>(
                        &mut tx,
                        "UPDATE booking_owner SET node = ?, token = token + 1, term = ?
                         WHERE facility = ?",
                        &[
                            Arg::Int(node.into()),
                            Arg::Int(term as i64),
                            Arg::Text(facility),
                        ],
                    )
                    .await?;
                }
                None => {
                    exec::<E>(
                        &mut tx,
                        "INSERT INTO booking_owner (facility, node, token, term) VALUES (?, ?, 1, ?)",
                        &[
                            Arg::Text(facility),
                            Arg::Int(node.into()),
                            Arg::Int(term as i64),
                        ],
                    )
                    .await?;
                }
            }
            let row = Self::owner_in(&mut tx, facility, "").await?;
            tx.commit().await.map_err(from_sqlx)?;
            row.ok_or_else(|| DbError::Corrupt(format!("no owner row for {facility:?}")))
        })
    }

    fn live_bookings(&self, facility: &str) -> Result<Vec<BookingRow>, BookingDbError> {
        let rows = self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                &format!(
                    "SELECT {BOOKING_COLUMNS} FROM booking_record
                     WHERE facility = ? AND cancelled = 0 ORDER BY start_min"
                ),
                &[Arg::Text(facility)],
            )
            .await?;
            rows.iter()
                .map(booking_row::<E>)
                .collect::<Result<Vec<_>, _>>()
        })?;
        for b in &rows {
            convene_booking::db::check_row(&self.name, b)?;
        }
        Ok(rows)
    }

    fn replies(&self, facility: &str, since_ms: i64) -> Result<Vec<ReplyRow>, BookingDbError> {
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                "SELECT client, request_id, checksum, reply, created_ms FROM booking_kept_reply
                 WHERE facility = ? AND created_ms >= ?",
                &[Arg::Text(facility), Arg::Int(since_ms)],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(ReplyRow {
                        client: E::text(r, 0)?,
                        request_id: u32::try_from(E::int(r, 1)?)
                            .map_err(|_| DbError::Corrupt("request_id".into()))?,
                        checksum: E::int(r, 2)? as u64,
                        reply: E::bytes(r, 3)?,
                        created_ms: E::int(r, 4)?,
                    })
                })
                .collect()
        })
    }

    fn booking(&self, id: &str) -> Result<Option<BookingRow>, BookingDbError> {
        let row = self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                &format!("SELECT {BOOKING_COLUMNS} FROM booking_record WHERE id = ?"),
                &[Arg::Text(id)],
            )
            .await?;
            rows.first().map(booking_row::<E>).transpose()
        })?;
        if let Some(b) = &row {
            convene_booking::db::check_row(&self.name, b)?;
        }
        Ok(row)
    }

    fn commit(&self, writes: &[FencedWrite]) -> Result<Vec<Committed>, BookingDbError> {
        let (upsert, keep) = if Self::postgres() {
            (
                "INSERT INTO booking_record (id, facility, start_min, end_min, original_end, cancelled)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO UPDATE SET facility = EXCLUDED.facility,
                     start_min = EXCLUDED.start_min, end_min = EXCLUDED.end_min,
                     original_end = EXCLUDED.original_end, cancelled = EXCLUDED.cancelled",
                "INSERT INTO booking_kept_reply (client, request_id, facility, checksum, reply, created_ms)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (client, request_id) DO UPDATE SET facility = EXCLUDED.facility,
                     checksum = EXCLUDED.checksum, reply = EXCLUDED.reply,
                     created_ms = EXCLUDED.created_ms",
            )
        } else {
            (
                "INSERT INTO booking_record (id, facility, start_min, end_min, original_end, cancelled)
                 VALUES (?, ?, ?, ?, ?, ?)
                 ON DUPLICATE KEY UPDATE facility = VALUES(facility), start_min = VALUES(start_min),
                     end_min = VALUES(end_min), original_end = VALUES(original_end),
                     cancelled = VALUES(cancelled)",
                "REPLACE INTO booking_kept_reply (client, request_id, facility, checksum, reply, created_ms)
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
        };
        let insert =
            format!("INSERT INTO booking_record ({BOOKING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)");
        self.block(async {
            let mut tx = self.db.pool.begin().await.map_err(from_sqlx)?;
            let mut tokens: Vec<(&str, Option<u64>)> = Vec::new();
            let mut outcomes = Vec::with_capacity(writes.len());
            for w in writes {
                let token = match tokens.iter().find(|(f, _)| *f == w.facility) {
                    Some((_, token)) => *token,
                    None => {
                        let token = Self::owner_in(&mut tx, &w.facility, E::SHARE_LOCK)
                            .await?
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
                    let statement = if w.created { insert.as_str() } else { upsert };
                    exec::<E>(
                        &mut tx,
                        statement,
                        &[
                            Arg::Text(&b.id),
                            Arg::Text(&b.facility),
                            Arg::Int(b.start.into()),
                            Arg::Int(b.end.into()),
                            Arg::Int(b.original_end.into()),
                            Arg::Int(b.cancelled.into()),
                        ],
                    )
                    .await?;
                }
                for (client, request_id) in &w.forget {
                    exec::<E>(
                        &mut tx,
                        "DELETE FROM booking_kept_reply WHERE client = ? AND request_id = ?",
                        &[Arg::Text(client), Arg::Int((*request_id).into())],
                    )
                    .await?;
                }
                if let Some(r) = &w.reply {
                    exec::<E>(
                        &mut tx,
                        keep,
                        &[
                            Arg::Text(&r.client),
                            Arg::Int(r.request_id.into()),
                            Arg::Text(&w.facility),
                            Arg::Int(r.checksum as i64),
                            Arg::Bytes(&r.reply),
                            Arg::Int(r.created_ms),
                        ],
                    )
                    .await?;
                }
                outcomes.push(Committed::Stored);
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(outcomes)
        })
    }

    fn prune_replies(&self, before_ms: i64) -> Result<usize, BookingDbError> {
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let n = exec::<E>(
                &mut conn,
                "DELETE FROM booking_kept_reply WHERE created_ms < ?",
                &[Arg::Int(before_ms)],
            )
            .await?;
            Ok(n as usize)
        })
    }

    fn import(&self, bookings: &[BookingRow]) -> Result<usize, BookingDbError> {
        let insert = if Self::postgres() {
            format!(
                "INSERT INTO booking_record ({BOOKING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)
                 ON CONFLICT (id) DO NOTHING"
            )
        } else {
            format!(
                "INSERT IGNORE INTO booking_record ({BOOKING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
            )
        };
        self.block(async {
            let mut tx = self.db.pool.begin().await.map_err(from_sqlx)?;
            let mut added = 0;
            for b in bookings {
                added += exec::<E>(
                    &mut tx,
                    &insert,
                    &[
                        Arg::Text(&b.id),
                        Arg::Text(&b.facility),
                        Arg::Int(b.start.into()),
                        Arg::Int(b.end.into()),
                        Arg::Int(b.original_end.into()),
                        Arg::Int(b.cancelled.into()),
                    ],
                )
                .await?;
            }
            tx.commit().await.map_err(from_sqlx)?;
            Ok(added as usize)
        })
    }
}
