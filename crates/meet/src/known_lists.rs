//! The last user list each backend announced, kept on a main node's disk.
//!
//! A main node that restarts while a backend is down would otherwise know
//! nothing of that backend's users until it comes back, and could not say
//! "bob is on Server B, which does not answer". So every list a main node
//! puts in force is also written to `<data_dir>/meet-lists/<backend id>.txt`
//! and read back at start (a list the backend announces later replaces it):
//!
//! ```text
//! # convene meet: the users Server B announced to this main node
//! boot 1765000000000000000
//! theodore
//! bob
//! ```
//!
//! The file is a cache, not a source of truth: the availability file on the
//! backend is. So a missing file is no list, and a damaged one is set aside
//! with a warning (the main node then treats the backend as not yet heard
//! from, which is safe: its possible users are reported unreachable, never
//! as not existing).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::directory::KnownList;
use crate::name::check_name;

/// The folder, inside a node's data directory.
pub const FOLDER: &str = "meet-lists";

/// Why a kept list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KnownListError {
    /// The file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The list's file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is not a list this module wrote.
    #[error("{path}:{line}: {problem}")]
    Malformed {
        /// The list's file.
        path: PathBuf,
        /// The line at fault, from 1.
        line: usize,
        /// What is wrong with it.
        problem: String,
    },
}

/// The kept lists of one main node.
#[derive(Clone, Debug)]
pub struct KnownLists {
    dir: PathBuf,
}

impl KnownLists {
    /// The lists kept in `data_dir` (the node's data directory).
    pub fn in_data_dir(data_dir: &Path) -> Self {
        KnownLists {
            dir: data_dir.join(FOLDER),
        }
    }

    fn path(&self, backend: &str) -> PathBuf {
        // Node ids are letters, digits, '-' and '_' (the cluster file checks),
        // so an id is a safe file name.
        self.dir.join(format!("{backend}.txt"))
    }

    /// Replaces backend `backend`'s kept list: written to a temporary file,
    /// synced and renamed over the old one, so a crash leaves the old list
    /// or the new one, never half of either.
    pub fn save(&self, backend: &str, list: &KnownList) -> Result<(), KnownListError> {
        let path = self.path(backend);
        let io = |error| KnownListError::Io {
            path: path.clone(),
            error,
        };
        std::fs::create_dir_all(&self.dir).map_err(io)?;
        let mut text = format!(
            "# convene meet: the users Server {backend} announced to this main node\nboot {}\n",
            list.boot
        );
        for name in &list.names {
            text.push_str(name);
            text.push('\n');
        }
        let temporary = path.with_extension("txt.tmp");
        let mut file = std::fs::File::create(&temporary).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&temporary, &path).map_err(io)
    }

    /// Backend `backend`'s kept list; `Ok(None)` if none was kept.
    pub fn load(&self, backend: &str) -> Result<Option<KnownList>, KnownListError> {
        let path = self.path(backend);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(KnownListError::Io { path, error }),
        };
        parse(&text)
            .map(Some)
            .map_err(|(line, problem)| KnownListError::Malformed {
                path,
                line,
                problem,
            })
    }
}

/// Reads a kept list: comments, the `boot` line, then one name a line.
fn parse(text: &str) -> Result<KnownList, (usize, String)> {
    let mut boot = None;
    let mut names = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = i + 1;
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match boot {
            None => {
                let stamp = line
                    .strip_prefix("boot ")
                    .ok_or((at, format!("expected `boot <number>`, found {line:?}")))?;
                boot = Some(
                    stamp
                        .parse::<u64>()
                        .map_err(|e| (at, format!("bad boot stamp {stamp:?}: {e}")))?,
                );
            }
            Some(_) => {
                check_name(line).map_err(|e| (at, e.to_string()))?;
                names.push(Arc::from(line));
            }
        }
    }
    let boot = boot.ok_or((1, "no `boot <number>` line".to_string()))?;
    Ok(KnownList { boot, names })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(boot: u64, names: &[&str]) -> KnownList {
        KnownList {
            boot,
            names: names.iter().map(|n| Arc::from(*n)).collect(),
        }
    }

    #[test]
    fn a_saved_list_reads_back_and_replaces_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let kept = KnownLists::in_data_dir(dir.path());
        assert!(kept.load("B").unwrap().is_none());
        kept.save("B", &list(7, &["bob", "amy"])).unwrap();
        kept.save("B", &list(9, &["theodore"])).unwrap();
        kept.save("A", &list(3, &[])).unwrap();
        assert_eq!(kept.load("B").unwrap(), Some(list(9, &["theodore"])));
        assert_eq!(kept.load("A").unwrap(), Some(list(3, &[])));
        let files: Vec<_> = std::fs::read_dir(dir.path().join(FOLDER))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files.len(), 2, "no temporary file left: {files:?}");
    }

    #[test]
    fn a_damaged_list_is_refused_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let kept = KnownLists::in_data_dir(dir.path());
        std::fs::create_dir_all(dir.path().join(FOLDER)).unwrap();
        for (text, line, needle) in [
            ("", 1, "no `boot"),
            ("# c\nbob\n", 2, "expected `boot"),
            ("boot x\n", 1, "bad boot stamp"),
            ("boot 1\nbob\nBob\n", 3, "lowercase"),
        ] {
            std::fs::write(dir.path().join(FOLDER).join("B.txt"), text).unwrap();
            let err = kept.load("B").unwrap_err();
            match &err {
                KnownListError::Malformed { line: at, .. } => assert_eq!(*at, line, "{text:?}"),
                other => panic!("{text:?}: {other}"),
            }
            let shown = err.to_string();
            assert!(shown.contains("B.txt") && shown.contains(needle), "{shown}");
        }
    }
}
