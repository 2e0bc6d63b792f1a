//! What the files service says over the peer transport
//! (payloads tagged [`TAG`]), node to node only:
//! a request from an address outside the cluster is dropped unanswered.
//! People reach the files through a web node's HTTP API (`convene files`),
//! which asks its own node's service in-process; that node then speaks
//! these messages to the others.
//!
//! | kind | request | body |
//! |------|---------|------|
//! | 1 | [`FilesRequest::ListLocal`] | u64 snapshot, u32 offset |
//! | 2 | [`FilesRequest::ListAll`] | u64 snapshot, u32 offset |
//! | 3 | [`FilesRequest::Records`] | u64 snapshot, u32 offset |
//! | 4 | [`FilesRequest::Fetch`] | string path, u64 checksum, u64 offset |
//! | 5 | [`FilesRequest::Hello`] | (none) |
//! | 6 | [`FilesRequest::Announce`] | string path, record |
//! | 7 | [`FilesRequest::Lock`] | string path, string owner (an authenticated account, or [`OPERATOR`]), u8 action (1 lock, 2 unlock, 3 force unlock) |
//! | 8 | [`FilesRequest::Locks`] | (none) |
//! | 9 | [`FilesRequest::LockOf`] | string path |
//!
//! | kind | reply | body |
//! |------|-------|------|
//! | 1 | [`FilesReply::Listing`] | u64 snapshot, u32 total, u32 count, entries (string path, u64 size, i64 modified), u32 count, strings (nodes missing), u32 count, strings (locked paths) |
//! | 2 | [`FilesReply::NoFolder`] | (none) |
//! | 3 | [`FilesReply::StaleSnapshot`] | (none) |
//! | 4 | [`FilesReply::Failed`] | string reason |
//! | 5 | [`FilesReply::Records`] | u64 snapshot, u32 total, u32 count, (string path, record) each |
//! | 6 | [`FilesReply::Chunk`] | u64 size, u64 offset, u64 checksum, u32 length, bytes |
//! | 7 | [`FilesReply::Gone`] | (none) |
//! | 8 | [`FilesReply::Ack`] | (none) |
//! | 9 | [`FilesReply::Locked`] | u32 count, strings (locked paths) |
//! | 10 | [`FilesReply::LockDone`] | string (what was done) |
//! | 11 | [`FilesReply::Busy`] | (none) |
//! | 12 | [`FilesReply::Refused`] | u8 refusal (1 held, 2 not the owner, 3 not locked, 4 too many locks), string reason |
//! | 13 | [`FilesReply::Lock`] | string owner, u64 ms locked, u64 ms left, u32 updates held, u32 count, strings (the first held updates' nodes) |
//!
//! **Listings come in pages of a snapshot.** A folder of thousands of files
//! does not fit one datagram, and a folder that changes between two pages
//! would make a paged listing skip or repeat names. So the first request
//! (`snapshot` 0) freezes the listing and names it; later pages read that
//! snapshot by offset, and a snapshot that has expired answers
//! `StaleSnapshot` (start again).

use convene_cluster::ServiceTag;
use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::listing::Entry;
use crate::path::{MAX_PATH_BYTES, SharedPath};
use crate::plan::Record;

/// The files service's peer messages start with this byte (see
/// [`ServiceTag`]).
pub const TAG: ServiceTag = ServiceTag::new(5, "files");

/// Bytes of entries per page: a page stays well inside one datagram.
pub const PAGE_BYTES: usize = 48 * 1024;

/// The longest node id or reason accepted on the wire.
const MAX_TEXT: usize = 1024;

/// The owner a lock request names when the cluster's operator (who proved
/// they hold the cluster secret) asks rather than an account. The brackets
/// make it a name no account can have, so no account can pass for the
/// operator.
pub const OPERATOR: &str = "(operator)";

/// The most content bytes in one [`FilesReply::Chunk`].
pub const CHUNK_BYTES: usize = 48 * 1024;

/// A request to a node's files service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilesRequest {
    /// Node to node: the files of your own folder.
    ListLocal {
        /// 0 for a new snapshot, else the one being read.
        snapshot: u64,
        /// The first entry wanted.
        offset: u32,
    },
    /// Client to any node: the composite listing of every node's folder.
    ListAll {
        /// 0 for a new snapshot, else the one being read.
        snapshot: u64,
        /// The first entry wanted.
        offset: u32,
    },
    /// Node to node: your records (tombstones included), to reconcile with.
    Records {
        /// 0 for a new snapshot, else the one being read.
        snapshot: u64,
        /// The first record wanted.
        offset: u32,
    },
    /// Node to node: content of `path`, the version whose checksum is
    /// `checksum`, from byte `offset`.
    Fetch {
        /// The file.
        path: SharedPath,
        /// The content wanted (its record's checksum).
        checksum: u64,
        /// The first byte wanted.
        offset: u64,
    },
    /// Node to node: "I have started; reconcile with me" (the receiver
    /// reads the sender's records).
    Hello,
    /// Node to node (a web node to the lock holder): lock or unlock `path`.
    Lock {
        /// The file.
        path: SharedPath,
        /// Who asks: the account the web node authenticated, or
        /// [`OPERATOR`]. A lock belongs to it; only it, an account in the
        /// cluster file's `admins`, or the operator may end the lock.
        owner: String,
        /// What to do.
        action: LockAction,
    },
    /// To the lock holder: which files are locked?
    Locks,
    /// To the lock holder: who holds the lock on `path`, and what waits
    /// for it? Answered [`FilesReply::Lock`], or refused `NotLocked`.
    LockOf {
        /// The file.
        path: SharedPath,
    },
    /// Node to node: a file changed here; this is its record now.
    Announce {
        /// The file.
        path: SharedPath,
        /// Its record.
        record: Record,
    },
}

/// What a [`FilesRequest::Lock`] asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockAction {
    /// Lock (or renew one's own lock).
    Lock,
    /// Release one's own lock, applying the updates it held.
    Unlock,
    /// Release anyone's lock (`unlock --force`): the owner, an admin or
    /// the operator only.
    ForceUnlock,
}

/// Why the lock holder refused a [`FilesRequest::Lock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Someone else holds the lock.
    Held,
    /// The lock belongs to someone else, and the asker may not break it.
    NotOwner,
    /// The file is not locked.
    NotLocked,
    /// The asker already holds as many locks as one account may.
    TooManyLocks,
}

/// The answer to a [`FilesRequest`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FilesReply {
    /// A page of a listing.
    Listing {
        /// The snapshot this page belongs to.
        snapshot: u64,
        /// Entries in the whole snapshot.
        total: u32,
        /// The entries from the requested offset.
        entries: Vec<Entry>,
        /// Nodes whose folders are missing from a composite listing (they
        /// did not answer).
        missing: Vec<String>,
        /// The files locked at the lock holder (a composite listing only).
        locked: Vec<SharedPath>,
    },
    /// This node shares no folder.
    NoFolder,
    /// The snapshot asked for has expired; start again from 0.
    StaleSnapshot,
    /// The request could not be served (the folder cannot be read).
    Failed(String),
    /// A page of a node's records.
    Records {
        /// The snapshot this page belongs to.
        snapshot: u64,
        /// Records in the whole snapshot.
        total: u32,
        /// The records from the requested offset.
        records: Vec<(SharedPath, Record)>,
    },
    /// Content of a file.
    Chunk {
        /// The file's whole size.
        size: u64,
        /// Where these bytes start.
        offset: u64,
        /// The checksum of these bytes.
        checksum: u64,
        /// At most [`CHUNK_BYTES`] bytes.
        bytes: Vec<u8>,
    },
    /// That content is not here any more (the file changed or was deleted).
    Gone,
    /// Done.
    Ack,
    /// The files locked at the lock holder.
    Locked(Vec<SharedPath>),
    /// A lock request was carried out; what happened, for the user.
    LockDone(String),
    /// The node's work queue is full: nothing was done; send it again
    /// later.
    Busy,
    /// A lock request was refused; why, for the user.
    Refused(Refusal, String),
    /// The lock on a file ([`FilesRequest::LockOf`]).
    Lock(LockView),
}

/// A lock as the lock holder sees it: whose it is, for how long, and the
/// updates from other nodes waiting for it, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockView {
    /// The account holding it (or the operator).
    pub owner: String,
    /// How long the file has been locked, in milliseconds.
    pub locked_ms: u64,
    /// How long the lease has left unless renewed, in milliseconds.
    pub left_ms: u64,
    /// How many updates wait for the lock.
    pub held: u32,
    /// The nodes the first of them came from (at most [`MAX_HELD_SHOWN`]),
    /// in arrival order.
    pub held_from: Vec<String>,
}

/// How many held updates' nodes a [`LockView`] names: enough for a person
/// to see the queue, bounded so the answer fits a datagram.
pub const MAX_HELD_SHOWN: usize = 32;

impl FilesReply {
    /// A page of `all` from `offset`: as many entries as fit in
    /// [`PAGE_BYTES`] (at least one, if any remain).
    pub fn page(
        snapshot: u64,
        all: &[Entry],
        offset: u32,
        missing: Vec<String>,
        locked: Vec<SharedPath>,
    ) -> FilesReply {
        let start = (offset as usize).min(all.len());
        let mut bytes = 0;
        let mut end = start;
        while end < all.len() {
            let size = all[end].path.as_str().len() + 4 + 16;
            if end > start && bytes + size > PAGE_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        FilesReply::Listing {
            snapshot,
            total: all.len() as u32,
            entries: all[start..end].to_vec(),
            missing,
            locked,
        }
    }
}

impl FilesReply {
    /// A page of `all` records from `offset`, as many as fit in
    /// [`PAGE_BYTES`] (at least one, if any remain).
    pub fn records_page(snapshot: u64, all: &[(SharedPath, Record)], offset: u32) -> FilesReply {
        let start = (offset as usize).min(all.len());
        let mut bytes = 0;
        let mut end = start;
        while end < all.len() {
            let (path, record) = &all[end];
            let size = path.as_str().len() + 4 + record.to_bytes().len();
            if end > start && bytes + size > PAGE_BYTES {
                break;
            }
            bytes += size;
            end += 1;
        }
        FilesReply::Records {
            snapshot,
            total: all.len() as u32,
            records: all[start..end].to_vec(),
        }
    }
}

fn put_paths(out: &mut Vec<u8>, paths: &[SharedPath]) {
    out.put_u32(paths.len() as u32);
    for p in paths {
        out.put_string(p.as_str());
    }
}

fn paths(r: &mut Reader<'_>) -> Result<Vec<SharedPath>, DecodeError> {
    let count = r.count(5)?;
    (0..count).map(|_| path(r)).collect()
}

fn path(r: &mut Reader<'_>) -> Result<SharedPath, DecodeError> {
    SharedPath::parse(r.string_max(MAX_PATH_BYTES)?).map_err(|_| DecodeError::Invalid("file path"))
}

impl Encode for FilesRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FilesRequest::ListLocal { snapshot, offset }
            | FilesRequest::ListAll { snapshot, offset }
            | FilesRequest::Records { snapshot, offset } => {
                out.put_u8(match self {
                    FilesRequest::ListLocal { .. } => 1,
                    FilesRequest::ListAll { .. } => 2,
                    _ => 3,
                });
                out.put_u64(*snapshot);
                out.put_u32(*offset);
            }
            FilesRequest::Fetch {
                path,
                checksum,
                offset,
            } => {
                out.put_u8(4);
                out.put_string(path.as_str());
                out.put_u64(*checksum);
                out.put_u64(*offset);
            }
            FilesRequest::Hello => out.put_u8(5),
            FilesRequest::Announce { path, record } => {
                out.put_u8(6);
                out.put_string(path.as_str());
                record.encode(out);
            }
            FilesRequest::Lock {
                path,
                owner,
                action,
            } => {
                out.put_u8(7);
                out.put_string(path.as_str());
                out.put_string(owner);
                out.put_u8(match action {
                    LockAction::Lock => 1,
                    LockAction::Unlock => 2,
                    LockAction::ForceUnlock => 3,
                });
            }
            FilesRequest::Locks => out.put_u8(8),
            FilesRequest::LockOf { path } => {
                out.put_u8(9);
                out.put_string(path.as_str());
            }
        }
    }
}

impl Decode<'_> for FilesRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => FilesRequest::ListLocal {
                snapshot: r.u64()?,
                offset: r.u32()?,
            },
            2 => FilesRequest::ListAll {
                snapshot: r.u64()?,
                offset: r.u32()?,
            },
            3 => FilesRequest::Records {
                snapshot: r.u64()?,
                offset: r.u32()?,
            },
            4 => FilesRequest::Fetch {
                path: path(r)?,
                checksum: r.u64()?,
                offset: r.u64()?,
            },
            5 => FilesRequest::Hello,
            6 => FilesRequest::Announce {
                path: path(r)?,
                record: Record::decode(r)?,
            },
            7 => FilesRequest::Lock {
                path: path(r)?,
                owner: r.string_max(MAX_TEXT)?.to_string(),
                action: match r.u8()? {
                    1 => LockAction::Lock,
                    2 => LockAction::Unlock,
                    3 => LockAction::ForceUnlock,
                    _ => return Err(DecodeError::Invalid("lock action")),
                },
            },
            8 => FilesRequest::Locks,
            9 => FilesRequest::LockOf { path: path(r)? },
            _ => return Err(DecodeError::Invalid("files request kind")),
        })
    }
}

impl Encode for FilesReply {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            FilesReply::Listing {
                snapshot,
                total,
                entries,
                missing,
                locked,
            } => {
                out.put_u8(1);
                out.put_u64(*snapshot);
                out.put_u32(*total);
                out.put_u32(entries.len() as u32);
                for e in entries {
                    out.put_string(e.path.as_str());
                    out.put_u64(e.size);
                    out.put_u64(e.modified as u64);
                }
                out.put_u32(missing.len() as u32);
                for m in missing {
                    out.put_string(m);
                }
                put_paths(out, locked);
            }
            FilesReply::NoFolder => out.put_u8(2),
            FilesReply::StaleSnapshot => out.put_u8(3),
            FilesReply::Failed(reason) => {
                out.put_u8(4);
                out.put_string(reason);
            }
            FilesReply::Records {
                snapshot,
                total,
                records,
            } => {
                out.put_u8(5);
                out.put_u64(*snapshot);
                out.put_u32(*total);
                out.put_u32(records.len() as u32);
                for (path, record) in records {
                    out.put_string(path.as_str());
                    record.encode(out);
                }
            }
            FilesReply::Chunk {
                size,
                offset,
                checksum,
                bytes,
            } => {
                out.put_u8(6);
                out.put_u64(*size);
                out.put_u64(*offset);
                out.put_u64(*checksum);
                out.put_u32(bytes.len() as u32);
                out.put_bytes(bytes);
            }
            FilesReply::Gone => out.put_u8(7),
            FilesReply::Ack => out.put_u8(8),
            FilesReply::Locked(paths) => {
                out.put_u8(9);
                put_paths(out, paths);
            }
            FilesReply::LockDone(what) => {
                out.put_u8(10);
                out.put_string(what);
            }
            FilesReply::Busy => out.put_u8(11),
            FilesReply::Refused(refusal, reason) => {
                out.put_u8(12);
                out.put_u8(match refusal {
                    Refusal::Held => 1,
                    Refusal::NotOwner => 2,
                    Refusal::NotLocked => 3,
                    Refusal::TooManyLocks => 4,
                });
                out.put_string(reason);
            }
            FilesReply::Lock(view) => {
                out.put_u8(13);
                out.put_string(&view.owner);
                out.put_u64(view.locked_ms);
                out.put_u64(view.left_ms);
                out.put_u32(view.held);
                let shown = &view.held_from[..view.held_from.len().min(MAX_HELD_SHOWN)];
                out.put_u32(shown.len() as u32);
                for node in shown {
                    out.put_string(node);
                }
            }
        }
    }
}

impl Decode<'_> for FilesReply {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match r.u8()? {
            1 => {
                let snapshot = r.u64()?;
                let total = r.u32()?;
                let count = r.count(4 + 16)?;
                let mut entries = Vec::with_capacity(count);
                for _ in 0..count {
                    entries.push(Entry {
                        path: path(r)?,
                        size: r.u64()?,
                        modified: r.u64()? as i64,
                    });
                }
                let count = r.count(4)?;
                let missing = (0..count)
                    .map(|_| r.string_max(MAX_TEXT).map(str::to_string))
                    .collect::<Result<_, _>>()?;
                FilesReply::Listing {
                    snapshot,
                    total,
                    entries,
                    missing,
                    locked: paths(r)?,
                }
            }
            2 => FilesReply::NoFolder,
            3 => FilesReply::StaleSnapshot,
            4 => FilesReply::Failed(r.string_max(MAX_TEXT)?.to_string()),
            5 => {
                let snapshot = r.u64()?;
                let total = r.u32()?;
                // A path takes at least 5 bytes, a record at least 37.
                let count = r.count(5 + 37)?;
                let mut records = Vec::with_capacity(count);
                for _ in 0..count {
                    let p = path(r)?;
                    records.push((p, Record::decode(r)?));
                }
                FilesReply::Records {
                    snapshot,
                    total,
                    records,
                }
            }
            6 => {
                let size = r.u64()?;
                let offset = r.u64()?;
                let checksum = r.u64()?;
                let len = r.u32()? as usize;
                if len > CHUNK_BYTES {
                    return Err(DecodeError::Invalid("chunk length"));
                }
                FilesReply::Chunk {
                    size,
                    offset,
                    checksum,
                    bytes: r.bytes(len)?.to_vec(),
                }
            }
            7 => FilesReply::Gone,
            8 => FilesReply::Ack,
            9 => FilesReply::Locked(paths(r)?),
            10 => FilesReply::LockDone(r.string_max(MAX_TEXT)?.to_string()),
            11 => FilesReply::Busy,
            12 => {
                let refusal = match r.u8()? {
                    1 => Refusal::Held,
                    2 => Refusal::NotOwner,
                    3 => Refusal::NotLocked,
                    4 => Refusal::TooManyLocks,
                    _ => return Err(DecodeError::Invalid("lock refusal")),
                };
                FilesReply::Refused(refusal, r.string_max(MAX_TEXT)?.to_string())
            }
            13 => {
                let owner = r.string_max(MAX_TEXT)?.to_string();
                let (locked_ms, left_ms, held) = (r.u64()?, r.u64()?, r.u32()?);
                let count = r.count(4)?;
                if count > MAX_HELD_SHOWN {
                    return Err(DecodeError::Invalid("held updates shown"));
                }
                let held_from = (0..count)
                    .map(|_| r.string_max(MAX_TEXT).map(str::to_string))
                    .collect::<Result<_, _>>()?;
                FilesReply::Lock(LockView {
                    owner,
                    locked_ms,
                    left_ms,
                    held,
                    held_from,
                })
            }
            _ => return Err(DecodeError::Invalid("files reply kind")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(path: &str, size: u64) -> Entry {
        Entry {
            path: SharedPath::parse(path).unwrap(),
            size,
            modified: -3,
        }
    }

    #[test]
    fn messages_round_trip() {
        for request in [
            FilesRequest::ListLocal {
                snapshot: 0,
                offset: 7,
            },
            FilesRequest::ListAll {
                snapshot: u64::MAX,
                offset: 0,
            },
            FilesRequest::Records {
                snapshot: 3,
                offset: 9,
            },
            FilesRequest::Fetch {
                path: SharedPath::parse("sub/a.txt").unwrap(),
                checksum: 77,
                offset: 1 << 40,
            },
            FilesRequest::Hello,
            FilesRequest::Locks,
            FilesRequest::LockOf {
                path: SharedPath::parse("notes/a.txt").unwrap(),
            },
            FilesRequest::Lock {
                path: SharedPath::parse("a.txt").unwrap(),
                owner: "alice".into(),
                action: LockAction::ForceUnlock,
            },
            FilesRequest::Announce {
                path: SharedPath::parse("b.txt").unwrap(),
                record: Record {
                    version: crate::version::VersionVector::from_counters([("B", 1)]),
                    deleted: false,
                    size: 3,
                    modified_ns: 9,
                    checksum: 4,
                    baseline: true,
                },
            },
        ] {
            assert_eq!(FilesRequest::from_bytes(&request.to_bytes()), Ok(request));
        }
        for reply in [
            FilesReply::page(
                9,
                &[entry("a.txt", 1), entry("sub/b c.txt", 2)],
                0,
                vec!["B".into()],
                vec![SharedPath::parse("a.txt").unwrap()],
            ),
            FilesReply::Locked(vec![SharedPath::parse("x/y").unwrap()]),
            FilesReply::LockDone("Locked a.txt.".into()),
            FilesReply::NoFolder,
            FilesReply::StaleSnapshot,
            FilesReply::Failed("cannot read".into()),
            FilesReply::records_page(
                4,
                &[(
                    SharedPath::parse("a.txt").unwrap(),
                    Record {
                        version: crate::version::VersionVector::from_counters([("A", 2)]),
                        deleted: true,
                        size: 0,
                        modified_ns: 5,
                        checksum: 0,
                        baseline: false,
                    },
                )],
                0,
            ),
            FilesReply::Chunk {
                size: 10,
                offset: 4,
                checksum: 1,
                bytes: b"abc".to_vec(),
            },
            FilesReply::Gone,
            FilesReply::Ack,
            FilesReply::Busy,
            FilesReply::Refused(Refusal::NotOwner, "the lock belongs to ana".into()),
            FilesReply::Lock(LockView {
                owner: "ana".into(),
                locked_ms: 1500,
                left_ms: 28_500,
                held: 40,
                held_from: vec!["B".into(), "C".into()],
            }),
        ] {
            assert_eq!(FilesReply::from_bytes(&reply.to_bytes()), Ok(reply));
        }
    }

    #[test]
    fn a_hostile_path_in_a_listing_is_refused() {
        let mut bytes = vec![1];
        bytes.put_u64(1);
        bytes.put_u32(1);
        bytes.put_u32(1);
        bytes.put_string("../../etc/passwd");
        bytes.put_u64(1);
        bytes.put_u64(1);
        bytes.put_u32(0);
        assert!(FilesReply::from_bytes(&bytes).is_err());
    }

    #[test]
    fn pages_fit_a_datagram_and_cover_everything_once() {
        let all: Vec<Entry> = (0..5000)
            .map(|i| entry(&format!("folder/{i:0>40}.txt"), i))
            .collect();
        let mut seen = 0;
        while seen < all.len() {
            let page = FilesReply::page(1, &all, seen as u32, vec![], vec![]);
            assert!(page.to_bytes().len() < 60_000);
            let FilesReply::Listing { entries, total, .. } = page else {
                panic!("a listing")
            };
            assert_eq!(total, 5000);
            assert!(!entries.is_empty());
            assert_eq!(entries[0], all[seen]);
            seen += entries.len();
        }
        assert_eq!(seen, all.len());
    }

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = FilesRequest::from_bytes(&bytes) {
                prop_assert_eq!(FilesRequest::from_bytes(&r.to_bytes()), Ok(r));
            }
            if let Ok(r) = FilesReply::from_bytes(&bytes) {
                prop_assert_eq!(FilesReply::from_bytes(&r.to_bytes()), Ok(r));
            }
        }
    }
}
