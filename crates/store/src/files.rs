//! The files service's tables: its record of every file (tombstones
//! included), the updates held for locked files, and the locks themselves.
//!
//! Records and held updates are stored as the bytes the files service
//! encodes: the store keeps them safe and in order, and does not need to know
//! what a version vector is. Held updates keep their arrival order (an
//! autoincrement key never reused), which is the order they must be applied
//! in when their file is unlocked, even across a restart of the lock holder.
//!
//! The locks and held updates are no longer written here: they live in the
//! cluster's shared lock book (`convene-files`, `service/lock_book.rs`), so
//! that they outlive the lock holder. A holder that kept some here before
//! moves them into the book when it starts, and forgets them here.

use rusqlite::{OptionalExtension, params};

use crate::error::StoreError;
use crate::store::Store;

/// A stored lock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRow {
    /// The locked file.
    pub path: String,
    /// Who holds it.
    pub owner: String,
    /// When the lease ends, milliseconds since the Unix epoch.
    pub expires_ms: i64,
}

impl Store {
    /// Writes (or replaces) the record of `path`.
    pub fn put_file_record(&self, path: &str, record: &[u8]) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("INSERT OR REPLACE INTO files_records (path, record) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![path, record]))
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// Writes (or replaces) many records in one transaction: one sync to
    /// disk for a whole walk of the folder, not one per file.
    pub fn put_file_records(&self, records: &[(&str, Vec<u8>)]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO files_records (path, record) VALUES (?1, ?2)",
                )
                .map_err(|e| self.sqlite(e))?;
            for (path, record) in records {
                put.execute(params![path, record])
                    .map_err(|e| self.sqlite(e))?;
            }
        }
        tx.commit().map_err(|e| self.sqlite(e))
    }

    /// The record of `path`, if any.
    pub fn file_record(&self, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()
            .prepare_cached("SELECT record FROM files_records WHERE path = ?1")
            .and_then(|mut s| s.query_row(params![path], |r| r.get(0)).optional())
            .map_err(|e| self.sqlite(e))
    }

    /// Every record, by path.
    pub fn file_records(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT path, record FROM files_records ORDER BY path")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }

    /// Appends an update held for locked file `path`; returns its place in
    /// the arrival order.
    pub fn hold_file_update(&self, path: &str, update: &[u8]) -> Result<i64, StoreError> {
        let conn = self.conn();
        conn.prepare_cached("INSERT INTO files_held (path, update_bytes) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![path, update]))
            .map_err(|e| self.sqlite(e))?;
        Ok(conn.last_insert_rowid())
    }

    /// The updates held for `path`, in arrival order (not removed).
    pub fn held_file_updates(&self, path: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached("SELECT update_bytes FROM files_held WHERE path = ?1 ORDER BY seq")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map(params![path], |r| r.get(0))
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }

    /// Forgets the updates held for `path` (once they are applied).
    pub fn clear_held_file_updates(&self, path: &str) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("DELETE FROM files_held WHERE path = ?1")
            .and_then(|mut s| s.execute(params![path]))
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// Writes (or renews) a lock.
    pub fn put_file_lock(&self, lock: &LockRow) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached(
                "INSERT OR REPLACE INTO files_locks (path, owner, expires_ms) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![lock.path, lock.owner, lock.expires_ms]))
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// Removes the lock on `path`, if any.
    pub fn remove_file_lock(&self, path: &str) -> Result<(), StoreError> {
        self.conn()
            .prepare_cached("DELETE FROM files_locks WHERE path = ?1")
            .and_then(|mut s| s.execute(params![path]))
            .map(|_| ())
            .map_err(|e| self.sqlite(e))
    }

    /// Every lock, by path.
    pub fn file_locks(&self) -> Result<Vec<LockRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT path, owner, expires_ms FROM files_locks ORDER BY path")
            .map_err(|e| self.sqlite(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LockRow {
                    path: r.get(0)?,
                    owner: r.get(1)?,
                    expires_ms: r.get(2)?,
                })
            })
            .map_err(|e| self.sqlite(e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.sqlite(e))?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_held_updates_and_locks_survive_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            store.put_file_record("a.txt", b"one").unwrap();
            store.put_file_record("sub/b.txt", b"two").unwrap();
            store
                .put_file_records(&[("a.txt", b"three".to_vec()), ("c.txt", b"four".to_vec())])
                .unwrap();
            let first = store.hold_file_update("a.txt", b"u1").unwrap();
            store.hold_file_update("c.txt", b"other").unwrap();
            let second = store.hold_file_update("a.txt", b"u2").unwrap();
            assert!(second > first);
            store
                .put_file_lock(&LockRow {
                    path: "a.txt".into(),
                    owner: "alice".into(),
                    expires_ms: 1_000,
                })
                .unwrap();
        }
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.file_record("a.txt").unwrap(), Some(b"three".to_vec()));
        assert_eq!(store.file_record("nope").unwrap(), None);
        assert_eq!(
            store.file_records().unwrap(),
            [
                ("a.txt".to_string(), b"three".to_vec()),
                ("c.txt".to_string(), b"four".to_vec()),
                ("sub/b.txt".to_string(), b"two".to_vec())
            ]
        );
        assert_eq!(
            store.held_file_updates("a.txt").unwrap(),
            [b"u1".to_vec(), b"u2".to_vec()]
        );
        store.clear_held_file_updates("a.txt").unwrap();
        assert!(store.held_file_updates("a.txt").unwrap().is_empty());
        assert_eq!(
            store.held_file_updates("c.txt").unwrap(),
            [b"other".to_vec()]
        );
        assert_eq!(store.file_locks().unwrap().len(), 1);
        store.remove_file_lock("a.txt").unwrap();
        assert!(store.file_locks().unwrap().is_empty());
    }
}
