//! The files workload and its check, on the shared folders themselves: the
//! workload edits files in the nodes' folders as their users would (also
//! while a node is down or cut off), and the check reads the folders once
//! they agree.
//!
//! A few files, made on one node before the faults begin and synced
//! everywhere, are edited on random nodes. Each edit reads the file as it
//! is on that node, then writes new content no other edit writes and syncs
//! it to the disk: then it is acknowledged. An edit knowingly replaces what
//! it read; any other content must survive: once the folders agree, every
//! acknowledged content that no later edit read is in every folder, as the
//! file or as one of its conflict copies (`name.sync-conflict-…`).
//!
//! An edit reads and writes through one open file, as an editor that saves
//! in place does, so what it replaced is exactly what it read. The service
//! puts a synced version in place by renaming a new file over the old one;
//! if that happens while an edit has the file open, the edit's write goes
//! to the file that was renamed away, and the edit is not acknowledged
//! (counted as "replaced while open"): the person's save went to a file
//! that is no longer in the folder, which is what a real editor would do
//! too. Otherwise the check would blame the service for content the
//! workload itself overwrote without reading it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::rng::Rng;

/// The files edited.
pub const FILES: usize = 6;

/// A node's shared folder, relative to the run's folder.
pub fn folder(node: &str) -> String {
    format!("files-{node}")
}

/// The `k`th file's name.
fn name(k: usize) -> String {
    format!("doc{k}.txt")
}

/// One acknowledged edit.
#[derive(Clone, Debug)]
pub struct Edit {
    file: usize,
    /// What the file held on that node just before (what this edit replaces).
    read: Option<String>,
    /// What it wrote.
    wrote: String,
}

/// What the workload did.
#[derive(Debug, Default)]
pub struct Tally {
    /// Edits acknowledged (written and synced to the disk).
    pub edits: Vec<Edit>,
    /// Edits that failed (the folder was not there, a write failed).
    pub failed: u64,
    /// Edits whose file was replaced by a synced version while they had it
    /// open: their write went to the file renamed away (see the module docs).
    pub replaced_while_open: u64,
}

/// Makes every file on node 0 and waits (at most `patience`) until every
/// folder has them.
pub fn prepare(folders: &[PathBuf], patience: Duration) -> anyhow::Result<()> {
    for k in 0..FILES {
        write_synced(&folders[0].join(name(k)), &format!("doc{k} initial\n"))?;
    }
    let deadline = Instant::now() + patience;
    while !folders
        .iter()
        .all(|f| (0..FILES).all(|k| f.join(name(k)).exists()))
    {
        if Instant::now() > deadline {
            anyhow::bail!(
                "the files made on the first node did not reach every node within {patience:?}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Ok(())
}

fn write_synced(path: &Path, content: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(content.as_bytes())?;
    file.sync_all()
}

/// Where an edit's write went.
enum Saved {
    /// Into the file at its path; it replaced `read` (`None`: there was no
    /// file, or it was not text).
    InTheFile { read: Option<String> },
    /// Into a file that a synced version replaced meanwhile.
    ToAReplacedFile,
}

/// Edits `path` in place: reads it and writes `content` through one open
/// file, syncs it to the disk, then checks that the file written is still
/// the one at `path`.
fn edit_in_place(path: &Path, content: &str) -> std::io::Result<Saved> {
    use std::io::{Read, Seek, SeekFrom, Write};
    use std::os::unix::fs::MetadataExt;
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    let read = String::from_utf8(bytes).ok();
    let opened = file.metadata()?;
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(content.as_bytes())?;
    file.sync_all()?;
    let now = std::fs::metadata(path)?;
    if (now.dev(), now.ino()) != (opened.dev(), opened.ino()) {
        return Ok(Saved::ToAReplacedFile);
    }
    Ok(Saved::InTheFile { read })
}

/// Edits random files on random nodes until `stop`.
pub fn worker(
    folders: Vec<PathBuf>,
    names: Vec<String>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let node = rng.below(folders.len() as u64) as usize;
        let file = rng.below(FILES as u64) as usize;
        let path = folders[node].join(name(file));
        seq += 1;
        let wrote = format!("doc{file} edit {seq} on {}\n", names[node]);
        match edit_in_place(&path, &wrote) {
            Ok(Saved::InTheFile { read }) => tally.edits.push(Edit { file, read, wrote }),
            Ok(Saved::ToAReplacedFile) => tally.replaced_while_open += 1,
            Err(_) => tally.failed += 1,
        }
        std::thread::sleep(Duration::from_millis(rng.between(50, 400)));
    }
    tally
}

/// The check's result.
#[derive(Debug, Default)]
pub struct Checked {
    /// Whether the folders came to agree.
    pub agreed: bool,
    /// How long that took after the workload stopped.
    pub after: Duration,
    /// Acknowledged edits no later edit read: each must survive.
    pub must_survive: u64,
    /// Of those, found under the file's name.
    pub as_file: u64,
    /// Of those, found as a conflict copy.
    pub as_conflict_copy: u64,
    /// Conflict copies in the folders.
    pub conflict_copies: u64,
    /// What is wrong.
    pub violations: Vec<String>,
}

/// Every file of `folder` (the service's own `.convene-` files left out)
/// and its content.
fn contents(folder: &Path) -> BTreeMap<String, String> {
    let mut all = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(folder) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".convene-") || !entry.path().is_file() {
                continue;
            }
            if let Ok(text) = std::fs::read_to_string(entry.path()) {
                all.insert(name, text);
            }
        }
    }
    all
}

/// Waits (at most `patience`) until every folder holds the same files, then
/// checks that every edit that must survive did.
pub fn check(tally: &Tally, folders: &[PathBuf], names: &[String], patience: Duration) -> Checked {
    let mut checked = Checked::default();
    let started = Instant::now();
    let mut seen: Vec<BTreeMap<String, String>>;
    loop {
        seen = folders.iter().map(|f| contents(f)).collect();
        if seen.windows(2).all(|w| w[0] == w[1]) {
            checked.agreed = true;
            break;
        }
        if started.elapsed() > patience {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    checked.after = started.elapsed();
    if !checked.agreed {
        for (i, s) in seen.iter().enumerate().skip(1) {
            for (file, text) in s {
                if seen[0].get(file) != Some(text) {
                    checked.violations.push(format!(
                        "after {patience:?} node {} has {file} = {:?}, node {} has {:?}",
                        names[i],
                        text.trim(),
                        names[0],
                        seen[0].get(file).map(|t| t.trim().to_string())
                    ));
                }
            }
        }
        checked
            .violations
            .push(format!("the folders did not agree within {patience:?}"));
    }
    let read: BTreeSet<&str> = tally
        .edits
        .iter()
        .filter_map(|e| e.read.as_deref())
        .collect();
    checked.conflict_copies = seen[0]
        .keys()
        .filter(|n| n.contains(".sync-conflict-"))
        .count() as u64;
    for (i, folder) in seen.iter().enumerate() {
        for edit in tally
            .edits
            .iter()
            .filter(|e| !read.contains(e.wrote.as_str()))
        {
            let file = name(edit.file);
            let stem = file.trim_end_matches(".txt");
            if i == 0 {
                checked.must_survive += 1;
            }
            if folder.get(&file) == Some(&edit.wrote) {
                if i == 0 {
                    checked.as_file += 1;
                }
                continue;
            }
            let copy = folder
                .iter()
                .any(|(n, t)| n.starts_with(&format!("{stem}.sync-conflict-")) && *t == edit.wrote);
            if copy {
                if i == 0 {
                    checked.as_conflict_copy += 1;
                }
                continue;
            }
            checked.violations.push(format!(
                "{file}: the acknowledged edit {:?} is not on node {} (as the file or a conflict copy)",
                edit.wrote.trim(),
                names[i]
            ));
        }
    }
    checked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(file: usize, read: Option<&str>, wrote: &str) -> Edit {
        Edit {
            file,
            read: read.map(String::from),
            wrote: wrote.into(),
        }
    }

    #[test]
    fn an_unreplaced_edit_must_be_the_file_or_a_conflict_copy_in_every_folder() {
        let dir = tempfile::tempdir().unwrap();
        let folders: Vec<PathBuf> = ["a", "b"].iter().map(|n| dir.path().join(n)).collect();
        let names = vec!["A".to_string(), "B".to_string()];
        for f in &folders {
            std::fs::create_dir(f).unwrap();
            std::fs::write(f.join("doc0.txt"), "v3").unwrap();
            std::fs::write(f.join("doc0.sync-conflict-B-20300101-000000.txt"), "v2").unwrap();
        }
        // v1 was read by the edit that wrote v3: it need not survive; v2
        // and v3 were read by nobody and must.
        let tally = Tally {
            edits: vec![
                edit(0, None, "v1"),
                edit(0, Some("v1"), "v3"),
                edit(0, Some("v0"), "v2"),
            ],
            failed: 0,
            replaced_while_open: 0,
        };
        let checked = check(&tally, &folders, &names, Duration::ZERO);
        assert!(
            checked.agreed && checked.violations.is_empty(),
            "{checked:?}"
        );
        assert_eq!(
            (
                checked.must_survive,
                checked.as_file,
                checked.as_conflict_copy
            ),
            (2, 1, 1)
        );

        // The conflict copy lost on both nodes: v2 is missing from each.
        for f in &folders {
            std::fs::remove_file(f.join("doc0.sync-conflict-B-20300101-000000.txt")).unwrap();
        }
        let checked = check(&tally, &folders, &names, Duration::ZERO);
        assert_eq!(checked.violations.len(), 2, "{checked:?}");
        assert!(checked.violations[0].contains("\"v2\" is not on node A"));
    }
}
