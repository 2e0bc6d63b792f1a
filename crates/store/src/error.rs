//! Errors of the store.

use std::path::PathBuf;

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {error}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// SQLite refused an operation.
    #[error("store {path}: {error}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        error: rusqlite::Error,
    },
    /// The file was written by a newer Convene whose schema this one does not know.
    #[error(
        "store {path} has schema version {found}, newer than this build's {known}; upgrade Convene"
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Version in the file.
        found: i64,
        /// Newest version this build knows.
        known: i64,
    },
    /// A row holds a value this build cannot interpret.
    #[error("store {path}: corrupt row in {table}: {problem}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The table.
        table: &'static str,
        /// What is wrong.
        problem: String,
    },
}
