//! [`SharedFolder`]: this node's shared folder and its index, the records
//! of every file in it, kept in the node's store.
//!
//! The index is what this node says each file is (its version, size, time
//! and checksum, or a tombstone). It changes in two ways only, both here:
//! a look at the disk folds what changed into it as a change made here
//! ([`observe`](SharedFolder::observe), [`take_stock`](SharedFolder::take_stock)),
//! and a record applied from a peer replaces it ([`put`](SharedFolder::put)),
//! written to the store at once. The folder's own changes on disk that are
//! not a transfer (a deletion, moving our copy aside as a conflict copy,
//! removing one of Convene's own files) are here too, each through the
//! folder's handles, never following a link (see [`crate::beneath`]).
//!
//! No network, no task: the [sync task](super::synchronizer) decides when,
//! and [`content`](super::content) moves bytes in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use convene_store::Store;
use convene_wire::{Decode, Encode};
use rustix::fs::FileType;

use super::content::FetchError;
use crate::beneath::{Create, Folder};
use crate::index::{Index, LocalChange, Observed};
use crate::inventory;
use crate::path::{PathError, SharedPath, resolve};
use crate::plan::Record;

/// This node's shared folder, its index, and the index's rows in the store.
pub(crate) struct SharedFolder {
    root: PathBuf,
    /// This node's id: the counter a change made here bumps.
    me: String,
    store: Arc<Store>,
    index: Mutex<Index<SharedPath>>,
}

impl SharedFolder {
    /// The folder at `root`, with the index as the store kept it (records
    /// that no longer decode are dropped with a warning: the next walk sees
    /// those files as new).
    pub fn open(root: PathBuf, me: String, store: Arc<Store>) -> SharedFolder {
        let mut records = Vec::new();
        match store.file_records() {
            Ok(rows) => {
                for (path, bytes) in rows {
                    match (SharedPath::parse(&path), Record::from_bytes(&bytes)) {
                        (Ok(path), Ok(record)) => records.push((path, record)),
                        _ => tracing::warn!(%path, "unreadable file record in the store; dropped"),
                    }
                }
            }
            Err(e) => tracing::warn!("cannot read the files records: {e}"),
        }
        SharedFolder {
            root,
            me,
            store,
            index: Mutex::new(Index::from_records(records)),
        }
    }

    /// Where the folder is.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// This node's id.
    pub fn me(&self) -> &str {
        &self.me
    }

    fn index(&self) -> MutexGuard<'_, Index<SharedPath>> {
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every record, for a peer to reconcile with.
    pub fn records(&self) -> Vec<(SharedPath, Record)> {
        self.index()
            .records()
            .map(|(p, r)| (p.clone(), r.clone()))
            .collect()
    }

    /// Our record of `path`, as the index has it (without looking at the
    /// disk).
    pub fn record(&self, path: &SharedPath) -> Option<Record> {
        self.index().get(path).cloned()
    }

    /// Records `record` for `path`, in the index and the store.
    pub fn put(&self, path: &SharedPath, record: Record) {
        self.index().put(path.clone(), record);
        self.persist(path);
    }

    /// Writes `path`'s record, as the index has it, to the store.
    fn persist(&self, path: &SharedPath) {
        let record = self.index().get(path).cloned();
        if let Some(record) = record
            && let Err(e) = self
                .store
                .put_file_record(path.as_str(), &record.to_bytes())
        {
            tracing::warn!(%path, "cannot store the file's record: {e}");
        }
    }

    /// Writes the records of `paths`, as the index has them, to the store
    /// in one transaction (one sync to disk for a whole walk).
    fn persist_all(&self, paths: &[&SharedPath]) {
        let records: Vec<(&str, Vec<u8>)> = {
            let index = self.index();
            paths
                .iter()
                .filter_map(|p| index.get(p).map(|r| (p.as_str(), r.to_bytes())))
                .collect()
        };
        if records.is_empty() {
            return;
        }
        if let Err(e) = self.store.put_file_records(&records) {
            tracing::warn!("cannot store {} file records: {e}", records.len());
        }
    }

    /// Looks at `path` on disk and folds it in as a change made here, if it
    /// is one.
    pub fn observe(&self, path: &SharedPath) -> Option<LocalChange<SharedPath>> {
        let Ok(on_disk) = resolve(&self.root, path) else {
            return None;
        };
        let known = self.index().get(path).filter(|r| !r.deleted).map(observed);
        let seen = match inventory::look(&on_disk, known) {
            Ok(seen) => seen,
            Err(e) => {
                tracing::warn!(%path, "cannot read: {e}");
                return None;
            }
        };
        let change = self.index().observe(path, seen, &self.me);
        if change.is_some() {
            self.persist(path);
        }
        change
    }

    /// Looks at the paths the watcher reported (files or folders, as full
    /// paths) and folds in what changed. A folder stands for every file in
    /// it now and every file known in it before, which covers a folder
    /// created, removed or renamed as a whole.
    pub fn observe_all(&self, paths: Vec<PathBuf>) -> Vec<LocalChange<SharedPath>> {
        let mut files: Vec<SharedPath> = Vec::new();
        for full in paths {
            let Ok(path) = SharedPath::from_relative(&self.root, &full) else {
                continue; // outside the folder, Convene's own, or not a valid name
            };
            if full.is_dir()
                && let Ok(inventory) = inventory::scan(&full)
            {
                for inner in inventory.files.keys() {
                    if let Ok(inner) = SharedPath::parse(&format!("{path}/{inner}")) {
                        files.push(inner);
                    }
                }
            }
            files.extend(self.known_under(path.as_str()));
            files.push(path);
        }
        files.sort();
        files.dedup();
        files.iter().filter_map(|path| self.observe(path)).collect()
    }

    /// The files known under folder `prefix` (to find those a folder's
    /// removal or rename took away).
    fn known_under(&self, prefix: &str) -> Vec<SharedPath> {
        let prefix = format!("{prefix}/");
        self.index()
            .records()
            .filter(|(p, r)| !r.deleted && p.as_str().starts_with(&prefix))
            .map(|(p, _)| p.clone())
            .collect()
    }

    /// Walks the whole folder (off the async threads) and folds what it
    /// finds into the index: files created, changed or deleted since the
    /// last look (while the node was stopped, or unseen by the watcher)
    /// become changes made here. Files the walk could not read are not
    /// taken for deleted. `Err` if the folder itself cannot be read; `Ok`
    /// and no changes if the walk was cut short.
    pub async fn take_stock(&self) -> std::io::Result<Vec<LocalChange<SharedPath>>> {
        let known: BTreeMap<SharedPath, Observed> = self
            .index()
            .records()
            .filter(|(_, r)| !r.deleted)
            .map(|(p, r)| (p.clone(), observed(r)))
            .collect();
        let root = self.root.clone();
        let walked = tokio::task::spawn_blocking(move || {
            let known_ref = &known;
            inventory::scan_with(&root, &|p| known_ref.get(p).copied()).map(|inv| (inv, known))
        })
        .await;
        let (inventory, known) = match walked {
            Ok(done) => done?,
            Err(_) => return Ok(Vec::new()),
        };
        let mut seen = inventory.files.clone();
        for skipped in &inventory.skipped {
            tracing::info!(path = %skipped.path.display(), "not shared: {}", skipped.reason);
            // A file the walk could not read is not a deleted file.
            if let Some(path) = &skipped.shared
                && let Some(k) = known.get(path)
            {
                seen.insert(path.clone(), *k);
            }
        }
        let changes = self.index().scan(&seen, &self.me);
        let paths: Vec<&SharedPath> = changes.iter().map(LocalChange::path).collect();
        self.persist_all(&paths);
        Ok(changes)
    }

    /// Removes `path` from the folder, through its folder's handle (a link
    /// on the way is refused, never followed), and syncs the folder;
    /// `Ok(false)` if there was nothing to remove. A link by that name is
    /// not this node's file (the walk never shares links), so it is left
    /// alone.
    pub fn delete(&self, path: &SharedPath) -> Result<bool, FetchError> {
        let folder = match Folder::parent_of(&self.root, path, Create::Nothing) {
            Ok(folder) => folder,
            Err(PathError::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            }) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        let name = path.file_name();
        match folder.kind_of(name)? {
            None => return Ok(false),
            Some(FileType::Symlink) => {
                let path = crate::path::shorten(path.as_str());
                return Err(PathError::Symlink { path }.into());
            }
            Some(_) => {}
        }
        match folder.remove_file(name) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e.into()),
        }
        folder.sync()?;
        Ok(true)
    }

    /// Renames our copy of `path` to `copy`, its conflict copy, and syncs
    /// the folder; `false` if it could not be moved. The copy is the file's
    /// sibling: one folder, one rename (of a plain file: a link put there
    /// is not ours to move).
    pub fn move_aside(&self, path: &SharedPath, copy: &SharedPath) -> bool {
        Folder::parent_of(&self.root, path, Create::Nothing).is_ok_and(|folder| {
            let name = path.file_name();
            matches!(folder.kind_of(name), Ok(Some(FileType::RegularFile)))
                && folder.rename(name, &folder, copy.file_name()).is_ok()
                && folder.sync().is_ok()
        })
    }

    /// Removes one of Convene's own files (a held update's) from the folder
    /// itself, if it is still there.
    pub fn remove_own_file(&self, name: &str) {
        let _ = Folder::root(&self.root).and_then(|root| root.remove_file(name));
    }
}

/// What a record says is on disk.
fn observed(r: &Record) -> Observed {
    Observed {
        size: r.size,
        modified_ns: r.modified_ns,
        checksum: r.checksum,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> (tempfile::TempDir, SharedFolder) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("shared");
        std::fs::create_dir(&root).unwrap();
        let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
        (dir, SharedFolder::open(root, "A".into(), store))
    }

    fn path(text: &str) -> SharedPath {
        SharedPath::parse(text).unwrap()
    }

    #[tokio::test]
    async fn a_walk_finds_changes_made_here_and_the_store_keeps_them() {
        let (dir, folder) = folder();
        std::fs::write(folder.root().join("a.txt"), "one").unwrap();
        let changes = folder.take_stock().await.unwrap();
        assert_eq!(changes, vec![LocalChange::Created(path("a.txt"))]);
        assert!(folder.take_stock().await.unwrap().is_empty(), "nothing new");

        // A node started again over the same store knows the file, and
        // finds only what changed while it was stopped.
        std::fs::remove_file(folder.root().join("a.txt")).unwrap();
        let store = Arc::new(Store::open(&dir.path().join("data")).unwrap());
        let again = SharedFolder::open(folder.root().to_path_buf(), "A".into(), store);
        assert!(again.record(&path("a.txt")).is_some_and(|r| !r.deleted));
        let changes = again.take_stock().await.unwrap();
        assert_eq!(changes, vec![LocalChange::Deleted(path("a.txt"))]);
        assert!(again.record(&path("a.txt")).is_some_and(|r| r.deleted));
    }

    #[test]
    fn a_folder_the_watcher_reports_stands_for_the_files_in_it_before_and_now() {
        let (_dir, folder) = folder();
        let root = folder.root().to_path_buf();
        std::fs::create_dir(root.join("d")).unwrap();
        std::fs::write(root.join("d/old.txt"), "old").unwrap();
        assert_eq!(folder.observe_all(vec![root.join("d")]).len(), 1);
        // The folder is renamed: the old name's files are gone, the new
        // name's are new.
        std::fs::rename(root.join("d"), root.join("e")).unwrap();
        let mut changes = folder.observe_all(vec![root.join("d"), root.join("e")]);
        changes.sort_by(|a, b| a.path().cmp(b.path()));
        assert_eq!(
            changes,
            vec![
                LocalChange::Deleted(path("d/old.txt")),
                LocalChange::Created(path("e/old.txt")),
            ]
        );
    }

    #[test]
    fn deleting_and_moving_aside_touch_plain_files_only() {
        let (_dir, folder) = folder();
        let root = folder.root().to_path_buf();
        std::fs::write(root.join("a.txt"), "ours").unwrap();
        let copy = path("a.txt").conflict_name("B", 0);
        assert!(folder.move_aside(&path("a.txt"), &copy));
        assert_eq!(std::fs::read(root.join(copy.as_str())).unwrap(), b"ours");
        assert!(!root.join("a.txt").exists());
        assert!(!folder.move_aside(&path("a.txt"), &copy), "nothing to move");

        assert!(folder.delete(&copy).unwrap());
        assert!(!folder.delete(&copy).unwrap(), "nothing to delete");
        assert!(!folder.delete(&path("no/such/folder.txt")).unwrap());

        // A link is not this node's file: neither removed nor moved.
        std::os::unix::fs::symlink("/etc/hostname", root.join("link")).unwrap();
        assert!(matches!(
            folder.delete(&path("link")),
            Err(FetchError::Path(PathError::Symlink { .. }))
        ));
        assert!(!folder.move_aside(&path("link"), &path("link-copy")));
        assert!(root.join("link").symlink_metadata().is_ok());
    }
}
