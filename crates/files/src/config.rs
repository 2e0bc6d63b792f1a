//! `[node.files]`: the folder a node shares with the other files nodes.
//!
//! ```toml
//! [node.files]
//! dir = "directory_b"   # the folder this node shares, relative to the cluster file
//! lock_holder = false   # locks live on one files node (default: the highest priority)
//! lease_seconds = 3600  # a lock lasts this long unless renewed (on the holder)
//! ```
//!
//! The cluster file's reader hands the table to [`FilesSection`] (a
//! [`Section`]). A node without it shares no folder. Across nodes: no two
//! share one folder, and at most one is marked as the lock holder
//! ([`lock_holder`] says which node holds the locks).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use convene_cluster::{ClusterConfig, ConfigError, NodeConfig, NodeContext, Section};
use serde::Deserialize;

/// How long a lock lasts unless renewed, when `lease_seconds` is not given.
pub(crate) const DEFAULT_LEASE: Duration = Duration::from_secs(3600);

/// `[node.files]`: the folder this node shares with the other files nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilesSection {
    /// The shared folder, already resolved against the cluster file.
    pub dir: PathBuf,
    /// Locks live on this node (the seed's Server A). If no files node
    /// says so, the files node with the highest priority holds them.
    pub lock_holder: bool,
    /// How long a lock lasts unless renewed (used by the holder).
    pub lease: Duration,
}

impl FilesSection {
    /// Node `node`'s section, if it shares a folder.
    pub fn of(node: &NodeConfig) -> Option<&FilesSection> {
        node.section::<FilesSection>()
    }
}

/// The nodes that share a folder, with their numbers, in file order.
pub fn files_nodes(cluster: &ClusterConfig) -> impl Iterator<Item = (usize, &NodeConfig)> {
    cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| FilesSection::of(n).is_some())
}

/// The files node that holds the locks: the one marked `lock_holder`, else
/// the files node with the highest priority (the first in the file among
/// equals).
pub fn lock_holder(cluster: &ClusterConfig) -> Option<&NodeConfig> {
    let files = || files_nodes(cluster).map(|(_, n)| n);
    files()
        .find(|n| FilesSection::of(n).is_some_and(|f| f.lock_holder))
        .or_else(|| {
            files().fold(None, |best: Option<&NodeConfig>, n| match best {
                Some(b) if b.priority >= n.priority => Some(b),
                _ => Some(n),
            })
        })
}

/// What serde reads; the name shows in type errors ("expected struct
/// RawFiles").
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFiles {
    dir: PathBuf,
    lock_holder: Option<bool>,
    lease_seconds: Option<u64>,
}

impl Section for FilesSection {
    const NAME: &'static str = "files";
    type Raw = RawFiles;

    fn from_raw(raw: RawFiles, node: &NodeContext<'_>) -> Result<Self, ConfigError> {
        let lease = match raw.lease_seconds {
            None => DEFAULT_LEASE,
            Some(s) if (1..=365 * 86_400).contains(&s) => Duration::from_secs(s),
            Some(s) => {
                let problem = format!("is {s}: use 1 to 31536000 seconds");
                return Err(node.invalid("lease_seconds", problem));
            }
        };
        Ok(FilesSection {
            dir: node.resolve(&raw.dir),
            lock_holder: raw.lock_holder.unwrap_or(false),
            lease,
        })
    }

    /// No two nodes sharing one folder (they would sync it with itself),
    /// and one lock holder at most.
    fn check(cluster: &ClusterConfig) -> Result<(), ConfigError> {
        let mut dirs: HashMap<&Path, &str> = HashMap::new();
        let mut holder: Option<&str> = None;
        for (_, node) in files_nodes(cluster) {
            let Some(files) = FilesSection::of(node) else {
                continue;
            };
            if files.lock_holder {
                if let Some(other) = holder {
                    return Err(cluster.invalid(
                        &node.id,
                        "lock_holder",
                        format!("is true, but node {other:?} already holds the locks"),
                    ));
                }
                holder = Some(&node.id);
            }
            if let Some(other) = dirs.insert(&files.dir, &node.id) {
                return Err(cluster.invalid(
                    &node.id,
                    "dir",
                    format!("{} is node {other:?}'s folder too", files.dir.display()),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
