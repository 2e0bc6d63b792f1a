//! Copying one file into a backup, or out of one, durably and checksummed.
//!
//! A SQLite database is copied through SQLite's online backup API
//! ([`sqlite`]): a plain copy of a file a node is writing can tear (half
//! of a page written, a commit still in the write-ahead log, which a copy
//! of the main file alone loses). The backup API reads every page inside
//! one read transaction, so the copy is the database as of one commit;
//! in WAL mode that reader blocks no writer, so the node keeps answering.
//! Every other file is copied as it is ([`plain`]): the node replaces
//! each of them whole (a temporary file renamed over it), so a read sees
//! the old content or the new, never half.

use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// How long a copy waits for a database that is locked (a checkpoint, or
/// an opener migrating it) before giving up.
const LOCKED_FOR: Duration = Duration::from_secs(10);

/// What one copy wrote.
#[derive(Debug)]
pub struct Copied {
    /// Its size in bytes.
    pub bytes: u64,
    /// Its BLAKE3 checksum, in hex.
    pub blake3: String,
}

/// Whether the file at `path` is a SQLite database (by its header).
pub fn is_sqlite(path: &Path) -> std::io::Result<bool> {
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path)?;
    let mut read = 0;
    while read < head.len() {
        match file.read(&mut head[read..])? {
            0 => return Ok(false),
            n => read += n,
        }
    }
    Ok(&head == SQLITE_HEADER)
}

/// Copies the live SQLite database at `from` into a new file `to`
/// through the online backup API, as of one commit (see the module docs).
/// The copy is left in rollback-journal mode, one self-contained file.
pub fn sqlite(from: &Path, to: &Path) -> Result<Copied, rusqlite::Error> {
    // Read-write without create: a read-only connection cannot always
    // open a WAL database whose node has stopped (it may need to make the
    // shared-memory file), and this one writes nothing.
    let source = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    source.busy_timeout(LOCKED_FOR)?;
    let mut copy = Connection::open(to)?;
    {
        let backup = Backup::new(&source, &mut copy)?;
        let started = std::time::Instant::now();
        // All pages in one step: one read transaction, one snapshot. In
        // small steps a write by a node between two steps would start the
        // copy over, and under steady load it might never finish.
        loop {
            match backup.step(-1)? {
                StepResult::Done => break,
                StepResult::More => continue,
                _ if started.elapsed() < LOCKED_FOR => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => {
                    return Err(rusqlite::Error::SqliteFailure(
                        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                        Some(format!(
                            "{} stayed locked for {LOCKED_FOR:?}",
                            from.display()
                        )),
                    ));
                }
            }
        }
    }
    // One file, no -wal beside it; the node sets its own mode on open.
    let _: String = copy.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))?;
    copy.close().map_err(|(_, e)| e)?;
    drop(source);
    checksum(to).map_err(|e| {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
            Some(format!("reading back {}: {e}", to.display())),
        )
    })
}

/// Copies the file `from` to a new file `to`, synced, and checksums what
/// was written.
pub fn plain(from: &Path, to: &Path) -> std::io::Result<Copied> {
    let mut input = std::fs::File::open(from)?;
    let mut output = std::fs::File::create_new(to)?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = input.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        output.write_all(&buf[..n])?;
        bytes += n as u64;
    }
    output.sync_all()?;
    Ok(Copied {
        bytes,
        blake3: hasher.finalize().to_hex().to_string(),
    })
}

/// The size and checksum of the file at `path`, synced first.
pub fn checksum(path: &Path) -> std::io::Result<Copied> {
    let mut file = std::fs::File::open(path)?;
    file.sync_all()?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(Copied {
        bytes,
        blake3: hasher.finalize().to_hex().to_string(),
    })
}

/// Syncs the directory `dir`, so the names of the files just made in it
/// survive a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_in_use_is_copied_whole_and_a_file_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.db");
        let conn = Connection::open(&live).unwrap();
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2);")
            .unwrap();
        // Still open, its last commit only in the log: a plain copy of the
        // main file would miss it.
        assert!(dir.path().join("live.db-wal").exists());
        let copy = dir.path().join("copy.db");
        let copied = sqlite(&live, &copy).unwrap();
        assert!(is_sqlite(&copy).unwrap());
        assert_eq!(copied.bytes, std::fs::metadata(&copy).unwrap().len());
        assert!(!dir.path().join("copy.db-wal").exists());
        let back = Connection::open(&copy).unwrap();
        let sum: i64 = back
            .query_row("SELECT SUM(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, 3);

        let text = dir.path().join("boot");
        std::fs::write(&text, "12\n").unwrap();
        assert!(!is_sqlite(&text).unwrap());
        let out = dir.path().join("boot.copy");
        let copied = plain(&text, &out).unwrap();
        assert_eq!(copied.bytes, 3);
        assert_eq!(copied.blake3, checksum(&out).unwrap().blake3);
        assert_eq!(copied.blake3, blake3::hash(b"12\n").to_hex().to_string());
        // Never over a file already there.
        assert!(plain(&text, &out).is_err());
    }
}
