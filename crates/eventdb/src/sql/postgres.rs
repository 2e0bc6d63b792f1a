//! PostgreSQL: what [`SqlxDb`] needs from it.
//!
//! PostgreSQL's DDL is transactional, so each migration step commits
//! together with its record, and `UPDATE ... RETURNING` names the rows a
//! statement changed. The schema lock is a session advisory lock on a
//! fixed key ([`SCHEMA_LOCK_KEY`]), scoped to the database.

use std::str::FromStr;
use std::sync::Arc;

use convene_events::{DbError, EventDb};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgRow};
use sqlx::query::Query;
use sqlx::{Postgres, Row};

use super::{Arg, BoxFuture, Engine, SqlxDb};
use crate::error::{OpenError, redact};
use crate::migrations::{self, Migration};

/// The advisory lock key held while migrating: the bytes of `"convene"`.
pub const SCHEMA_LOCK_KEY: i64 = 0x0063_6f6e_7665_6e65;

/// Connects to the PostgreSQL database at `url`
/// (`postgres://USER:PASSWORD@HOST:PORT/DATABASE`) and brings its schema up
/// to date.
pub async fn open(url: &str) -> Result<Arc<dyn EventDb>, OpenError> {
    Ok(Arc::new(open_sqlx(url).await?))
}

/// The same database as [`open`], as its concrete type (the booking tables
/// use its pool too).
pub async fn open_sqlx(url: &str) -> Result<SqlxDb<Postgres>, OpenError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| OpenError::BadUrl {
        url: redact(url),
        problem: e.to_string(),
    })?;
    SqlxDb::<Postgres>::open(url, options).await
}

fn bind<'a>(
    mut query: Query<'a, Postgres, PgArguments>,
    args: &'a [Arg<'a>],
) -> Query<'a, Postgres, PgArguments> {
    for arg in args {
        query = match *arg {
            Arg::Text(text) => query.bind(text),
            Arg::Int(n) => query.bind(n),
            Arg::Bytes(bytes) => query.bind(bytes),
            Arg::OptText(text) => query.bind(text),
            Arg::OptInt(n) => query.bind(n),
        };
    }
    query
}

fn decode(e: sqlx::Error) -> DbError {
    DbError::Corrupt(e.to_string())
}

impl Engine for Postgres {
    const BACKEND: &'static str = "postgres";
    const MIGRATIONS: &'static [Migration] = migrations::POSTGRES;
    const NUMBERED_PLACEHOLDERS: bool = true;
    const SHARE_LOCK: &'static str = "FOR SHARE";
    const UPDATE_RETURNING: bool = true;
    const WRITABLE_CTE: bool = true;
    const TRANSACTIONAL_DDL: bool = true;

    fn execute<'a>(
        conn: &'a mut PgConnection,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let done = bind(sqlx::query(sql), args).execute(conn).await?;
            Ok(done.rows_affected())
        })
    }

    fn fetch<'a>(
        conn: &'a mut PgConnection,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<Vec<PgRow>, sqlx::Error>> {
        Box::pin(bind(sqlx::query(sql), args).fetch_all(conn))
    }

    fn text(row: &PgRow, i: usize) -> Result<String, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn opt_text(row: &PgRow, i: usize) -> Result<Option<String>, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn int(row: &PgRow, i: usize) -> Result<i64, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn opt_int(row: &PgRow, i: usize) -> Result<Option<i64>, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn flag(row: &PgRow, i: usize) -> Result<bool, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn bytes(row: &PgRow, i: usize) -> Result<Vec<u8>, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn lock_schema(conn: &mut PgConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(SCHEMA_LOCK_KEY)
                .execute(conn)
                .await?;
            Ok(())
        })
    }

    fn unlock_schema(conn: &mut PgConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(SCHEMA_LOCK_KEY)
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
