//! Opening a node's store.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::error::StoreError;
use crate::migrations::{self, MIGRATIONS};

/// The file name inside a node's data directory.
pub const FILE_NAME: &str = "convene.db";

/// A node's store: one SQLite connection, used from one thread at a time.
///
/// Operations are short, synchronous transactions. Async callers run them on
/// a blocking thread (`tokio::task::spawn_blocking`) so a slow disk never
/// stalls the network.
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir` and brings its
    /// schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|error| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            error,
        })?;
        let path = data_dir.join(FILE_NAME);
        let conn = Connection::open(&path).map_err(|error| StoreError::Sqlite {
            path: path.clone(),
            error,
        })?;
        let store = Store {
            path,
            conn: Mutex::new(conn),
        };
        store.configure()?;
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version the file is at.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.sqlite(e))
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written
        // (every change is a transaction), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn sqlite(&self, error: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            error,
        }
    }

    fn configure(&self) -> Result<(), StoreError> {
        // WAL: readers never block the writer, and a crash loses at most the
        // last uncommitted transaction. FULL: a commit returns only once the
        // log is on disk (fsync), so a reply sent after it (a booking
        // confirmed, a meeting registered, a file applied) survives a power
        // cut. NORMAL would keep the file consistent but could lose the last
        // commits a client was already told about. The cost is one fsync per
        // transaction; the booking service groups many requests in one.
        self.conn()
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 PRAGMA synchronous = FULL;
                 PRAGMA busy_timeout = 5000;
                 PRAGMA foreign_keys = ON;",
            )
            .map_err(|e| self.sqlite(e))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > migrations::latest() {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known: migrations::latest(),
            });
        }
        let mut conn = self.conn();
        for m in MIGRATIONS.iter().filter(|m| m.version > found) {
            let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
            tx.execute_batch(m.sql).map_err(|e| self.sqlite(e))?;
            tx.pragma_update(None, "user_version", m.version)
                .map_err(|e| self.sqlite(e))?;
            tx.commit().map_err(|e| self.sqlite(e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_store_is_at_the_latest_version_and_reopens_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.schema_version().unwrap(), migrations::latest());
        drop(store);
        let again = Store::open(dir.path()).unwrap();
        assert_eq!(again.schema_version().unwrap(), migrations::latest());
    }

    /// An acknowledged change must survive a power cut: the connection
    /// syncs the log at every commit (2 is FULL), in WAL mode.
    #[test]
    fn every_commit_is_synced_to_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let conn = store.conn();
        let synchronous: i64 = conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!(synchronous, 2, "PRAGMA synchronous is not FULL");
        let journal: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }

    #[test]
    fn a_store_from_a_newer_build_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(Store::open(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join(FILE_NAME)).unwrap();
        conn.pragma_update(None, "user_version", 999).unwrap();
        drop(conn);
        let err = Store::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("999"), "{err}");
    }

    #[test]
    fn an_unwritable_data_dir_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        std::fs::write(&file, b"x").unwrap();
        let err = Store::open(&file.join("sub")).err().unwrap();
        let text = err.to_string();
        assert!(text.contains("cannot create the data directory"), "{text}");
        // The operating system's reason is in the message, and so not also
        // chained, where printing the chain would say it twice.
        assert!(text.contains("Not a directory"), "{text}");
        assert!(std::error::Error::source(&err).is_none(), "{text}");
    }
}
