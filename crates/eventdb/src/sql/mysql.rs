//! MySQL and MariaDB: what [`SqlxDb`] needs from them.
//!
//! Two details matter here:
//!
//! - The tables use the `utf8mb4_bin` collation, so that names compare
//!   exactly. The server then marks those text columns as *binary* in
//!   result sets, and sqlx refuses to decode a binary column as a
//!   `String`; so text is read as bytes and checked to be UTF-8 here.
//! - The schema lock is a named lock, `GET_LOCK`, which is server-wide:
//!   its name includes the database's, so two databases on one server do
//!   not wait for each other.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use convene_events::{DbError, EventDb};
use sqlx::mysql::{MySqlArguments, MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::query::Query;
use sqlx::{MySql, Row};

use super::{Arg, BoxFuture, Engine, SqlxDb};
use crate::error::{OpenError, redact};
use crate::migrations::{self, Migration};

/// How long a node waits for another node's migration before giving up.
pub const SCHEMA_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Connects to the MySQL or MariaDB database at `url`
/// (`mysql://USER:PASSWORD@HOST:PORT/DATABASE`) and brings its schema up
/// to date.
pub async fn open(url: &str) -> Result<Arc<dyn EventDb>, OpenError> {
    Ok(Arc::new(open_sqlx(url).await?))
}

/// The same database as [`open`], as its concrete type (the booking tables
/// use its pool too).
pub async fn open_sqlx(url: &str) -> Result<SqlxDb<MySql>, OpenError> {
    let options = MySqlConnectOptions::from_str(url).map_err(|e| OpenError::BadUrl {
        url: redact(url),
        problem: e.to_string(),
    })?;
    if options.get_database().is_none() {
        return Err(OpenError::BadUrl {
            url: redact(url),
            problem: "no database named: end the URL with /DATABASE".to_string(),
        });
    }
    // sqlx's default: every connection speaks utf8mb4 and UTC.
    SqlxDb::<MySql>::open(url, options).await
}

fn bind<'a>(
    mut query: Query<'a, MySql, MySqlArguments>,
    args: &'a [Arg<'a>],
) -> Query<'a, MySql, MySqlArguments> {
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

impl Engine for MySql {
    const BACKEND: &'static str = "mysql";
    const MIGRATIONS: &'static [Migration] = migrations::MYSQL;
    const NUMBERED_PLACEHOLDERS: bool = false;
    const SHARE_LOCK: &'static str = "LOCK IN SHARE MODE";
    const UPDATE_RETURNING: bool = false;
    const WRITABLE_CTE: bool = false;
    const TRANSACTIONAL_DDL: bool = false;

    fn execute<'a>(
        conn: &'a mut MySqlConnection,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<u64, sqlx::Error>> {
        Box::pin(async move {
            let done = bind(sqlx::query(sql), args).execute(conn).await?;
            Ok(done.rows_affected())
        })
    }

    fn fetch<'a>(
        conn: &'a mut MySqlConnection,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> BoxFuture<'a, Result<Vec<MySqlRow>, sqlx::Error>> {
        Box::pin(bind(sqlx::query(sql), args).fetch_all(conn))
    }

    fn text(row: &MySqlRow, i: usize) -> Result<String, DbError> {
        let bytes: Vec<u8> = row.try_get(i).map_err(decode)?;
        String::from_utf8(bytes).map_err(|e| DbError::Corrupt(format!("column {i}: {e}")))
    }

    fn opt_text(row: &MySqlRow, i: usize) -> Result<Option<String>, DbError> {
        let bytes: Option<Vec<u8>> = row.try_get(i).map_err(decode)?;
        bytes
            .map(|b| String::from_utf8(b).map_err(|e| DbError::Corrupt(format!("column {i}: {e}"))))
            .transpose()
    }

    fn int(row: &MySqlRow, i: usize) -> Result<i64, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn opt_int(row: &MySqlRow, i: usize) -> Result<Option<i64>, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn flag(row: &MySqlRow, i: usize) -> Result<bool, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn bytes(row: &MySqlRow, i: usize) -> Result<Vec<u8>, DbError> {
        row.try_get(i).map_err(decode)
    }

    fn lock_schema(conn: &mut MySqlConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            let got: Option<i64> = sqlx::query_scalar(
                "SELECT GET_LOCK(CONCAT('convene_events_schema.', DATABASE()), ?)",
            )
            .bind(SCHEMA_LOCK_WAIT.as_secs() as i64)
            .fetch_one(conn)
            .await?;
            if got == Some(1) {
                Ok(())
            } else {
                Err(sqlx::Error::Protocol(format!(
                    "another node held the schema lock for {} s",
                    SCHEMA_LOCK_WAIT.as_secs()
                )))
            }
        })
    }

    fn unlock_schema(conn: &mut MySqlConnection) -> BoxFuture<'_, Result<(), sqlx::Error>> {
        Box::pin(async move {
            sqlx::query("SELECT RELEASE_LOCK(CONCAT('convene_events_schema.', DATABASE()))")
                .execute(conn)
                .await?;
            Ok(())
        })
    }
}
