//! Why a database or working set could not be opened, and how each engine's
//! errors become a [`DbError`] once it is open.
//!
//! Opening fails loudly and early, with a message that names what to fix
//! (the URL, the directory, the server that refused). Once open, every
//! failure is one of [`DbError`]'s four kinds, whatever the engine said:
//! the service only needs to know whether to report a conflict
//! ([`DbError::Duplicate`]), to retry later ([`DbError::Unavailable`]), or
//! to give up ([`DbError::Query`], [`DbError::Corrupt`]).

use std::path::PathBuf;

use convene_events::DbError;

/// Any error, boxed: what a driver reported, shown in the message.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why [`open`](crate::open()) or [`open_working_set`](crate::open_working_set)
/// failed. Every message names the thing to fix; passwords in URLs are
/// replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no engine this build knows.
    #[error(
        "unsupported database URL {url:?}: expected sqlite://PATH, sqlite::memory:, \
         mysql://USER@HOST:PORT/DB (MySQL or MariaDB) or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl {
        /// The URL as given (password hidden).
        url: String,
    },
    /// The URL has the right scheme but cannot be used as written.
    #[error("bad database URL {url:?}: {problem}")]
    BadUrl {
        /// The URL as given (password hidden).
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The directory meant to hold the SQLite file could not be created.
    #[error("cannot create the directory {path} for the SQLite database: {error}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// SQLite could not open or configure the file.
    #[error("cannot open the SQLite database {path}: {error}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The thread that commits SQLite writes could not be started.
    #[error("cannot start the commit thread for the SQLite database {path}: {error}")]
    CommitThread {
        /// The database file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The database server could not be reached or refused the login.
    #[error("cannot connect to {url}: {error}")]
    Connect {
        /// The URL (password hidden).
        url: String,
        /// What the driver said.
        error: BoxError,
    },
    /// A schema migration failed; the database keeps the version it had.
    #[error("cannot bring the schema of {url} to version {version}: {error}")]
    Migrate {
        /// The URL or file (password hidden).
        url: String,
        /// The version being applied.
        version: i64,
        /// What the database said.
        error: BoxError,
    },
    /// The database was set up by a newer Convene.
    #[error(
        "the events schema of {url} is at version {found}, newer than this build's {known}; \
         upgrade Convene"
    )]
    TooNew {
        /// The URL or file (password hidden).
        url: String,
        /// The version found in `convene_events_schema`.
        found: i64,
        /// The newest version this build knows.
        known: i64,
    },
    /// Redis could not be reached, or the URL is not a Redis URL.
    #[error("cannot connect to Redis at {url}: {error}")]
    Redis {
        /// The URL (password hidden).
        url: String,
        /// What the client said.
        error: BoxError,
    },
}

/// `url` with the password, if any, replaced by `***`, fit for logs and
/// error messages: `mysql://app:secret@db/convene` becomes
/// `mysql://app:***@db/convene`.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_string();
    };
    let Some(colon) = rest[..at].find(':') else {
        return url.to_string();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &rest[..colon],
        &rest[at..]
    )
}

/// A SQLite error as the service sees it: a repeated key is
/// [`DbError::Duplicate`], a locked or unreadable file is
/// [`DbError::Unavailable`], anything else a failed statement.
pub(crate) fn from_sqlite(e: rusqlite::Error) -> DbError {
    use rusqlite::ErrorCode;
    use rusqlite::ffi::{SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE};
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == SQLITE_CONSTRAINT_UNIQUE =>
        {
            DbError::Duplicate
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                ErrorCode::DatabaseBusy
                    | ErrorCode::DatabaseLocked
                    | ErrorCode::CannotOpen
                    | ErrorCode::SystemIoFailure
                    | ErrorCode::DiskFull
                    | ErrorCode::ReadOnly
                    | ErrorCode::PermissionDenied
            ) =>
        {
            DbError::Unavailable(e.to_string())
        }
        _ => DbError::Query(e.to_string()),
    }
}

/// A MySQL or PostgreSQL error as the service sees it.
///
/// A unique-key violation (MySQL 1062, PostgreSQL `23505`) is
/// [`DbError::Duplicate`]. A lost connection, a pool that cannot get one,
/// or a server shutting down (SQLSTATE class `08`, PostgreSQL `57P0x`) is
/// [`DbError::Unavailable`]: worth retrying later. Anything else is a
/// failed statement.
pub(crate) fn from_sqlx(e: sqlx::Error) -> DbError {
    match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => DbError::Duplicate,
        sqlx::Error::Database(d)
            if d.code()
                .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")) =>
        {
            DbError::Unavailable(e.to_string())
        }
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => DbError::Unavailable(e.to_string()),
        _ => DbError::Query(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_and_everything_else_kept() {
        assert_eq!(
            redact("mysql://app:secret@db:3306/convene"),
            "mysql://app:***@db:3306/convene"
        );
        assert_eq!(
            redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(redact("redis://:pw@host"), "redis://:***@host");
        assert_eq!(redact("sqlite://data/x.db"), "sqlite://data/x.db");
        assert_eq!(redact("sqlite::memory:"), "sqlite::memory:");
        // An '@' in the path is not a login.
        assert_eq!(redact("sqlite://a:b/c@d"), "sqlite://a:b/c@d");
    }
}
