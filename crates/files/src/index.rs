//! A node's index of its shared folder: one [`Record`] per file it has ever
//! seen, and how what is on disk now changes it.
//!
//! The folder is the truth about content; the index is the truth about
//! history. Whenever a node looks at its folder (the start-up inventory, a
//! watcher event, a rescan), it compares what it sees with the index: a file
//! that appeared, changed or vanished is a change *made here*, so the node
//! bumps its own counter in the file's version, and a vanished file becomes a
//! tombstone rather than being forgotten (otherwise a peer that still has the
//! file would send it back). Files received from peers are recorded with the
//! peer's version instead (see [`plan`](crate::plan)), so that looking at them
//! afterwards finds nothing new.
//!
//! Keys are generic so the index can be tested with plain strings; the
//! service keys it by [`SharedPath`](crate::path::SharedPath).

use std::collections::BTreeMap;

use crate::plan::Record;
use crate::version::VersionVector;

/// What a look at one file on disk found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Observed {
    /// Size in bytes.
    pub size: u64,
    /// Last modified, nanoseconds since the Unix epoch.
    pub modified_ns: i64,
    /// Checksum of the content.
    pub checksum: u64,
}

/// A change made to the folder on this node, found by looking at it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LocalChange<K> {
    /// A file that was not there (or had been deleted) is there.
    Created(K),
    /// A file's content changed.
    Modified(K),
    /// A file is gone.
    Deleted(K),
}

impl<K> LocalChange<K> {
    /// The file that changed.
    pub fn path(&self) -> &K {
        match self {
            LocalChange::Created(k) | LocalChange::Modified(k) | LocalChange::Deleted(k) => k,
        }
    }
}

/// The records of one node's folder. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Index<K: Ord> {
    records: BTreeMap<K, Record>,
}

impl<K: Ord + Clone> Index<K> {
    /// An empty index (a node that has never looked at its folder).
    pub fn new() -> Index<K> {
        Index {
            records: BTreeMap::new(),
        }
    }

    /// An index from stored records.
    pub fn from_records(records: impl IntoIterator<Item = (K, Record)>) -> Index<K> {
        Index {
            records: records.into_iter().collect(),
        }
    }

    /// The record of `key`, tombstones included.
    pub fn get(&self, key: &K) -> Option<&Record> {
        self.records.get(key)
    }

    /// Every record, tombstones included, by key.
    pub fn records(&self) -> impl Iterator<Item = (&K, &Record)> {
        self.records.iter()
    }

    /// Whether the index has no record at all: the next scan is the node's
    /// first inventory.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Records a file as received from a peer (content applied, or deleted).
    pub fn put(&mut self, key: K, record: Record) {
        self.records.insert(key, record);
    }

    /// Folds one look at `key` on disk (`None`: not there) into the index,
    /// as a change by node `me`; returns the change, if it was one.
    pub fn observe(&mut self, key: &K, seen: Option<Observed>, me: &str) -> Option<LocalChange<K>> {
        let first_inventory = self.records.is_empty();
        self.fold(key, seen, me, first_inventory)
    }

    /// Folds a whole scan of the folder into the index: everything in
    /// `scan`, and every live file the scan did not find (deleted while
    /// nobody watched). Returns the changes in key order.
    ///
    /// Files found by a node's first scan are marked as never synced
    /// ([`Record::baseline`]), so that a peer's copy of the same name with
    /// a newer time simply replaces them, as the seed asks at start-up.
    pub fn scan(&mut self, scan: &BTreeMap<K, Observed>, me: &str) -> Vec<LocalChange<K>> {
        let first_inventory = self.records.is_empty();
        let vanished: Vec<K> = self
            .records
            .iter()
            .filter(|(key, record)| !record.deleted && !scan.contains_key(*key))
            .map(|(key, _)| key.clone())
            .collect();
        let mut changes: Vec<(K, LocalChange<K>)> = Vec::new();
        for (key, seen) in scan {
            if let Some(change) = self.fold(key, Some(*seen), me, first_inventory) {
                changes.push((key.clone(), change));
            }
        }
        for key in vanished {
            if let Some(change) = self.fold(&key, None, me, first_inventory) {
                changes.push((key, change));
            }
        }
        changes.sort_by(|a, b| a.0.cmp(&b.0));
        changes.into_iter().map(|(_, change)| change).collect()
    }

    fn fold(
        &mut self,
        key: &K,
        seen: Option<Observed>,
        me: &str,
        first_inventory: bool,
    ) -> Option<LocalChange<K>> {
        let known = self.records.get(key);
        let (change, mut version) = match (known, seen) {
            (None, None) => return None,
            (Some(r), None) if r.deleted => return None,
            (Some(r), None) => (LocalChange::Deleted(key.clone()), r.version.clone()),
            (None, Some(_)) => (LocalChange::Created(key.clone()), VersionVector::new()),
            (Some(r), Some(_)) if r.deleted => {
                (LocalChange::Created(key.clone()), r.version.clone())
            }
            (Some(r), Some(s)) => {
                let same =
                    r.size == s.size && r.modified_ns == s.modified_ns && r.checksum == s.checksum;
                if same {
                    return None;
                }
                (LocalChange::Modified(key.clone()), r.version.clone())
            }
        };
        version.bump(me);
        let record = match seen {
            Some(s) => Record {
                version,
                deleted: false,
                size: s.size,
                modified_ns: s.modified_ns,
                checksum: s.checksum,
                baseline: first_inventory,
            },
            None => Record {
                version,
                deleted: true,
                size: 0,
                modified_ns: 0,
                checksum: 0,
                baseline: false,
            },
        };
        self.records.insert(key.clone(), record);
        Some(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::Causality;

    fn seen(size: u64, modified_ns: i64) -> Observed {
        Observed {
            size,
            modified_ns,
            checksum: size * 31 + modified_ns as u64,
        }
    }

    fn scan(files: &[(&str, Observed)]) -> BTreeMap<String, Observed> {
        files.iter().map(|(k, o)| (k.to_string(), *o)).collect()
    }

    #[test]
    fn the_first_inventory_is_a_baseline_and_later_changes_are_not() {
        let mut index: Index<String> = Index::new();
        let changes = index.scan(
            &scan(&[("a.txt", seen(1, 10)), ("b.txt", seen(2, 20))]),
            "A",
        );
        assert_eq!(
            changes,
            [
                LocalChange::Created("a.txt".to_string()),
                LocalChange::Created("b.txt".to_string())
            ]
        );
        assert!(index.get(&"a.txt".to_string()).unwrap().baseline);

        // The same folder again: nothing new.
        assert_eq!(
            index.scan(
                &scan(&[("a.txt", seen(1, 10)), ("b.txt", seen(2, 20))]),
                "A"
            ),
            []
        );

        // a.txt changed, b.txt vanished, c.txt appeared.
        let changes = index.scan(
            &scan(&[("a.txt", seen(5, 11)), ("c.txt", seen(3, 30))]),
            "A",
        );
        assert_eq!(
            changes,
            [
                LocalChange::Modified("a.txt".to_string()),
                LocalChange::Deleted("b.txt".to_string()),
                LocalChange::Created("c.txt".to_string())
            ]
        );
        let a = index.get(&"a.txt".to_string()).unwrap();
        assert_eq!(a.version.get("A"), 2);
        assert!(!a.baseline);
        let b = index.get(&"b.txt".to_string()).unwrap();
        assert!(b.deleted, "a vanished file is a tombstone, not forgotten");
        assert_eq!(b.version.get("A"), 2);
        assert!(!index.get(&"c.txt".to_string()).unwrap().baseline);
    }

    #[test]
    fn a_file_recreated_after_its_deletion_is_newer_than_the_tombstone() {
        let mut index: Index<String> = Index::new();
        let key = "a.txt".to_string();
        index.observe(&key, Some(seen(1, 10)), "A");
        index.observe(&key, None, "A");
        let tombstone = index.get(&key).unwrap().clone();
        assert_eq!(
            index.observe(&key, None, "A"),
            None,
            "deleting twice is once"
        );
        assert_eq!(
            index.observe(&key, Some(seen(1, 10)), "A"),
            Some(LocalChange::Created(key.clone()))
        );
        let again = index.get(&key).unwrap();
        assert_eq!(again.version.compare(&tombstone.version), Causality::After);
    }

    #[test]
    fn a_received_file_looked_at_again_is_not_a_local_change() {
        let mut index: Index<String> = Index::new();
        let key = "from-b.txt".to_string();
        let s = seen(4, 40);
        index.put(
            key.clone(),
            Record {
                version: VersionVector::from_counters([("B", 3)]),
                deleted: false,
                size: s.size,
                modified_ns: s.modified_ns,
                checksum: s.checksum,
                baseline: false,
            },
        );
        assert_eq!(index.observe(&key, Some(s), "A"), None);
        assert_eq!(index.get(&key).unwrap().version.get("A"), 0);
    }
}
