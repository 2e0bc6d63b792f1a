//! [`VersionVector`]: which copy of a file is newer, or whether two copies
//! were changed independently.
//!
//! Modified times cannot tell: clocks differ between machines, a copy keeps
//! its time when it travels, and "newer" says nothing about whether the
//! writer had seen the other copy. A version vector can. Each node counts
//! the changes it makes to a file; the vector holds one counter per node that
//! ever changed it. A copy whose vector is at least the other's everywhere
//! has seen every change in it, and replaces it safely. When each has a
//! counter the other lacks, the two were changed concurrently, and one of the
//! writes would be lost by simply picking one: that is a conflict.
//!
//! ```
//! use convene_files::version::{Causality, VersionVector};
//!
//! let mut a = VersionVector::new();
//! a.bump("A"); // A creates the file
//! let mut b = a.clone(); // B receives it
//! b.bump("B"); // and edits it
//! assert_eq!(a.compare(&b), Causality::Before);
//! a.bump("A"); // meanwhile A edits its copy too
//! assert_eq!(a.compare(&b), Causality::Concurrent);
//! assert_eq!(a.merged(&b).compare(&b), Causality::After);
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How one version relates to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Causality {
    /// The same changes.
    Equal,
    /// This version misses changes the other has, and has none it lacks:
    /// the other is newer.
    Before,
    /// This version has every change the other has, and more.
    After,
    /// Each has changes the other lacks: written independently.
    Concurrent,
}

/// One counter per node that changed a file. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector {
    /// Only non-zero counters are kept, so equal histories are equal maps.
    counters: BTreeMap<String, u64>,
}

impl VersionVector {
    /// No change by anyone.
    pub fn new() -> VersionVector {
        VersionVector::default()
    }

    /// A vector from `(node, counter)` pairs (as read from a store or the
    /// wire); zero counters are dropped, a node given twice keeps its
    /// highest counter.
    pub fn from_counters<I, S>(pairs: I) -> VersionVector
    where
        I: IntoIterator<Item = (S, u64)>,
        S: Into<String>,
    {
        let mut v = VersionVector::new();
        for (node, counter) in pairs {
            if counter > 0 {
                let slot = v.counters.entry(node.into()).or_insert(0);
                *slot = (*slot).max(counter);
            }
        }
        v
    }

    /// The counters, by node id.
    pub fn counters(&self) -> impl Iterator<Item = (&str, u64)> {
        self.counters.iter().map(|(n, c)| (n.as_str(), *c))
    }

    /// Node `node`'s counter (0 if it never changed the file).
    pub fn get(&self, node: &str) -> u64 {
        self.counters.get(node).copied().unwrap_or(0)
    }

    /// Whether no node has changed the file.
    pub fn is_empty(&self) -> bool {
        self.counters.is_empty()
    }

    /// Records one more change by `node`; returns its new counter.
    pub fn bump(&mut self, node: &str) -> u64 {
        let slot = self.counters.entry(node.to_string()).or_insert(0);
        *slot = slot.saturating_add(1);
        *slot
    }

    /// The version that has seen every change of both (pointwise maximum).
    pub fn merged(&self, other: &VersionVector) -> VersionVector {
        let mut out = self.clone();
        for (node, &counter) in &other.counters {
            let slot = out.counters.entry(node.clone()).or_insert(0);
            *slot = (*slot).max(counter);
        }
        out
    }

    /// How this version relates to `other`.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let mut ahead = false;
        let mut behind = false;
        let nodes = self.counters.keys().chain(other.counters.keys());
        for node in nodes {
            match self.get(node).cmp(&other.get(node)) {
                Ordering::Greater => ahead = true,
                Ordering::Less => behind = true,
                Ordering::Equal => {}
            }
            if ahead && behind {
                return Causality::Concurrent;
            }
        }
        match (ahead, behind) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (true, true) => Causality::Concurrent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vectors() -> impl Strategy<Value = VersionVector> {
        prop::collection::vec(("[ABC]", 0u64..4), 0..4).prop_map(VersionVector::from_counters)
    }

    #[test]
    fn zero_counters_are_not_kept() {
        let v = VersionVector::from_counters([("A", 0), ("B", 2), ("B", 1)]);
        assert_eq!(v.counters().collect::<Vec<_>>(), [("B", 2)]);
        assert_eq!(v, VersionVector::from_counters([("B", 2)]));
        assert!(VersionVector::from_counters([("A", 0)]).is_empty());
    }

    proptest! {
        #[test]
        fn compare_is_antisymmetric(a in vectors(), b in vectors()) {
            let flipped = match a.compare(&b) {
                Causality::Before => Causality::After,
                Causality::After => Causality::Before,
                same => same,
            };
            prop_assert_eq!(b.compare(&a), flipped);
            prop_assert_eq!(a.compare(&b) == Causality::Equal, a == b);
        }

        #[test]
        fn the_merge_has_seen_both(a in vectors(), b in vectors()) {
            let m = a.merged(&b);
            prop_assert!(matches!(m.compare(&a), Causality::After | Causality::Equal));
            prop_assert!(matches!(m.compare(&b), Causality::After | Causality::Equal));
            prop_assert_eq!(m.clone(), b.merged(&a));
            let mut bumped = m.clone();
            bumped.bump("A");
            prop_assert_eq!(bumped.compare(&a), Causality::After);
            prop_assert_eq!(bumped.compare(&b), Causality::After);
        }
    }
}
