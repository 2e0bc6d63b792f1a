//! The main node's directory: which backend holds each user.
//!
//! Backends announce their names in chunks (a list of 100,000 users does not
//! fit one datagram). A list takes effect only when every chunk of it has
//! arrived, and then replaces that backend's previous list whole: a backend
//! restarted with a different file never leaves stale names behind, and a
//! query never sees half a list. Each announcement carries the backend's boot
//! time, so a late chunk from an older run cannot overwrite a newer list.

use std::collections::HashMap;

/// The most chunks one announcement may have (a guard against hostile counts).
pub const MAX_CHUNKS: u32 = 1 << 16;

/// Where users live, as one main node knows it.
#[derive(Debug, Default)]
pub struct Directory {
    owners: HashMap<Box<str>, usize>,
    /// The boot of the list in force, per backend.
    current: HashMap<usize, u64>,
    assembling: HashMap<usize, Assembly>,
}

#[derive(Debug)]
struct Assembly {
    boot: u64,
    chunks: Vec<Option<Vec<String>>>,
    missing: usize,
}

/// What one announced chunk did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored; more chunks are due.
    Incomplete,
    /// The list is complete and now in force.
    Complete {
        /// How many users the backend holds.
        users: usize,
        /// Names another backend already holds (kept with that backend).
        duplicates: Vec<(String, usize)>,
    },
    /// From an older run than the list in force, or a repeat: ignored.
    Stale,
    /// The chunk count is out of range or disagrees with earlier chunks.
    Invalid,
}

/// A query's names sorted out by owner.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Split {
    /// Names nobody holds, in request order.
    pub missing: Vec<String>,
    /// Per backend (ordered by node number), its names in request order.
    pub groups: Vec<(usize, Vec<String>)>,
}

impl Directory {
    /// An empty directory.
    pub fn new() -> Self {
        Self::default()
    }

    /// The backend holding `name`.
    pub fn owner(&self, name: &str) -> Option<usize> {
        self.owners.get(name).copied()
    }

    /// How many users are known.
    pub fn len(&self) -> usize {
        self.owners.len()
    }

    /// Whether no user is known.
    pub fn is_empty(&self) -> bool {
        self.owners.is_empty()
    }

    /// Sorts a query's names by owner.
    pub fn split(&self, names: &[String]) -> Split {
        let mut split = Split::default();
        for name in names {
            match self.owner(name) {
                None => split.missing.push(name.clone()),
                Some(node) => match split.groups.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, group)) => group.push(name.clone()),
                    None => split.groups.push((node, vec![name.clone()])),
                },
            }
        }
        split.groups.sort_by_key(|(node, _)| *node);
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
        if self.current.get(&node).is_some_and(|b| *b >= boot) {
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
        self.current.insert(node, boot);
        self.owners.retain(|_, owner| *owner != node);
        let mut users = 0;
        let mut duplicates = Vec::new();
        for name in assembly.chunks.into_iter().flatten().flatten() {
            match self.owners.get(name.as_str()) {
                Some(other) if *other != node => duplicates.push((name, *other)),
                Some(_) => {}
                None => {
                    self.owners.insert(name.into_boxed_str(), node);
                    users += 1;
                }
            }
        }
        ChunkOutcome::Complete { users, duplicates }
    }

    /// Drops names a backend says it no longer holds.
    pub fn forget(&mut self, node: usize, names: &[String]) {
        for name in names {
            if self.owner(name) == Some(node) {
                self.owners.remove(name.as_str());
            }
        }
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
        let mut d = Directory::new();
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
    fn duplicates_stay_with_the_first_owner_and_bad_counts_are_refused() {
        let mut d = Directory::new();
        d.accept_chunk(1, 1, 0, 1, names(&["alice"]));
        let out = d.accept_chunk(2, 1, 0, 1, names(&["alice", "bob"]));
        assert_eq!(
            out,
            ChunkOutcome::Complete {
                users: 1,
                duplicates: vec![("alice".into(), 1)]
            }
        );
        assert_eq!(d.owner("alice"), Some(1));
        assert_eq!(d.accept_chunk(3, 1, 0, 0, vec![]), ChunkOutcome::Invalid);
        assert_eq!(
            d.accept_chunk(3, 1, 0, MAX_CHUNKS + 1, vec![]),
            ChunkOutcome::Invalid
        );
        assert_eq!(d.accept_chunk(3, 1, 5, 3, vec![]), ChunkOutcome::Invalid);
    }

    #[test]
    fn split_groups_by_backend_in_node_order_and_keeps_request_order() {
        let mut d = Directory::new();
        d.accept_chunk(2, 1, 0, 1, names(&["theodore", "bob", "amy"]));
        d.accept_chunk(1, 1, 0, 1, names(&["eliana", "alice"]));
        let s = d.split(&names(&[
            "eliana", "theodore", "luis", "bob", "alice", "amy",
        ]));
        assert_eq!(s.missing, ["luis"]);
        assert_eq!(
            s.groups,
            vec![
                (1, names(&["eliana", "alice"])),
                (2, names(&["theodore", "bob", "amy"]))
            ]
        );
    }
}
