//! The files service's lock book on MySQL/MariaDB or PostgreSQL: the lock
//! table, the held updates and the lock holder with its fencing token, in
//! the cluster's server database, so the role of lock holder can move
//! between machines (see `convene_files::service::lock_book`).
//!
//! The same three `files_book_*` tables as the SQLite book. Two things
//! differ on a server:
//!
//! - **Paths are long** (up to 4,096 bytes), longer than either engine
//!   indexes as a key, so a lock row has a numeric key and its path an
//!   index (a hash index on PostgreSQL, a 255-character prefix on MySQL);
//!   a path is never inserted twice because every write runs under the
//!   holder row's exclusive lock (next point).
//! - **The fence** reads the holder row `FOR UPDATE` in the transaction
//!   that writes: the holder's writes run one at a time, and a hand-over
//!   (an `UPDATE` of that row) waits for a write that read the old token,
//!   after which every write reads the new one.
//!
//! A held update's content is stored with a flag saying whether there is
//! any (a deletion has none), so no column is ever NULL.

use std::sync::Arc;

use convene_events::DbError;
use convene_files::service::lock_book::{BookError, BookHeld, BookLock, HolderRow, LockBookDb};
use tokio::runtime::Handle;

use crate::error::{OpenError, from_sqlx, redact};
use crate::sql::{Arg, Engine, SqlxDb, exec, fetch};

fn schema(backend: &str) -> &'static [&'static str] {
    if backend == "postgres" {
        &[
            "CREATE TABLE IF NOT EXISTS files_book_holder (
                 id BIGINT PRIMARY KEY CHECK (id = 1),
                 node VARCHAR(300) NOT NULL,
                 token BIGINT NOT NULL,
                 term BIGINT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS files_book_locks (
                 id BIGSERIAL PRIMARY KEY,
                 path TEXT NOT NULL,
                 owner VARCHAR(300) NOT NULL,
                 expires_ms BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS files_book_locks_path ON files_book_locks USING hash (path)",
            "CREATE TABLE IF NOT EXISTS files_book_held (
                 seq BIGSERIAL PRIMARY KEY,
                 path TEXT NOT NULL,
                 update_bytes BYTEA NOT NULL,
                 content BYTEA NOT NULL,
                 has_content BIGINT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS files_book_held_path ON files_book_held USING hash (path)",
        ]
    } else {
        &[
            "CREATE TABLE IF NOT EXISTS files_book_holder (
                 id BIGINT PRIMARY KEY,
                 node VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                 token BIGINT NOT NULL,
                 term BIGINT NOT NULL) ENGINE = InnoDB",
            "CREATE TABLE IF NOT EXISTS files_book_locks (
                 id BIGINT AUTO_INCREMENT PRIMARY KEY,
                 path VARCHAR(4096) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                 owner VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                 expires_ms BIGINT NOT NULL,
                 INDEX files_book_locks_path (path(255))) ENGINE = InnoDB",
            "CREATE TABLE IF NOT EXISTS files_book_held (
                 seq BIGINT AUTO_INCREMENT PRIMARY KEY,
                 path VARCHAR(4096) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
                 update_bytes LONGBLOB NOT NULL,
                 content LONGBLOB NOT NULL,
                 has_content BIGINT NOT NULL,
                 INDEX files_book_held_path (path(255))) ENGINE = InnoDB",
        ]
    }
}

/// The lock book in a MySQL/MariaDB or PostgreSQL database.
pub struct SqlLockBook<E: Engine> {
    db: SqlxDb<E>,
    runtime: Handle,
}

/// Opens the lock book in the database at `url` (MySQL/MariaDB or
/// PostgreSQL), creating its tables if needed. Call it on the runtime the
/// service runs on: the methods use it.
pub async fn open_lock_book(url: &str) -> Result<Arc<dyn LockBookDb>, OpenError> {
    use crate::open::Target;
    match Target::parse(url)? {
        Target::MySql(url) => {
            let db = crate::sql::mysql::open_sqlx(&url).await?;
            Ok(Arc::new(SqlLockBook::start(db, &url).await?))
        }
        Target::Postgres(url) => {
            let db = crate::sql::postgres::open_sqlx(&url).await?;
            Ok(Arc::new(SqlLockBook::start(db, &url).await?))
        }
        Target::SqliteFile(_) | Target::SqliteMemory => Err(OpenError::BadUrl {
            url: redact(url),
            problem: "the SQL lock book is for MySQL or PostgreSQL".into(),
        }),
    }
}

fn holder_row<E: Engine>(row: &E::Row) -> Result<HolderRow, DbError> {
    Ok(HolderRow {
        node: E::text(row, 0)?,
        token: E::int(row, 1)? as u64,
        term: E::int(row, 2)? as u64,
    })
}

impl<E: Engine> SqlLockBook<E> {
    async fn start(db: SqlxDb<E>, url: &str) -> Result<Self, OpenError> {
        let failed = |e: DbError| OpenError::Migrate {
            url: redact(url),
            version: 0,
            error: Box::new(e),
        };
        let mut conn = db.pool.acquire().await.map_err(from_sqlx).map_err(failed)?;
        E::lock_schema(&mut conn)
            .await
            .map_err(from_sqlx)
            .map_err(failed)?;
        let mut created = Ok(());
        for statement in schema(E::BACKEND) {
            created = exec::<E>(&mut conn, statement, &[]).await.map(|_| ());
            if created.is_err() {
                break;
            }
        }
        let unlocked = E::unlock_schema(&mut conn).await;
        created.map_err(failed)?;
        unlocked.map_err(from_sqlx).map_err(failed)?;
        Ok(SqlLockBook {
            db,
            runtime: Handle::current(),
        })
    }

    /// Runs `work` to completion on the database's runtime.
    fn block<T>(&self, work: impl Future<Output = Result<T, DbError>>) -> Result<T, BookError> {
        crate::sql::block_on(&self.runtime, work).map_err(|e| BookError::Db(e.to_string()))
    }

    fn postgres() -> bool {
        E::BACKEND == "postgres"
    }

    /// Runs `write` in one transaction after checking, under the holder
    /// row's exclusive lock, that `token` is still the holder's.
    fn fenced<T>(
        &self,
        token: u64,
        write: impl for<'c> FnOnce(
            &'c mut E::Connection,
        ) -> std::pin::Pin<
            Box<dyn Future<Output = Result<T, DbError>> + Send + 'c>,
        >,
    ) -> Result<T, BookError> {
        self.block(async {
            let mut tx = self.db.pool.begin().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut tx,
                "SELECT node, token, term FROM files_book_holder WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?;
            let now = rows.first().map(holder_row::<E>).transpose()?;
            match now {
                Some(row) if row.token == token => {}
                other => {
                    return Ok(Err(BookError::Fenced {
                        holder: other.map_or_else(|| "(none)".into(), |r| r.node),
                    }));
                }
            }
            let done = write(&mut tx).await?;
            tx.commit().await.map_err(from_sqlx)?;
            Ok(Ok(done))
        })?
    }
}

impl<E: Engine> LockBookDb for SqlLockBook<E> {
    fn pool_use(&self) -> Option<convene_metrics::PoolUse> {
        Some(self.db.pool_use())
    }

    fn holder(&self) -> Result<Option<HolderRow>, BookError> {
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                "SELECT node, token, term FROM files_book_holder WHERE id = 1",
                &[],
            )
            .await?;
            rows.first().map(holder_row::<E>).transpose()
        })
    }

    fn claim_first(&self, node: &str) -> Result<HolderRow, BookError> {
        let insert = if Self::postgres() {
            "INSERT INTO files_book_holder (id, node, token, term) VALUES (1, ?, 1, 0)
             ON CONFLICT (id) DO NOTHING"
        } else {
            "INSERT IGNORE INTO files_book_holder (id, node, token, term) VALUES (1, ?, 1, 0)"
        };
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            exec::<E>(&mut conn, insert, &[Arg::Text(node)]).await?;
            Ok(())
        })?;
        self.holder()?
            .ok_or_else(|| BookError::Db("the holder row vanished".into()))
    }

    fn hand_over(
        &self,
        seen_token: u64,
        to: &str,
        term: u64,
    ) -> Result<Option<HolderRow>, BookError> {
        let changed = self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            exec::<E>(
                &mut conn,
                "UPDATE files_book_holder SET node = ?, token = token + 1, term = ?
                 WHERE id = 1 AND token = ? AND term <= ?",
                &[
                    Arg::Text(to),
                    Arg::Int(term as i64),
                    Arg::Int(seen_token as i64),
                    Arg::Int(term as i64),
                ],
            )
            .await
        })?;
        if changed == 0 {
            return Ok(None);
        }
        self.holder()
    }

    fn put_lock(&self, token: u64, lock: &BookLock) -> Result<(), BookError> {
        let lock = lock.clone();
        self.fenced(token, move |tx| {
            Box::pin(async move {
                let changed = exec::<E>(
                    tx,
                    "UPDATE files_book_locks SET owner = ?, expires_ms = ? WHERE path = ?",
                    &[
                        Arg::Text(&lock.owner),
                        Arg::Int(lock.expires_ms),
                        Arg::Text(&lock.path),
                    ],
                )
                .await?;
                let present = changed > 0
                    || !fetch::<E>(
                        tx,
                        "SELECT 1 FROM files_book_locks WHERE path = ?",
                        &[Arg::Text(&lock.path)],
                    )
                    .await?
                    .is_empty();
                if !present {
                    exec::<E>(
                        tx,
                        "INSERT INTO files_book_locks (path, owner, expires_ms) VALUES (?, ?, ?)",
                        &[
                            Arg::Text(&lock.path),
                            Arg::Text(&lock.owner),
                            Arg::Int(lock.expires_ms),
                        ],
                    )
                    .await?;
                }
                Ok(())
            })
        })
    }

    fn release_lock(&self, token: u64, path: &str) -> Result<(), BookError> {
        let path = path.to_string();
        self.fenced(token, move |tx| {
            Box::pin(async move {
                exec::<E>(
                    tx,
                    "UPDATE files_book_locks SET expires_ms = 0 WHERE path = ?",
                    &[Arg::Text(&path)],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn forget_lock(&self, token: u64, path: &str) -> Result<(), BookError> {
        let path = path.to_string();
        self.fenced(token, move |tx| {
            Box::pin(async move {
                exec::<E>(
                    tx,
                    "DELETE FROM files_book_held WHERE path = ?",
                    &[Arg::Text(&path)],
                )
                .await?;
                exec::<E>(
                    tx,
                    "DELETE FROM files_book_locks WHERE path = ?",
                    &[Arg::Text(&path)],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn hold(&self, token: u64, path: &str, held: &BookHeld) -> Result<bool, BookError> {
        let (path, held) = (path.to_string(), held.clone());
        self.fenced(token, move |tx| {
            Box::pin(async move {
                let locked = fetch::<E>(
                    tx,
                    "SELECT 1 FROM files_book_locks WHERE path = ?",
                    &[Arg::Text(&path)],
                )
                .await?;
                if locked.is_empty() {
                    return Ok(false);
                }
                let content = held.content.as_deref().unwrap_or_default();
                exec::<E>(
                    tx,
                    "INSERT INTO files_book_held (path, update_bytes, content, has_content)
                     VALUES (?, ?, ?, ?)",
                    &[
                        Arg::Text(&path),
                        Arg::Bytes(&held.update),
                        Arg::Bytes(content),
                        Arg::Int(held.content.is_some().into()),
                    ],
                )
                .await?;
                Ok(true)
            })
        })
    }

    fn locks(&self) -> Result<Vec<BookLock>, BookError> {
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                "SELECT path, owner, expires_ms FROM files_book_locks ORDER BY path",
                &[],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(BookLock {
                        path: E::text(r, 0)?,
                        owner: E::text(r, 1)?,
                        expires_ms: E::int(r, 2)?,
                    })
                })
                .collect()
        })
    }

    fn held(&self, path: &str) -> Result<Vec<BookHeld>, BookError> {
        self.block(async {
            let mut conn = self.db.pool.acquire().await.map_err(from_sqlx)?;
            let rows = fetch::<E>(
                &mut conn,
                "SELECT update_bytes, content, has_content FROM files_book_held
                 WHERE path = ? ORDER BY seq",
                &[Arg::Text(path)],
            )
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(BookHeld {
                        update: E::bytes(r, 0)?,
                        content: (E::int(r, 2)? != 0).then(|| E::bytes(r, 1)).transpose()?,
                    })
                })
                .collect()
        })
    }
}
