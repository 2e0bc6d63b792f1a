//! Where a node keeps the highest [`Term`] its [`Authority`] has granted or
//! used, so that a restart never reuses a term nor grants below one it
//! granted (see "Crash and restart" in [`quorum`](crate::quorum)).
//!
//! A node with a data directory keeps it there, in a file of its own
//! (`term`), written and synced before any message that depends on it is
//! sent, the way the node keeps its boot number in `boot`. A node without
//! one (tests, simulations) keeps it in memory: its terms then start again
//! from zero after a restart, which is safe only because such a node's
//! restart is a new process of a test that does not check fencing across
//! it.
//!
//! [`Authority`]: crate::quorum::Authority

use std::path::{Path, PathBuf};

use crate::number_file;
use crate::quorum::Term;

/// The file, in the node's data directory.
pub const TERM_FILE: &str = "term";

/// The highest term stored so far, and where it is kept.
#[derive(Debug)]
pub struct TermStore {
    /// The file, or `None` for memory only.
    path: Option<PathBuf>,
    stored: Term,
}

impl TermStore {
    /// A store that keeps the term in memory only (nothing survives the
    /// process).
    pub fn in_memory() -> TermStore {
        TermStore {
            path: None,
            stored: Term(0),
        }
    }

    /// The store in `data_dir`, with the term it holds (`Term(0)` if the
    /// file does not exist yet). A file that does not hold a number is an
    /// error, not zero: starting terms again from zero could break fencing.
    pub fn open(data_dir: &Path) -> std::io::Result<TermStore> {
        let path = data_dir.join(TERM_FILE);
        let stored = Term(number_file::read(&path)?.unwrap_or(0));
        Ok(TermStore {
            path: Some(path),
            stored,
        })
    }

    /// The highest term stored.
    pub fn stored(&self) -> Term {
        self.stored
    }

    /// The file, if the store has one.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Records `term` (durably, for a file) if it is above what is stored;
    /// when this returns `Ok`, messages carrying `term` may be sent.
    pub fn store(&mut self, term: Term) -> std::io::Result<()> {
        if term <= self.stored {
            return Ok(());
        }
        if let Some(path) = &self.path {
            number_file::write(path, term.0)?;
        }
        self.stored = term;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_term_survives_reopening_and_never_goes_down() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = TermStore::open(dir.path()).unwrap();
        assert_eq!(store.stored(), Term(0));
        store.store(Term(7)).unwrap();
        store.store(Term(4)).unwrap();
        assert_eq!(store.stored(), Term(7));
        assert_eq!(TermStore::open(dir.path()).unwrap().stored(), Term(7));
    }

    #[test]
    fn a_garbled_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TERM_FILE), "garbage").unwrap();
        assert!(TermStore::open(dir.path()).is_err());
    }

    #[test]
    fn memory_only_keeps_the_highest() {
        let mut store = TermStore::in_memory();
        store.store(Term(3)).unwrap();
        store.store(Term(2)).unwrap();
        assert_eq!(store.stored(), Term(3));
        assert_eq!(store.path(), None);
    }
}
