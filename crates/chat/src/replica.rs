//! [`Replica`]: one node's copy of the approved names, kept so that a name
//! approved by one coordinator survives that coordinator's loss, even when
//! the server holding it is cut off from the new one.
//!
//! The coordinator's [`Registry`](crate::registry::Registry) lives in one
//! node. A new coordinator used to rebuild it from the views of the servers
//! it could reach; a name approved earlier and held by a server now on the
//! other side of a partition was missing, and could be approved again for
//! someone else. So the coordinator now writes every approved claim to a
//! majority of the cluster's nodes (itself included) *before* answering
//! "approved", and a new coordinator reads the copies of a majority before
//! its first decision in a new term. Two majorities share a node, so every
//! approved name is in what the new coordinator reads.
//!
//! # What a copy holds
//!
//! One entry per name ever written: its holder (`None` once released) and
//! the [`Stamp`] it was written with, `(term, sequence)`. The term is the
//! quorum term under which the coordinator decided; the sequence counts the
//! coordinator's writes within that term. A copy keeps, per name, the entry
//! with the highest stamp, whatever order writes arrive in, so merging copies
//! is the same rule ([`Replica::merge`]): the newest decision about each name
//! wins. Releases stay as entries with no holder (a few dozen bytes per name
//! ever released): without them an older copy's holder would come back.
//!
//! # Fencing
//!
//! A copy remembers the highest term it has seen ([`Replica::seen`]), raised
//! by every write and by a new coordinator's read, and refuses a write from a
//! lower term ([`Stale`]). Once a new coordinator of term `t` has read a
//! majority's copies, those nodes refuse the old coordinator's writes, so the
//! old one can complete a majority only for writes that some copy it read
//! already holds: nothing approved in the old term is missed, and nothing is
//! approved after the read without being seen by the next one.
//!
//! Like the registry this is plain state, no I/O: the coordinator's service
//! ([`service`](crate::service)) sends and counts the writes and reads.

use std::collections::BTreeMap;

use convene_wire::{DecodeError, Reader, WriteExt};

use crate::peer_msg::MAX_NAME;
use crate::registry::{Kind, ServerId};

/// When a write was decided: its term, then its place in the term. Stamps
/// compare in that order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// The quorum term of the coordinator that wrote it.
    pub term: u64,
    /// The coordinator's count of writes within that term.
    pub seq: u64,
}

/// One write: `name` is now held by `holder` (or free, if `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// When it was decided.
    pub stamp: Stamp,
    /// Identity or room.
    pub kind: Kind,
    /// The name.
    pub name: String,
    /// The server holding it, or `None` for a release.
    pub holder: Option<ServerId>,
}

/// A write or read from a term lower than one this copy has seen: the
/// sender no longer coordinates under a term anyone may follow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stale {
    /// The highest term this copy has seen.
    pub seen: u64,
}

/// One node's copy of the approved names. See the [module docs](self).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Replica {
    seen: u64,
    entries: BTreeMap<(Kind, String), (Stamp, Option<ServerId>)>,
}

impl Replica {
    /// An empty copy that has seen no term.
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest term this copy has seen.
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// A coordinator of `term` is about to read this copy: from now on
    /// writes below `term` are refused. Refused itself if `term` is below
    /// one seen already.
    pub fn promise(&mut self, term: u64) -> Result<(), Stale> {
        if term < self.seen {
            return Err(Stale { seen: self.seen });
        }
        self.seen = term;
        Ok(())
    }

    /// Applies writes of one coordinator of `term` (all stamped with it).
    /// Each is kept only if newer than what the copy has for its name, so
    /// repeats and reordering are harmless. Refused as a whole if `term` is
    /// below one seen.
    pub fn apply(&mut self, term: u64, writes: &[Write]) -> Result<(), Stale> {
        self.promise(term)?;
        for write in writes {
            self.keep(write.clone());
        }
        Ok(())
    }

    /// Keeps `write` if it is newer than this copy's entry for its name.
    fn keep(&mut self, write: Write) {
        let Write {
            stamp,
            kind,
            name,
            holder,
        } = write;
        match self.entries.get_mut(&(kind, name.clone())) {
            Some(entry) if entry.0 >= stamp => {}
            Some(entry) => *entry = (stamp, holder),
            None => {
                self.entries.insert((kind, name), (stamp, holder));
            }
        }
    }

    /// Every copy's entries together, the newest per name; the highest term
    /// any of them has seen.
    pub fn merge<'a>(copies: impl IntoIterator<Item = &'a Replica>) -> Replica {
        let mut merged = Replica::new();
        for copy in copies {
            merged.seen = merged.seen.max(copy.seen);
            for write in copy.writes() {
                merged.keep(write);
            }
        }
        merged
    }

    /// Every name held, with its holder, in name order.
    pub fn held(&self) -> impl Iterator<Item = (Kind, &str, &str)> {
        self.entries
            .iter()
            .filter_map(|((kind, name), (_, holder))| {
                holder.as_deref().map(|h| (*kind, name.as_str(), h))
            })
    }

    /// The holder this copy records for `name`, if any.
    pub fn holder(&self, kind: Kind, name: &str) -> Option<&str> {
        self.entries
            .get(&(kind, name.to_string()))
            .and_then(|(_, holder)| holder.as_deref())
    }

    /// Every entry, as writes.
    pub fn writes(&self) -> impl Iterator<Item = Write> + '_ {
        self.entries
            .iter()
            .map(|((kind, name), (stamp, holder))| Write {
                stamp: *stamp,
                kind: *kind,
                name: name.clone(),
                holder: holder.clone(),
            })
    }

    /// The copy as bytes, to be read in parts: the seen term, then every
    /// entry ([`put_write`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u64(self.seen);
        out.put_u32(self.entries.len() as u32);
        for write in self.writes() {
            put_write(&mut out, &write);
        }
        out
    }

    /// The copy [`encode`](Replica::encode) wrote.
    pub fn decode(bytes: &[u8]) -> Result<Replica, DecodeError> {
        let mut r = Reader::new(bytes);
        let seen = r.u64()?;
        // Each entry is at least 26 bytes (stamp, kind, two lengths).
        let count = r.count(26)?;
        let mut replica = Replica {
            seen,
            entries: BTreeMap::new(),
        };
        for _ in 0..count {
            let write = write(&mut r)?;
            replica.keep(write);
        }
        r.finish()?;
        Ok(replica)
    }
}

/// Writes one [`Write`]: u64 term, u64 sequence, u8 kind (1 identity, 2
/// room), string name, string holder (empty for a release).
pub fn put_write(out: &mut Vec<u8>, write: &Write) {
    out.put_u64(write.stamp.term);
    out.put_u64(write.stamp.seq);
    out.put_u8(match write.kind {
        Kind::Identity => 1,
        Kind::Room => 2,
    });
    out.put_string(&write.name);
    out.put_string(write.holder.as_deref().unwrap_or(""));
}

/// Reads one [`Write`] as [`put_write`] wrote it.
pub fn write(r: &mut Reader<'_>) -> Result<Write, DecodeError> {
    let term = r.u64()?;
    let seq = r.u64()?;
    let kind = match r.u8()? {
        1 => Kind::Identity,
        2 => Kind::Room,
        _ => return Err(DecodeError::Invalid("name kind")),
    };
    let name = r.string_max(MAX_NAME)?.to_string();
    let holder = r.string_max(MAX_NAME)?;
    Ok(Write {
        stamp: Stamp { term, seq },
        kind,
        name,
        holder: (!holder.is_empty()).then(|| holder.to_string()),
    })
}

#[cfg(test)]
mod tests;
