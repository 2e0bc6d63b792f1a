//! What the files service says over the peer transport
//! ([`ServiceTag::Files`](convene_cluster::ServiceTag)), to other nodes and
//! to `convene files` (which speaks the same request/reply transport as
//! `convene status`).
//!
//! | kind | request | body |
//! |------|---------|------|
//! | 1 | [`FilesRequest::ListLocal`] | u64 snapshot, u32 offset |
//! | 2 | [`FilesRequest::ListAll`] | u64 snapshot, u32 offset |
//!
//! | kind | reply | body |
//! |------|-------|------|
//! | 1 | [`FilesReply::Listing`] | u64 snapshot, u32 total, u32 count, entries (string path, u64 size, i64 modified), u32 count, strings (nodes missing) |
//! | 2 | [`FilesReply::NoFolder`] | (none) |
//! | 3 | [`FilesReply::StaleSnapshot`] | (none) |
//! | 4 | [`FilesReply::Failed`] | string reason |
//!
//! **Listings come in pages of a snapshot.** A folder of thousands of files
//! does not fit one datagram, and a folder that changes between two pages
//! would make a paged listing skip or repeat names. So the first request
//! (`snapshot` 0) freezes the listing and names it; later pages read that
//! snapshot by offset, and a snapshot that has expired answers
//! `StaleSnapshot` (start again).

use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::listing::Entry;
use crate::path::{MAX_PATH_BYTES, SharedPath};

/// Bytes of entries per page: a page stays well inside one datagram.
pub const PAGE_BYTES: usize = 48 * 1024;

/// The longest node id or reason accepted on the wire.
const MAX_TEXT: usize = 1024;

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
    },
    /// This node shares no folder.
    NoFolder,
    /// The snapshot asked for has expired; start again from 0.
    StaleSnapshot,
    /// The request could not be served (the folder cannot be read).
    Failed(String),
}

impl FilesReply {
    /// A page of `all` from `offset`: as many entries as fit in
    /// [`PAGE_BYTES`] (at least one, if any remain).
    pub fn page(snapshot: u64, all: &[Entry], offset: u32, missing: Vec<String>) -> FilesReply {
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
        }
    }
}

impl Encode for FilesRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        let (kind, snapshot, offset) = match self {
            FilesRequest::ListLocal { snapshot, offset } => (1, snapshot, offset),
            FilesRequest::ListAll { snapshot, offset } => (2, snapshot, offset),
        };
        out.put_u8(kind);
        out.put_u64(*snapshot);
        out.put_u32(*offset);
    }
}

impl Decode<'_> for FilesRequest {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let kind = r.u8()?;
        let snapshot = r.u64()?;
        let offset = r.u32()?;
        match kind {
            1 => Ok(FilesRequest::ListLocal { snapshot, offset }),
            2 => Ok(FilesRequest::ListAll { snapshot, offset }),
            _ => Err(DecodeError::Invalid("files request kind")),
        }
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
            }
            FilesReply::NoFolder => out.put_u8(2),
            FilesReply::StaleSnapshot => out.put_u8(3),
            FilesReply::Failed(reason) => {
                out.put_u8(4);
                out.put_string(reason);
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
                    let path = SharedPath::parse(r.string_max(MAX_PATH_BYTES)?)
                        .map_err(|_| DecodeError::Invalid("file path"))?;
                    entries.push(Entry {
                        path,
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
                }
            }
            2 => FilesReply::NoFolder,
            3 => FilesReply::StaleSnapshot,
            4 => FilesReply::Failed(r.string_max(MAX_TEXT)?.to_string()),
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
        ] {
            assert_eq!(FilesRequest::from_bytes(&request.to_bytes()), Ok(request));
        }
        for reply in [
            FilesReply::page(
                9,
                &[entry("a.txt", 1), entry("sub/b c.txt", 2)],
                0,
                vec!["B".into()],
            ),
            FilesReply::NoFolder,
            FilesReply::StaleSnapshot,
            FilesReply::Failed("cannot read".into()),
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
            let page = FilesReply::page(1, &all, seen as u32, vec![]);
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
