//! A [`Record`] on the wire: how nodes tell each other what they hold.
//!
//! | field      | encoding |
//! |------------|----------|
//! | version    | u32 count, then per node: string id (at most [`MAX_NODE_ID`] bytes), u64 counter (non-zero) |
//! | flags      | u8: bit 0 deleted, bit 1 baseline; other bits must be 0 |
//! | size       | u64 |
//! | modified   | i64 nanoseconds since the epoch (as u64 bits) |
//! | checksum   | u64 |
//!
//! Big-endian, as every Convene codec (`convene_wire`). A record from a peer
//! is untrusted: unknown flag bits, a zero counter, a node listed twice or
//! an overlong id are refused rather than guessed at, so two nodes can never
//! read one record two ways.

use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::plan::Record;
use crate::version::VersionVector;

/// The longest node id a record may name (cluster-file ids are at most 64).
pub const MAX_NODE_ID: usize = 64;

const DELETED: u8 = 1;
const BASELINE: u8 = 2;

impl Encode for Record {
    fn encode(&self, out: &mut Vec<u8>) {
        let counters: Vec<(&str, u64)> = self.version.counters().collect();
        out.put_u32(counters.len() as u32);
        for (node, counter) in counters {
            out.put_string(node);
            out.put_u64(counter);
        }
        let mut flags = 0;
        if self.deleted {
            flags |= DELETED;
        }
        if self.baseline {
            flags |= BASELINE;
        }
        out.put_u8(flags);
        out.put_u64(self.size);
        out.put_u64(self.modified_ns as u64);
        out.put_u64(self.checksum);
    }
}

impl Decode<'_> for Record {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        // Each counter takes at least 4 (id length) + 8 bytes.
        let count = r.count(12)?;
        let mut counters: Vec<(String, u64)> = Vec::with_capacity(count);
        for _ in 0..count {
            let node = r.string_max(MAX_NODE_ID)?;
            let counter = r.u64()?;
            if counter == 0 {
                return Err(DecodeError::Invalid("zero version counter"));
            }
            if counters.iter().any(|(n, _)| n == node) {
                return Err(DecodeError::Invalid("node listed twice in a version"));
            }
            counters.push((node.to_string(), counter));
        }
        let flags = r.u8()?;
        if flags & !(DELETED | BASELINE) != 0 {
            return Err(DecodeError::Invalid("record flags"));
        }
        Ok(Record {
            version: VersionVector::from_counters(counters),
            deleted: flags & DELETED != 0,
            baseline: flags & BASELINE != 0,
            size: r.u64()?,
            modified_ns: r.u64()? as i64,
            checksum: r.u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn records() -> impl Strategy<Value = Record> {
        (
            prop::collection::vec(("[A-Za-z0-9_-]{1,8}", 1u64..u64::MAX), 0..5),
            any::<bool>(),
            any::<bool>(),
            any::<u64>(),
            any::<i64>(),
            any::<u64>(),
        )
            .prop_map(
                |(version, deleted, baseline, size, modified_ns, checksum)| Record {
                    version: VersionVector::from_counters(version),
                    deleted,
                    baseline,
                    size,
                    modified_ns,
                    checksum,
                },
            )
    }

    proptest! {
        #[test]
        fn records_round_trip(record in records()) {
            prop_assert_eq!(Record::from_bytes(&record.to_bytes()), Ok(record));
        }

        #[test]
        fn any_bytes_decode_or_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
            if let Ok(record) = Record::from_bytes(&bytes) {
                prop_assert_eq!(Record::from_bytes(&record.to_bytes()), Ok(record));
            }
        }
    }

    #[test]
    fn ambiguous_records_are_refused() {
        let record = Record {
            version: VersionVector::from_counters([("A", 1)]),
            deleted: false,
            baseline: false,
            size: 1,
            modified_ns: -5,
            checksum: 9,
        };
        let good = record.to_bytes();
        assert_eq!(Record::from_bytes(&good), Ok(record));

        let mut zero = good.clone();
        zero[4 + 4 + 1 + 7] = 0; // the counter's last byte: 1 -> 0
        assert!(Record::from_bytes(&zero).is_err());

        let mut flags = good.clone();
        flags[4 + 4 + 1 + 8] = 0x80;
        assert!(Record::from_bytes(&flags).is_err());

        let mut twice = Vec::new();
        twice.put_u32(2);
        for _ in 0..2 {
            twice.put_string("A");
            twice.put_u64(1);
        }
        twice.extend_from_slice(&good[4 + 4 + 1 + 8..]);
        assert!(Record::from_bytes(&twice).is_err());
    }
}
