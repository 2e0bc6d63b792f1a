//! Content in transit: checksums, and [`Assembly`], the receiving side of
//! one file's transfer, which never lets a half or corrupted file through.
//!
//! A file travels in chunks, each with its own checksum, and its record
//! carries the checksum of the whole content. The receiver writes chunks to
//! a temporary file as they arrive and feeds each to an [`Assembly`], which
//! checks that chunks come in order, that each is intact, and at the end
//! that the whole matches the record. Only then does the caller rename the
//! temporary file over the real one (an atomic replace): a transfer torn by
//! a crash, a lost peer or a file that changed at the source mid-way leaves
//! the real file untouched. The caller resumes from
//! [`next_offset`](Assembly::next_offset), or starts over.
//!
//! Memory stays constant whatever the file's size: the assembly holds a
//! running hash, never the content.
//!
//! Checksums are 64-bit XXH3: fast enough not to be the bottleneck of a
//! loopback transfer (several GB/s), and meant to catch corruption and tell
//! contents apart, not to resist an attacker (peers are the cluster's own
//! nodes).

use xxhash_rust::xxh3::{Xxh3, xxh3_64};

/// The checksum of a chunk, or of a whole small file.
pub fn checksum(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// A whole file's checksum, fed piece by piece (for files read in chunks).
#[derive(Clone, Default)]
pub struct FileChecksum(Xxh3);

impl FileChecksum {
    /// Nothing fed yet.
    pub fn new() -> FileChecksum {
        FileChecksum(Xxh3::new())
    }

    /// Feeds the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The checksum of everything fed (equal to [`checksum`] of it all).
    pub fn value(&self) -> u64 {
        self.0.digest()
    }
}

/// Why a transfer cannot go on, or cannot be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    /// A chunk for another place than the next byte expected.
    #[error("chunk at offset {got}, expected offset {expected}")]
    OutOfOrder {
        /// The next byte expected.
        expected: u64,
        /// Where the chunk said it starts.
        got: u64,
    },
    /// A chunk whose bytes do not match its checksum (damaged in transit).
    #[error("chunk at offset {offset} is damaged (checksum mismatch)")]
    DamagedChunk {
        /// Where the chunk starts.
        offset: u64,
    },
    /// More bytes than the record's size.
    #[error("{got} bytes received, more than the file's {size}")]
    TooLong {
        /// The record's size.
        size: u64,
        /// Bytes received, this chunk included.
        got: u64,
    },
    /// The end came before the record's size.
    #[error("only {got} of {size} bytes received")]
    Incomplete {
        /// The record's size.
        size: u64,
        /// Bytes received.
        got: u64,
    },
    /// Every chunk was intact but the whole is not the content the record
    /// names: the file changed at the source during the transfer.
    #[error("the content received is not the version announced (it changed at the source)")]
    Changed,
}

/// The receiving side of one file's transfer. See the [module docs](self).
pub struct Assembly {
    size: u64,
    expected: u64,
    received: u64,
    running: FileChecksum,
}

impl Assembly {
    /// Expects a file of `size` bytes whose checksum is `expected`.
    pub fn new(size: u64, expected: u64) -> Assembly {
        Assembly {
            size,
            expected,
            received: 0,
            running: FileChecksum::new(),
        }
    }

    /// Where the next chunk must start (to resume a torn transfer).
    pub fn next_offset(&self) -> u64 {
        self.received
    }

    /// Whether every byte has arrived.
    pub fn is_complete(&self) -> bool {
        self.received == self.size
    }

    /// Checks one chunk before the caller writes it: in order, intact, not
    /// past the end. On error nothing is counted, and the caller may ask for
    /// the chunk again.
    pub fn accept(
        &mut self,
        offset: u64,
        bytes: &[u8],
        chunk_checksum: u64,
    ) -> Result<(), TransferError> {
        if offset != self.received {
            return Err(TransferError::OutOfOrder {
                expected: self.received,
                got: offset,
            });
        }
        let end = self.received.saturating_add(bytes.len() as u64);
        if end > self.size {
            return Err(TransferError::TooLong {
                size: self.size,
                got: end,
            });
        }
        if checksum(bytes) != chunk_checksum {
            return Err(TransferError::DamagedChunk { offset });
        }
        self.running.update(bytes);
        self.received = end;
        Ok(())
    }

    /// The verdict once the sender says it is done: the caller may rename
    /// the temporary file into place only on `Ok`.
    pub fn finish(&self) -> Result<(), TransferError> {
        if self.received < self.size {
            return Err(TransferError::Incomplete {
                size: self.size,
                got: self.received,
            });
        }
        if self.running.value() != self.expected {
            return Err(TransferError::Changed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunks(content: &[u8], size: usize) -> Vec<(u64, &[u8], u64)> {
        content
            .chunks(size.max(1))
            .scan(0u64, |offset, c| {
                let at = *offset;
                *offset += c.len() as u64;
                Some((at, c, checksum(c)))
            })
            .collect()
    }

    #[test]
    fn an_intact_transfer_in_order_is_accepted() {
        let content = b"the quick brown fox jumps over the lazy dog";
        let mut a = Assembly::new(content.len() as u64, checksum(content));
        for (offset, bytes, sum) in chunks(content, 10) {
            a.accept(offset, bytes, sum).unwrap();
        }
        assert!(a.is_complete());
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn an_empty_file_needs_no_chunk() {
        let a = Assembly::new(0, checksum(b""));
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn damage_disorder_excess_and_truncation_are_refused() {
        let content = b"0123456789abcdef";
        let mut a = Assembly::new(16, checksum(content));
        assert_eq!(
            a.accept(0, b"01234567", checksum(b"0123456X")),
            Err(TransferError::DamagedChunk { offset: 0 })
        );
        assert_eq!(
            a.accept(8, b"89abcdef", checksum(b"89abcdef")),
            Err(TransferError::OutOfOrder {
                expected: 0,
                got: 8
            })
        );
        a.accept(0, b"01234567", checksum(b"01234567")).unwrap();
        assert_eq!(
            a.finish(),
            Err(TransferError::Incomplete { size: 16, got: 8 })
        );
        assert_eq!(
            a.accept(8, b"89abcdef!", checksum(b"89abcdef!")),
            Err(TransferError::TooLong { size: 16, got: 17 })
        );
        // The refused chunk changed nothing: the right one still fits.
        a.accept(8, b"89abcdef", checksum(b"89abcdef")).unwrap();
        assert_eq!(a.finish(), Ok(()));
    }

    #[test]
    fn a_file_that_changed_at_the_source_is_not_applied() {
        // Each chunk intact, but the halves come from two versions.
        let mut a = Assembly::new(8, checksum(b"aaaabbbb"));
        a.accept(0, b"aaaa", checksum(b"aaaa")).unwrap();
        a.accept(4, b"cccc", checksum(b"cccc")).unwrap();
        assert_eq!(a.finish(), Err(TransferError::Changed));
    }

    proptest! {
        #[test]
        fn streaming_and_one_shot_checksums_agree(
            content in prop::collection::vec(any::<u8>(), 0..5000),
            size in 1usize..700,
        ) {
            let mut running = FileChecksum::new();
            for c in content.chunks(size) {
                running.update(c);
            }
            prop_assert_eq!(running.value(), checksum(&content));
            let mut a = Assembly::new(content.len() as u64, checksum(&content));
            for (offset, bytes, sum) in chunks(&content, size) {
                prop_assert_eq!(a.accept(offset, bytes, sum), Ok(()));
            }
            prop_assert_eq!(a.finish(), Ok(()));
        }
    }
}
