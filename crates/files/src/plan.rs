//! What a node does with a peer's record of a file: the sync decision, as a
//! pure function of the two records.
//!
//! Every node keeps a [`Record`] per file it has ever seen: its
//! [version](crate::version), whether it is deleted (a *tombstone*, kept so
//! that a node that was down while a file was deleted does not bring it
//! back), and what the content is (size, modified time, checksum). When a
//! peer announces its record, [`decide`] compares the two:
//!
//! | versions | contents | decision |
//! |---|---|---|
//! | equal, or ours newer | — | [`Decision::Keep`] |
//! | theirs newer | — | [`Decision::Take`] (a deletion deletes) |
//! | concurrent | the same (or both deleted) | [`Decision::Merge`]: nothing to move |
//! | concurrent | one deleted, one changed | the change wins: a write is never lost to a deletion |
//! | concurrent | both changed, one side never synced | the newer modified time wins (the seed's start-up rule) |
//! | concurrent | both changed | the newer wins the name, the other becomes a conflict copy |
//!
//! **The conflict copy is the same on both sides.** Both nodes run
//! [`decide`] on the same pair of records (each from its own side), pick the
//! same winner, and name the loser's copy after the loser's node and the
//! loser's modified time ([`Conflict::copy_of`]). So the winner's node
//! fetches the loser's content into that name while the loser's node renames
//! its own file there: both end with the same two files, and when they
//! announce the conflict copy to each other its contents are equal.
//!
//! **A result that is newer than both.** When a conflict is resolved, or a
//! change beats a concurrent deletion, the side that keeps its content gets
//! [`Decision`]'s `version`: the merge of both, bumped by itself, so that the
//! other side, seeing it next, simply takes it. The side that takes records
//! the merge. Both then hold versions that compare as the winner's.
//!
//! **"Never synced"** (`Record::baseline`): a file found by a node's first
//! inventory, before it ever exchanged records. Two such copies of one name
//! carry unrelated histories; the seed asks that the most recently modified
//! one win, and does not ask for a copy of the other.

use crate::version::{Causality, VersionVector};

/// What a node knows about one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The changes this copy has seen.
    pub version: VersionVector,
    /// Deleted (a tombstone); size, time and checksum are then those of the
    /// deletion, not meaningful content.
    pub deleted: bool,
    /// Size in bytes.
    pub size: u64,
    /// Last modified, nanoseconds since the Unix epoch.
    pub modified_ns: i64,
    /// Checksum of the content.
    pub checksum: u64,
    /// Found by the node's first inventory and never synced since.
    pub baseline: bool,
}

impl Record {
    /// Whether two records describe the same content (both deleted counts).
    pub fn same_content(&self, other: &Record) -> bool {
        match (self.deleted, other.deleted) {
            (true, true) => true,
            (false, false) => self.size == other.size && self.checksum == other.checksum,
            _ => false,
        }
    }
}

/// Which side's copy a conflict keeps under the file's name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// This node's.
    Ours,
    /// The peer's.
    Theirs,
}

/// A conflict's loser, kept beside the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// Whose content loses the name and goes to the conflict copy.
    pub loser: Side,
    /// The node whose copy lost (names the conflict copy).
    pub loser_node: String,
    /// The losing copy's modified time (names the conflict copy).
    pub loser_modified_ns: i64,
}

impl Conflict {
    /// The node and the seconds since the epoch to name the copy with, as
    /// [`SharedPath::conflict_name`](crate::path::SharedPath::conflict_name)
    /// takes them.
    pub fn copy_of(&self) -> (&str, i64) {
        (
            &self.loser_node,
            self.loser_modified_ns.div_euclid(1_000_000_000),
        )
    }
}

/// What to do with a peer's record. See the [module docs](self).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Ours is the same or newer: nothing to do.
    Keep,
    /// Theirs is newer: fetch its content (or delete ours, for a tombstone),
    /// then record `version`.
    Take {
        /// The version to record once applied.
        version: VersionVector,
    },
    /// Concurrent but equal content: record `version`, move nothing.
    Merge {
        /// The merged version.
        version: VersionVector,
    },
    /// Concurrent, and ours wins: keep our content (restoring it if theirs
    /// was a deletion) and record `version`, newer than both, so the peer
    /// takes ours. With `conflict`, first fetch theirs into the conflict
    /// copy.
    KeepOurs {
        /// Merge of both, bumped by us.
        version: VersionVector,
        /// Their losing content, to keep beside the file.
        conflict: Option<Conflict>,
    },
    /// Concurrent, and theirs wins: with `conflict`, first move our file to
    /// the conflict copy; then fetch theirs and record `version`.
    TakeTheirs {
        /// The merge of both.
        version: VersionVector,
        /// Our losing content, to keep beside the file.
        conflict: Option<Conflict>,
    },
}

/// Decides what node `us` does with node `them`'s record of a file, given
/// ours (`None` if we never saw the file). See the [module docs](self).
pub fn decide(ours: Option<&Record>, theirs: &Record, us: &str, them: &str) -> Decision {
    let Some(ours) = ours else {
        return Decision::Take {
            version: theirs.version.clone(),
        };
    };
    let merged = ours.version.merged(&theirs.version);
    match ours.version.compare(&theirs.version) {
        Causality::Equal | Causality::After => return Decision::Keep,
        Causality::Before => return Decision::Take { version: merged },
        Causality::Concurrent => {}
    }
    if ours.same_content(theirs) {
        return Decision::Merge { version: merged };
    }
    let keep_ours = |conflict| {
        let mut version = merged.clone();
        version.bump(us);
        Decision::KeepOurs { version, conflict }
    };
    let take_theirs = |conflict| Decision::TakeTheirs {
        version: merged.clone(),
        conflict,
    };
    // A change beats a concurrent deletion.
    match (ours.deleted, theirs.deleted) {
        (false, true) => return keep_ours(None),
        (true, false) => return take_theirs(None),
        _ => {}
    }
    let winner = newer(ours, theirs, us, them);
    if ours.baseline || theirs.baseline {
        return match winner {
            Side::Ours => keep_ours(None),
            Side::Theirs => take_theirs(None),
        };
    }
    match winner {
        Side::Ours => keep_ours(Some(Conflict {
            loser: Side::Theirs,
            loser_node: them.to_string(),
            loser_modified_ns: theirs.modified_ns,
        })),
        Side::Theirs => take_theirs(Some(Conflict {
            loser: Side::Ours,
            loser_node: us.to_string(),
            loser_modified_ns: ours.modified_ns,
        })),
    }
}

/// The copy with the later modified time; on a tie the larger checksum, then
/// the node id that sorts last, so both sides pick the same one.
fn newer(ours: &Record, theirs: &Record, us: &str, them: &str) -> Side {
    let key = |r: &Record, node: &str| (r.modified_ns, r.checksum, node.to_string());
    if key(ours, us) >= key(theirs, them) {
        Side::Ours
    } else {
        Side::Theirs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(version: &[(&str, u64)], modified: i64, checksum: u64) -> Record {
        Record {
            version: VersionVector::from_counters(version.iter().map(|(n, c)| (*n, *c))),
            deleted: false,
            size: 10,
            modified_ns: modified,
            checksum,
            baseline: false,
        }
    }

    fn tombstone(version: &[(&str, u64)]) -> Record {
        Record {
            deleted: true,
            ..record(version, 0, 0)
        }
    }

    fn vv(pairs: &[(&str, u64)]) -> VersionVector {
        VersionVector::from_counters(pairs.iter().map(|(n, c)| (*n, *c)))
    }

    #[test]
    fn newer_versions_are_taken_older_ignored() {
        let a1 = record(&[("A", 1)], 100, 1);
        let a1b1 = record(&[("A", 1), ("B", 1)], 50, 2);
        assert_eq!(
            decide(Some(&a1), &a1b1, "A", "B"),
            Decision::Take {
                version: vv(&[("A", 1), ("B", 1)])
            }
        );
        // Newer by version even though its clock says older: versions decide.
        assert_eq!(decide(Some(&a1b1), &a1, "B", "A"), Decision::Keep);
        assert_eq!(decide(Some(&a1), &a1, "A", "B"), Decision::Keep);
        assert_eq!(
            decide(None, &a1, "B", "A"),
            Decision::Take {
                version: vv(&[("A", 1)])
            }
        );
    }

    #[test]
    fn a_deletion_made_while_a_node_was_down_is_not_undone() {
        // B deleted the file A created; A comes back with its old copy.
        let old = record(&[("A", 1)], 100, 1);
        let deleted = tombstone(&[("A", 1), ("B", 1)]);
        assert_eq!(
            decide(Some(&old), &deleted, "A", "B"),
            Decision::Take {
                version: vv(&[("A", 1), ("B", 1)])
            }
        );
        assert_eq!(decide(Some(&deleted), &old, "B", "A"), Decision::Keep);
    }

    #[test]
    fn a_change_beats_a_concurrent_deletion_on_both_sides() {
        let edited = record(&[("A", 2)], 100, 1);
        let deleted = tombstone(&[("A", 1), ("B", 1)]);
        let at_a = decide(Some(&edited), &deleted, "A", "B");
        let at_b = decide(Some(&deleted), &edited, "B", "A");
        assert_eq!(
            at_a,
            Decision::KeepOurs {
                version: vv(&[("A", 3), ("B", 1)]),
                conflict: None
            }
        );
        assert_eq!(
            at_b,
            Decision::TakeTheirs {
                version: vv(&[("A", 2), ("B", 1)]),
                conflict: None
            }
        );
    }

    #[test]
    fn concurrent_edits_keep_the_loser_as_the_same_conflict_copy_on_both_sides() {
        let at_a = record(&[("A", 2), ("B", 1)], 200, 1);
        let at_b = record(&[("A", 1), ("B", 2)], 300, 2);
        let a = decide(Some(&at_a), &at_b, "A", "B");
        let b = decide(Some(&at_b), &at_a, "B", "A");
        let loser = Conflict {
            loser: Side::Ours,
            loser_node: "A".into(),
            loser_modified_ns: 200,
        };
        assert_eq!(
            a,
            Decision::TakeTheirs {
                version: vv(&[("A", 2), ("B", 2)]),
                conflict: Some(loser.clone())
            }
        );
        assert_eq!(
            b,
            Decision::KeepOurs {
                version: vv(&[("A", 2), ("B", 3)]),
                conflict: Some(Conflict {
                    loser: Side::Theirs,
                    ..loser
                })
            }
        );
    }

    #[test]
    fn first_inventories_take_the_most_recent_copy_without_a_conflict_copy() {
        let mut at_a = record(&[("A", 1)], 100, 1);
        let mut at_b = record(&[("B", 1)], 300, 2);
        at_a.baseline = true;
        at_b.baseline = true;
        assert!(matches!(
            decide(Some(&at_a), &at_b, "A", "B"),
            Decision::TakeTheirs { conflict: None, .. }
        ));
        assert!(matches!(
            decide(Some(&at_b), &at_a, "B", "A"),
            Decision::KeepOurs { conflict: None, .. }
        ));
    }

    #[test]
    fn equal_content_merges_versions_and_moves_nothing() {
        let at_a = record(&[("A", 1)], 100, 7);
        let at_b = record(&[("B", 1)], 300, 7);
        assert_eq!(
            decide(Some(&at_a), &at_b, "A", "B"),
            Decision::Merge {
                version: vv(&[("A", 1), ("B", 1)])
            }
        );
        assert_eq!(
            decide(
                Some(&tombstone(&[("A", 1)])),
                &tombstone(&[("B", 1)]),
                "A",
                "B"
            ),
            Decision::Merge {
                version: vv(&[("A", 1), ("B", 1)])
            }
        );
    }

    fn records() -> impl Strategy<Value = Record> {
        (
            prop::collection::vec(("[AB]", 0u64..3), 0..3),
            any::<bool>(),
            0i64..3,
            0u64..3,
            any::<bool>(),
        )
            .prop_map(
                |(version, deleted, modified_ns, checksum, baseline)| Record {
                    version: VersionVector::from_counters(version),
                    deleted,
                    size: checksum,
                    modified_ns,
                    checksum,
                    baseline,
                },
            )
    }

    /// What a side holds after applying its decision: (content, version).
    fn apply(ours: &Record, theirs: &Record, d: &Decision) -> (Option<(u64, u64)>, VersionVector) {
        let content = |r: &Record| (!r.deleted).then_some((r.size, r.checksum));
        match d {
            Decision::Keep => (content(ours), ours.version.clone()),
            Decision::Merge { version } | Decision::KeepOurs { version, .. } => {
                (content(ours), version.clone())
            }
            Decision::Take { version } | Decision::TakeTheirs { version, .. } => {
                (content(theirs), version.clone())
            }
        }
    }

    proptest! {
        /// Two nodes exchange records once each way: they end with the same
        /// content, and the side that sees the other's result next keeps
        /// its own (the exchange has converged).
        #[test]
        fn one_exchange_each_way_converges(a in records(), b in records()) {
            let at_a = decide(Some(&a), &b, "A", "B");
            let at_b = decide(Some(&b), &a, "B", "A");
            let (content_a, version_a) = apply(&a, &b, &at_a);
            let (content_b, version_b) = apply(&b, &a, &at_b);
            if a.version.compare(&b.version) == Causality::Equal {
                return Ok(()); // equal versions are equal histories by contract
            }
            prop_assert_eq!(content_a, content_b, "A: {:?}, B: {:?}", at_a, at_b);
            // Whoever kept its content is at least as new as the other.
            prop_assert!(matches!(
                version_a.compare(&version_b),
                Causality::Equal | Causality::After | Causality::Before
            ));
        }

        /// A conflict copy is named the same on both sides, after the loser.
        #[test]
        fn both_sides_name_the_same_conflict_copy(a in records(), b in records()) {
            let conflict = |d: Decision| match d {
                Decision::KeepOurs { conflict, .. } | Decision::TakeTheirs { conflict, .. } => conflict,
                _ => None,
            };
            let at_a = conflict(decide(Some(&a), &b, "A", "B"));
            let at_b = conflict(decide(Some(&b), &a, "B", "A"));
            prop_assert_eq!(at_a.is_some(), at_b.is_some());
            if let (Some(x), Some(y)) = (at_a, at_b) {
                prop_assert_eq!(x.copy_of(), y.copy_of());
                prop_assert_ne!(x.loser, y.loser);
            }
        }
    }
}
