//! Walking a shared folder: what is in it, as the [index](crate::index)
//! needs to see it.
//!
//! The walk is the one place the files service reads a whole folder, so it
//! is also where the folder's oddities are sorted out, each reported rather
//! than failing the walk:
//!
//! - a symbolic link is not followed (it could lead out of the folder, or in
//!   a circle) and is reported as skipped;
//! - a name that is not a valid [`SharedPath`] (not UTF-8, a control
//!   character, a name reserved for Convene's temporary files) is skipped and
//!   reported;
//! - a file that vanishes between being listed and being read is simply not
//!   there: the watcher reports its deletion;
//! - a file that cannot be read (permissions) is reported and left out; the
//!   caller must not take a skipped file for deleted (see
//!   [`Inventory::skipped`]).
//!
//! Reading every file to checksum it is the expensive part of a rescan, so
//! [`scan_with`] takes what the index already knows: a file whose size and
//! modified time are unchanged keeps its known checksum without being read.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::index::Observed;
use crate::listing::Entry;
use crate::path::SharedPath;
use crate::transfer::FileChecksum;

/// Bytes read at a time when checksumming: enough for fast sequential reads,
/// small enough that memory does not depend on the file.
const READ_BUFFER: usize = 64 * 1024;

/// What a walk found.
#[derive(Debug, Default)]
pub struct Inventory {
    /// Every regular file, by its path in the folder.
    pub files: BTreeMap<SharedPath, Observed>,
    /// What was left out, and why.
    pub skipped: Vec<Skipped>,
}

impl Inventory {
    /// Whether `path` was left out (so the caller does not take it for
    /// deleted).
    pub fn skipped(&self, path: &SharedPath) -> bool {
        self.skipped.iter().any(|s| s.shared.as_ref() == Some(path))
    }
}

/// Something the walk left out.
#[derive(Debug)]
pub struct Skipped {
    /// Where it is on disk.
    pub path: PathBuf,
    /// Its name in the folder, if it has a valid one.
    pub shared: Option<SharedPath>,
    /// Why it was left out.
    pub reason: String,
}

/// Walks the folder at `root`, reading every file.
pub fn scan(root: &Path) -> std::io::Result<Inventory> {
    scan_with(root, &|_| None)
}

/// Walks the folder at `root`; `known` gives what the index already knows
/// of a file, whose checksum is reused if its size and modified time have
/// not changed. Fails only if `root` itself cannot be read.
pub fn scan_with(
    root: &Path,
    known: &dyn Fn(&SharedPath) -> Option<Observed>,
) -> std::io::Result<Inventory> {
    let mut inventory = Inventory::default();
    let mut skipped = Vec::new();
    walk(root, &mut skipped, &mut |path, shared| {
        observe(&mut inventory, root, path, shared, known)
    })?;
    inventory.skipped.extend(skipped);
    Ok(inventory)
}

/// The folder's files with their size and modified time, without reading
/// them (what a listing needs), sorted by path.
pub fn entries(root: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    walk(root, &mut skipped, &mut |path, shared| {
        if let Ok(meta) = std::fs::metadata(&path) {
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            entries.push(Entry {
                path: shared,
                size: meta.len(),
                modified,
            });
        }
    })?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Visits every regular file under `root` with a valid name; what it cannot
/// visit goes to `skipped`. Fails only if `root` itself cannot be read.
fn walk(
    root: &Path,
    skipped: &mut Vec<Skipped>,
    visit: &mut dyn FnMut(PathBuf, SharedPath),
) -> std::io::Result<()> {
    // Fails early, and clearly, if the folder itself is missing.
    std::fs::read_dir(root)?;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) => {
                skipped.push(skipped_entry(root, dir, format!("cannot list: {e}")));
                continue;
            }
        };
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            if kind.is_symlink() {
                let reason = "a symbolic link (not followed)".to_string();
                skipped.push(skipped_entry(root, path, reason));
            } else if kind.is_dir() {
                match SharedPath::from_relative(root, &path) {
                    Ok(_) => pending.push(path),
                    Err(e) => skipped.push(skipped_entry(root, path, e.to_string())),
                }
            } else if kind.is_file() {
                match SharedPath::from_relative(root, &path) {
                    Ok(shared) => visit(path, shared),
                    Err(e) => skipped.push(skipped_entry(root, path, e.to_string())),
                }
            }
            // Sockets, fifos and devices are not files to share.
        }
    }
    Ok(())
}

/// Looks at one file and adds it (or why it was skipped).
fn observe(
    inventory: &mut Inventory,
    root: &Path,
    path: PathBuf,
    shared: SharedPath,
    known: &dyn Fn(&SharedPath) -> Option<Observed>,
) {
    match look(&path, known(&shared)) {
        Ok(Some(seen)) => {
            inventory.files.insert(shared, seen);
        }
        Ok(None) => {} // vanished meanwhile
        Err(e) => {
            let reason = format!("cannot read: {e}");
            inventory.skipped.push(skipped_entry(root, path, reason));
        }
    }
}

/// A file modified less than this long ago is read again even if its size
/// and modified time match what is known.
///
/// File systems stamp writes with a coarse clock (a few milliseconds on
/// Linux), so a second write of the same size within one tick of the first
/// leaves both unchanged: a look taken between the two would vouch for
/// content that is no longer there, and the newer content could be
/// replaced unseen by a peer's version (the chaos test's files check found
/// exactly that, under load). Git calls such entries "racily clean" and
/// checks their content; so does this, for as long as a file is young.
pub const RACY_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// What one file on disk is now (`None` if it is gone); reuses `known`'s
/// checksum if size and modified time match it and the file was not
/// modified in the last [`RACY_FOR`].
pub fn look(path: &Path, known: Option<Observed>) -> std::io::Result<Option<Observed>> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let size = meta.len();
    let modified_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let settled = now_ns.saturating_sub(modified_ns) > RACY_FOR.as_nanos() as i64;
    if let Some(k) = known
        && settled
        && k.size == size
        && k.modified_ns == modified_ns
    {
        return Ok(Some(k));
    }
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut sum = FileChecksum::new();
    let mut buffer = vec![0u8; READ_BUFFER];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        sum.update(&buffer[..n]);
    }
    Ok(Some(Observed {
        size,
        modified_ns,
        checksum: sum.value(),
    }))
}

fn skipped_entry(root: &Path, path: PathBuf, reason: String) -> Skipped {
    let shared = SharedPath::from_relative(root, &path).ok();
    Skipped {
        path,
        shared,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transfer::checksum;

    fn p(text: &str) -> SharedPath {
        SharedPath::parse(text).unwrap()
    }

    #[test]
    fn files_in_subfolders_are_found_links_and_reserved_names_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join("a.txt"), b"hello").unwrap();
        std::fs::create_dir_all(root.join("sub/deeper")).unwrap();
        std::fs::write(root.join("sub/deeper/b.bin"), [0u8; 3]).unwrap();
        std::fs::write(root.join(".convene-tmp-1"), b"partial").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc", root.join("escape")).unwrap();

        let inventory = scan(root).unwrap();
        let names: Vec<&str> = inventory.files.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["a.txt", "sub/deeper/b.bin"]);
        let a = inventory.files[&p("a.txt")];
        assert_eq!(a.size, 5);
        assert_eq!(a.checksum, checksum(b"hello"));
        assert!(a.modified_ns > 0);
        let reasons: Vec<&str> = inventory
            .skipped
            .iter()
            .map(|s| s.reason.as_str())
            .collect();
        assert_eq!(
            inventory.skipped.len(),
            if cfg!(unix) { 2 } else { 1 },
            "{reasons:?}"
        );
        #[cfg(unix)]
        assert!(
            reasons.iter().any(|r| r.contains("symbolic link")),
            "{reasons:?}"
        );
    }

    #[test]
    fn entries_have_sizes_and_times_without_reading() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/z.txt"), b"12345").unwrap();
        std::fs::write(dir.path().join("a.txt"), b"1").unwrap();
        let entries = entries(dir.path()).unwrap();
        let names: Vec<(&str, u64)> = entries.iter().map(|e| (e.path.as_str(), e.size)).collect();
        assert_eq!(names, [("a.txt", 1), ("sub/z.txt", 5)]);
        assert!(entries[0].modified > 1_600_000_000);
    }

    /// Writes `content` to `name` in `dir`, modified a minute ago.
    fn old_file(dir: &Path, name: &str, content: &[u8]) {
        std::fs::write(dir.join(name), content).unwrap();
        let a_minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(dir.join(name))
            .unwrap()
            .set_modified(a_minute_ago)
            .unwrap();
    }

    #[test]
    fn a_known_unchanged_file_is_not_read_again() {
        let dir = tempfile::tempdir().unwrap();
        old_file(dir.path(), "a.txt", b"hello");
        let first = scan(dir.path()).unwrap().files[&p("a.txt")];
        // Pretend the index knew another checksum for the same size and time:
        // the rescan trusts it, which shows the file was not read.
        let known = Observed {
            checksum: 42,
            ..first
        };
        let again = scan_with(dir.path(), &|_| Some(known)).unwrap();
        assert_eq!(again.files[&p("a.txt")].checksum, 42);
    }

    /// Two writes of one size within one tick of the file system's clock
    /// leave size and time alike: a young file is read again all the same.
    #[test]
    fn a_young_file_is_read_again_even_if_size_and_time_match() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), b"hello").unwrap();
        let first = scan(dir.path()).unwrap().files[&p("a.txt")];
        let known = Observed {
            checksum: 42,
            ..first
        };
        let again = scan_with(dir.path(), &|_| Some(known)).unwrap();
        assert_eq!(again.files[&p("a.txt")].checksum, checksum(b"hello"));
    }

    #[test]
    fn a_missing_folder_is_an_error_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(scan(&dir.path().join("nope")).is_err());
        assert_eq!(look(&dir.path().join("gone"), None).unwrap(), None);
    }
}
