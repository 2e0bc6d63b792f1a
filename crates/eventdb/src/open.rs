//! Choosing a backend from the cluster file's URLs.
//!
//! | `database_url`                            | backend                 |
//! |-------------------------------------------|-------------------------|
//! | `sqlite://data/events.db`                 | SQLite, relative path   |
//! | `sqlite:///var/lib/convene/events.db`     | SQLite, absolute path   |
//! | `sqlite::memory:`                         | SQLite in memory (tests)|
//! | `mysql://user:pw@host:3306/convene`       | MySQL or MariaDB        |
//! | `mariadb://user:pw@host:3306/convene`     | the same                |
//! | `postgres://user:pw@host:5432/convene`    | PostgreSQL              |
//! | `postgresql://...`                        | the same                |
//!
//! A SQLite path is taken as written after `sqlite://` (or `sqlite:`),
//! relative to the working directory unless it starts with `/`; its
//! directory and the file are created if missing.
//!
//! `redis_url` is optional: without it an event server keeps its working
//! set in memory ([`MemoryWorkingSet`]); with it, in Redis
//! ([`RedisWorkingSet`]).

use std::path::PathBuf;
use std::sync::Arc;

use convene_events::EventDb;
use convene_events::working::{MemoryWorkingSet, WorkingSet};

use crate::error::{OpenError, redact};
use crate::redis::RedisWorkingSet;
use crate::sql;
use crate::sqlite::SqliteDb;

/// Which engine a URL names, and what the backend needs to reach it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file.
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database.
    SqliteMemory,
    /// A MySQL or MariaDB server (the URL as sqlx takes it, `mysql://`).
    MySql(String),
    /// A PostgreSQL server (the URL as given).
    Postgres(String),
}

impl Target {
    /// Reads a `database_url` (see the module documentation).
    pub fn parse(url: &str) -> Result<Target, OpenError> {
        let bad = |problem: &str| OpenError::BadUrl {
            url: redact(url),
            problem: problem.to_string(),
        };
        if url == "sqlite::memory:" || url == "sqlite://:memory:" {
            return Ok(Target::SqliteMemory);
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(bad("no file path after sqlite://"));
            }
            if path.contains('?') {
                return Err(bad(
                    "SQLite URLs take no options (?...); the file is created if missing",
                ));
            }
            return Ok(Target::SqliteFile(PathBuf::from(path)));
        }
        if let Some(rest) = url.strip_prefix("mariadb://") {
            return Ok(Target::MySql(format!("mysql://{rest}")));
        }
        if url.starts_with("mysql://") {
            return Ok(Target::MySql(url.to_string()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_string()));
        }
        Err(OpenError::UnsupportedUrl { url: redact(url) })
    }
}

/// Opens the shared database named by `database_url`, creating its schema
/// or bringing it up to date, and returns it ready for the service.
///
/// Fails with a message naming what to fix: an unknown scheme, a directory
/// that cannot be created, a server that cannot be reached or refuses the
/// login, a schema from a newer Convene.
///
/// ```no_run
/// # async fn f() -> Result<(), convene_eventdb::OpenError> {
/// let db = convene_eventdb::open("sqlite://data/events.db").await?;
/// assert_eq!(db.backend(), "sqlite");
/// # Ok(()) }
/// ```
pub async fn open(database_url: &str) -> Result<Arc<dyn EventDb>, OpenError> {
    match Target::parse(database_url)? {
        Target::SqliteFile(path) => {
            // Opening a file and migrating it block: not on the runtime.
            let db = tokio::task::spawn_blocking(move || SqliteDb::open(&path))
                .await
                .map_err(|e| OpenError::Connect {
                    url: redact(database_url),
                    error: Box::new(e),
                })??;
            Ok(Arc::new(db))
        }
        Target::SqliteMemory => Ok(Arc::new(SqliteDb::open_in_memory()?)),
        Target::MySql(url) => sql::mysql::open(&url).await,
        Target::Postgres(url) => sql::postgres::open(&url).await,
    }
}

/// The working set for an event server: in memory without `redis_url`,
/// in Redis with it (after checking Redis answers).
pub async fn open_working_set(redis_url: Option<&str>) -> Result<Arc<dyn WorkingSet>, OpenError> {
    match redis_url {
        None => Ok(Arc::new(MemoryWorkingSet::new())),
        Some(url) => Ok(Arc::new(RedisWorkingSet::open(url).await?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_their_engine() {
        let parse = |u: &str| Target::parse(u).unwrap();
        assert_eq!(
            parse("sqlite://data/e.db"),
            Target::SqliteFile("data/e.db".into())
        );
        assert_eq!(
            parse("sqlite:///var/e.db"),
            Target::SqliteFile("/var/e.db".into())
        );
        assert_eq!(parse("sqlite:e.db"), Target::SqliteFile("e.db".into()));
        assert_eq!(parse("sqlite::memory:"), Target::SqliteMemory);
        assert_eq!(
            parse("mariadb://u@h/d"),
            Target::MySql("mysql://u@h/d".into())
        );
        assert_eq!(
            parse("mysql://u@h/d"),
            Target::MySql("mysql://u@h/d".into())
        );
        assert_eq!(
            parse("postgresql://u@h/d"),
            Target::Postgres("postgresql://u@h/d".into())
        );
    }

    #[test]
    fn bad_urls_say_what_is_accepted() {
        let err = Target::parse("mongodb://u:secret@h/d")
            .unwrap_err()
            .to_string();
        assert!(err.contains("sqlite://"), "{err}");
        assert!(err.contains("postgres://"), "{err}");
        assert!(err.contains("mysql://"), "{err}");
        assert!(!err.contains("secret"), "{err}");
        let err = Target::parse("sqlite://").unwrap_err().to_string();
        assert!(err.contains("no file path"), "{err}");
        let err = Target::parse("sqlite://x.db?mode=rwc")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no options"), "{err}");
    }
}
