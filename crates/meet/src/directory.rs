//! The main node's directory: which backend holds each user.
//!
//! Backends announce their names in chunks (a list of 100,000 users does not
//! fit one datagram). A list takes effect only when every chunk of it has
//! arrived, and then replaces that backend's previous list whole: a backend
//! restarted with a different file never leaves stale names behind, and a
//! query never sees half a list. Each announcement carries the backend's boot
//! time, so a late chunk from an older run cannot overwrite a newer list.
//!
//! A list stays in force when its backend stops answering: it is the *last
//! known* list, and it is what lets the main node tell "bob is on Server B,
//! which is down" from "bob is on no backend". A backend whose list this main
//! node has never had (nor kept from an earlier run, see
//! [`known_lists`](crate::known_lists)) might hold any name no other list
//! holds, so such a name is reported as unplaced, never as missing.
//!
//! Every main node of a cluster applies the same rule to the same lists, so
//! they all answer alike: a name that two backends announce (the seed forbids
//! it) belongs to the one first in the cluster file, whichever list arrived
//! first.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// The most chunks one announcement may have (a guard against hostile counts).
pub const MAX_CHUNKS: u32 = 1 << 16;

/// Where users live, as one main node knows it.
#[derive(Debug, Default)]
pub struct Directory {
    /// The cluster's backends (node numbers), whether or not they have
    /// announced.
    backends: Vec<usize>,
    /// The list in force per backend, in node order.
    lists: BTreeMap<usize, KnownList>,
    /// Each name's owner, derived from `lists` (see [`Directory::rebuild`]).
    owners: HashMap<Arc<str>, usize>,
    /// Backends whose list in force was kept from an earlier run of this
    /// main node and not yet announced again in this one: the same run of
    /// the backend announcing it is taken (and shown), not ignored.
    restored: HashSet<usize>,
    assembling: HashMap<usize, Assembly>,
}

/// A backend's complete list of users, as last announced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownList {
    /// The boot stamp of the backend's run that announced it.
    pub boot: u64,
    /// Its users, in the order announced.
    pub names: Vec<Arc<str>>,
}

#[derive(Debug)]
struct Assembly {
    boot: u64,
    chunks: Vec<Option<Vec<String>>>,
    missing: usize,
}

/// A user that two backends announce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Duplicate {
    /// The user.
    pub name: String,
    /// The backend that keeps it (the first in the cluster file).
    pub kept_at: usize,
    /// The other backend announcing it.
    pub also_at: usize,
}

/// What one announced chunk did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored; more chunks are due.
    Incomplete,
    /// The list is complete and now in force.
    Complete {
        /// How many users the backend's list holds.
        users: usize,
        /// Names of this list that another backend also announces.
        duplicates: Vec<Duplicate>,
    },
    /// From an older run than the list in force, or a repeat: ignored.
    Stale,
    /// The chunk count is out of range or disagrees with earlier chunks.
    Invalid,
}

/// A query's names sorted out by owner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Names nobody holds, while every backend's list is known: they do not
    /// exist. In request order.
    pub missing: Vec<String>,
    /// Names no known list holds, while some backend's list is not known:
    /// they may be there. In request order.
    pub unplaced: Vec<String>,
    /// The backends whose lists are not known (in node order); empty when
    /// `unplaced` is.
    pub silent: Vec<usize>,
    /// Per backend (ordered by node number), its names in request order.
    pub groups: Vec<(usize, Vec<String>)>,
}

impl Directory {
    /// An empty directory for a cluster whose backends are these nodes.
    pub fn new(backends: impl IntoIterator<Item = usize>) -> Self {
        let mut backends: Vec<usize> = backends.into_iter().collect();
        backends.sort_unstable();
        backends.dedup();
        Directory {
            backends,
            ..Directory::default()
        }
    }

    /// The backend holding `name`.
    pub fn owner(&self, name: &str) -> Option<usize> {
        self.owners.get(name).copied()
    }

    /// How many users are known.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Every known user's name, in no particular order.
    pub fn names(&self) -> Vec<String> {
        self.owners.keys().map(|n| n.to_string()).collect()
    }

    /// Whether no user is known.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Backend `node`'s list in force, if any.
    pub fn list(&self, node: usize) -> Option<&KnownList> {
        self.lists.get(&node)
    }

    /// The backends whose lists are not known, in node order.
    pub fn silent(&self) -> Vec<usize> {
        self.backends
            .iter()
            .copied()
            .filter(|b| !self.lists.contains_key(b))
            .collect()
    }

    /// Sorts a query's names by owner.
    pub fn split(&self, names: &[String]) -> Split {
        let mut split = Split::default();
        let mut nowhere = Vec::new();
        for name in names {
            match self.owner(name) {
                None => nowhere.push(name.clone()),
                Some(node) => match split.groups.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, group)) => group.push(name.clone()),
                    None => split.groups.push((node, vec![name.clone()])),
                },
            }
        }
        split.groups.sort_by_key(|(node, _)| *node);
        if !nowhere.is_empty() {
            split.silent = self.silent();
            if split.silent.is_empty() {
                split.missing = nowhere;
            } else {
                split.unplaced = nowhere;
            }
        }
        split
    }

    /// Takes one chunk of backend `node`'s announcement.
    pub fn accept_chunk(
        &mut self,
        node: usize,
        boot: u64,
        chunk: u32,
        chunks: u32,
        names: Vec<String>,
    ) -> ChunkOutcome {
        if chunks == 0 || chunks > MAX_CHUNKS || chunk >= chunks {
            return ChunkOutcome::Invalid;
        }
        let restored = self.restored.contains(&node);
        if self
            .lists
            .get(&node)
            .is_some_and(|l| l.boot > boot || (l.boot == boot && !restored))
        {
            return ChunkOutcome::Stale;
        }
        let assembly = self
            .assembling
            .entry(node)
            .or_insert_with(|| Assembly::new(boot, chunks));
        if assembly.boot < boot {
            *assembly = Assembly::new(boot, chunks);
        } else if assembly.boot > boot {
            return ChunkOutcome::Stale;
        }
        if assembly.chunks.len() != chunks as usize {
            return ChunkOutcome::Invalid;
        }
        let slot = &mut assembly.chunks[chunk as usize];
        if slot.is_some() {
            return ChunkOutcome::Stale;
        }
        *slot = Some(names);
        assembly.missing -= 1;
        if assembly.missing > 0 {
            return ChunkOutcome::Incomplete;
        }
        let assembly = self.assembling.remove(&node).expect("assembly present");
        let names = assembly.chunks.into_iter().flatten().flatten();
        self.restored.remove(&node);
        self.install(node, boot, names.map(Arc::from).collect())
    }

    /// Puts a whole list in force for backend `node` (a completed
    /// announcement, or a list kept from an earlier run of this main node),
    /// unless a list of the same or a later run is already in force.
    pub fn restore(&mut self, node: usize, list: KnownList) -> ChunkOutcome {
        if self.lists.get(&node).is_some_and(|l| l.boot >= list.boot) {
            return ChunkOutcome::Stale;
        }
        self.restored.insert(node);
        self.install(node, list.boot, list.names)
    }

    fn install(&mut self, node: usize, boot: u64, mut names: Vec<Arc<str>>) -> ChunkOutcome {
        // A repeated name in one list is one user.
        let mut seen = HashSet::with_capacity(names.len());
        names.retain(|n| seen.insert(n.clone()));
        let users = names.len();
        self.lists.insert(node, KnownList { boot, names });
        let duplicates = self
            .rebuild()
            .into_iter()
            .filter(|d| d.kept_at == node || d.also_at == node)
            .collect();
        ChunkOutcome::Complete { users, duplicates }
    }

    /// Derives every name's owner from the lists: the first backend in node
    /// order that lists it, whatever order the lists arrived in. Returns
    /// every name listed twice.
    fn rebuild(&mut self) -> Vec<Duplicate> {
        let mut duplicates = Vec::new();
        self.owners.clear();
        for (node, list) in &self.lists {
            for name in &list.names {
                match self.owners.entry(name.clone()) {
                    Entry::Vacant(e) => {
                        e.insert(*node);
                    }
                    Entry::Occupied(e) => duplicates.push(Duplicate {
                        name: name.to_string(),
                        kept_at: *e.get(),
                        also_at: *node,
                    }),
                }
            }
        }
        duplicates
    }

    /// Drops names a backend says it no longer holds.
    pub fn forget(&mut self, node: usize, names: &[String]) {
        let Some(list) = self.lists.get_mut(&node) else {
            return;
        };
        list.names
            .retain(|n| !names.iter().any(|g| g.as_str() == &**n));
        let _ = self.rebuild();
    }
}

impl Assembly {
    fn new(boot: u64, chunks: u32) -> Self {
        Assembly {
            boot,
            chunks: vec![None; chunks as usize],
            missing: chunks as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_list_takes_effect_only_when_complete_and_replaces_the_old_one() {
        let mut d = Directory::new([1]);
        assert_eq!(
            d.accept_chunk(1, 10, 1, 2, names(&["bob"])),
            ChunkOutcome::Incomplete
        );
        assert_eq!(d.owner("bob"), None, "half a list is not used");
        assert_eq!(
            d.accept_chunk(1, 10, 1, 2, names(&["bob"])),
            ChunkOutcome::Stale,
            "repeat"
        );
        assert_eq!(
            d.accept_chunk(1, 10, 0, 2, names(&["alice"])),
            ChunkOutcome::Complete {
                users: 2,
                duplicates: vec![]
            }
        );
        assert_eq!(d.owner("alice"), Some(1));
        // A restart with another file: alice is gone, carol is new.
        assert!(matches!(
            d.accept_chunk(1, 11, 0, 1, names(&["carol", "bob"])),
            ChunkOutcome::Complete { users: 2, .. }
        ));
        assert_eq!(d.owner("alice"), None);
        assert_eq!(d.owner("carol"), Some(1));
        // A late chunk of the older run changes nothing.
        assert_eq!(
            d.accept_chunk(1, 10, 0, 1, names(&["alice"])),
            ChunkOutcome::Stale
        );
        assert_eq!(d.owner("alice"), None);
    }

    #[test]
    fn duplicates_go_to_the_first_backend_whatever_the_order_of_arrival() {
        // Two main nodes hearing the lists in opposite orders agree.
        let mut early = Directory::new([1, 2]);
        let mut late = Directory::new([1, 2]);
        early.accept_chunk(1, 1, 0, 1, names(&["alice"]));
        let out = early.accept_chunk(2, 1, 0, 1, names(&["alice", "bob"]));
        late.accept_chunk(2, 1, 0, 1, names(&["alice", "bob"]));
        let out_late = late.accept_chunk(1, 1, 0, 1, names(&["alice"]));
        let alice = Duplicate {
            name: "alice".into(),
            kept_at: 1,
            also_at: 2,
        };
        assert_eq!(
            out,
            ChunkOutcome::Complete {
                users: 2,
                duplicates: vec![alice.clone()]
            }
        );
        assert_eq!(
            out_late,
            ChunkOutcome::Complete {
                users: 1,
                duplicates: vec![alice]
            }
        );
        for d in [&early, &late] {
            assert_eq!(d.owner("alice"), Some(1));
            assert_eq!(d.owner("bob"), Some(2));
            assert_eq!(d.len(), 2);
        }
        // Backend 1 drops alice: she is backend 2's again, not lost.
        early.accept_chunk(1, 2, 0, 1, names(&["carol"]));
        assert_eq!(early.owner("alice"), Some(2));
    }

    #[test]
    fn bad_chunk_counts_are_refused() {
        let mut d = Directory::new([3]);
        assert_eq!(d.accept_chunk(3, 1, 0, 0, vec![]), ChunkOutcome::Invalid);
        assert_eq!(
            d.accept_chunk(3, 1, 0, MAX_CHUNKS + 1, vec![]),
            ChunkOutcome::Invalid
        );
        assert_eq!(d.accept_chunk(3, 1, 5, 3, vec![]), ChunkOutcome::Invalid);
    }

    #[test]
    fn split_groups_by_backend_in_node_order_and_keeps_request_order() {
        let mut d = Directory::new([1, 2]);
        d.accept_chunk(2, 1, 0, 1, names(&["theodore", "bob", "amy"]));
        d.accept_chunk(1, 1, 0, 1, names(&["eliana", "alice"]));
        let s = d.split(&names(&[
            "eliana", "theodore", "luis", "bob", "alice", "amy",
        ]));
        assert_eq!(s.missing, ["luis"]);
        assert!(s.unplaced.is_empty() && s.silent.is_empty());
        assert_eq!(
            s.groups,
            vec![
                (1, names(&["eliana", "alice"])),
                (2, names(&["theodore", "bob", "amy"]))
            ]
        );
    }

    #[test]
    fn a_name_on_no_known_list_is_unplaced_while_a_backend_has_not_announced() {
        let mut d = Directory::new([1, 2]);
        d.accept_chunk(1, 1, 0, 1, names(&["eliana"]));
        let s = d.split(&names(&["eliana", "bob"]));
        assert!(s.missing.is_empty(), "bob may be on backend 2");
        assert_eq!(s.unplaced, ["bob"]);
        assert_eq!(s.silent, [2]);
        assert_eq!(s.groups, vec![(1, names(&["eliana"]))]);
        // Every name placed: nobody is silent as far as this query goes.
        let s = d.split(&names(&["eliana"]));
        assert!(s.unplaced.is_empty() && s.silent.is_empty());
        // Once backend 2 has announced, bob either exists or does not.
        d.accept_chunk(2, 1, 0, 1, names(&["amy"]));
        let s = d.split(&names(&["eliana", "bob"]));
        assert_eq!(s.missing, ["bob"]);
        assert!(s.unplaced.is_empty());
    }

    #[test]
    fn a_kept_list_is_used_until_its_backend_announces_again() {
        let mut d = Directory::new([1]);
        let kept = KnownList {
            boot: 5,
            names: vec![Arc::from("bob")],
        };
        assert!(matches!(
            d.restore(1, kept.clone()),
            ChunkOutcome::Complete { users: 1, .. }
        ));
        assert_eq!(d.owner("bob"), Some(1));
        assert_eq!(d.list(1), Some(&kept));
        // The same run announcing it to this run of main is taken (main
        // shows that it has the list), once; a new run replaces it.
        assert!(matches!(
            d.accept_chunk(1, 5, 0, 1, names(&["bob"])),
            ChunkOutcome::Complete { users: 1, .. }
        ));
        assert_eq!(
            d.accept_chunk(1, 5, 0, 1, names(&["bob"])),
            ChunkOutcome::Stale
        );
        d.accept_chunk(1, 6, 0, 1, names(&["carol"]));
        assert_eq!(d.owner("bob"), None);
        assert_eq!(d.restore(1, kept), ChunkOutcome::Stale);
        assert_eq!(d.owner("carol"), Some(1));
    }

    #[test]
    fn forgotten_names_leave_their_backend_only() {
        let mut d = Directory::new([1, 2]);
        d.accept_chunk(1, 1, 0, 1, names(&["alice", "bob"]));
        d.accept_chunk(2, 1, 0, 1, names(&["bob"]));
        d.forget(1, &names(&["alice", "bob"]));
        assert_eq!(d.owner("alice"), None);
        assert_eq!(d.owner("bob"), Some(2));
    }
}
