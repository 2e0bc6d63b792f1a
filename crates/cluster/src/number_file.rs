//! A number kept in a file of its own in a node's data directory, replaced
//! durably: the boot number (`boot`) and the highest quorum term (`term`).
//!
//! Both must survive a crash at any moment without ever going back, so a
//! new value is written to a temporary file, synced, renamed over the old
//! one, and the directory is synced: after [`write()`] returns, a crash
//! leaves the new number, and before it, the old one, never a torn file.

use std::io::Write;
use std::path::Path;

/// The number in `path`: `Ok(None)` if there is no file yet, an
/// `InvalidData` error if the file does not hold a number (each caller
/// decides what that means: the boot number starts again from the clock,
/// a term must not start again from zero).
pub fn read(path: &Path) -> std::io::Result<Option<u64>> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse::<u64>().map(Some).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} does not hold a number ({e})", path.display()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Replaces the number in `path` with `value`, durably (see the module
/// docs).
pub fn write(path: &Path, value: u64) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let mut file = std::fs::File::create(&temporary)?;
    writeln!(file, "{value}")?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_written_reads_back_and_replaces_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n");
        assert_eq!(read(&path).unwrap(), None);
        write(&path, 7).unwrap();
        write(&path, 9).unwrap();
        assert_eq!(read(&path).unwrap(), Some(9));
        assert!(!dir.path().join("n.tmp").exists());
    }

    #[test]
    fn a_file_without_a_number_is_invalid_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n");
        std::fs::write(&path, "garbage").unwrap();
        let error = read(&path).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
    }
}
