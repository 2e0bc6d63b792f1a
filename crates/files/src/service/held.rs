//! [`Held`]: a peer's update of a locked file, waiting at the lock holder
//! for the lock to go, and the name of the file its content waits in.
//!
//! A held update keeps its content: the holder fetches it when the update
//! arrives, into a `.convene-held-…` file in the shared folder (a name the
//! walk, the listing and the watcher never show), because by unlock time the
//! sender may have changed the file again and no longer have that version.
//! Held updates are written to the store (see [`LockDesk`]), so their
//! encoding refuses any other file name: a damaged or forged row cannot make
//! the holder touch a file outside its own.
//!
//! [`LockDesk`]: super::lock_desk::LockDesk

use convene_wire::{Decode, DecodeError, Encode, Reader, WriteExt};

use crate::path::RESERVED_PREFIX;
use crate::plan::Record;

/// An update held for a locked file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    /// The node it came from.
    pub from: String,
    /// Its record.
    pub record: Record,
    /// Where its content waits in the folder (none for a deletion).
    pub file: Option<String>,
}

impl Encode for Held {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_string(&self.from);
        self.record.encode(out);
        out.put_string(self.file.as_deref().unwrap_or(""));
    }
}

impl Decode<'_> for Held {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let from = r.string_max(64)?.to_string();
        let record = Record::decode(r)?;
        let file = r.string_max(64)?;
        if !file.is_empty() && !is_held_file_name(file) {
            return Err(DecodeError::Invalid("held file name"));
        }
        Ok(Held {
            from,
            record,
            file: (!file.is_empty()).then(|| file.to_string()),
        })
    }
}

/// A held update's file name: `.convene-held-` and 16 hex digits, in the
/// folder itself (nothing that could lead elsewhere), from the OS random
/// source (no one can guess it ahead).
pub(crate) fn held_file_name() -> String {
    format!(
        "{RESERVED_PREFIX}held-{:016x}",
        convene_rpc::os_random_u64()
    )
}

fn is_held_file_name(name: &str) -> bool {
    name.strip_prefix(RESERVED_PREFIX)
        .and_then(|rest| rest.strip_prefix("held-"))
        .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::VersionVector;

    #[test]
    fn held_updates_round_trip_and_refuse_other_file_names() {
        let held = Held {
            from: "B".into(),
            record: Record {
                version: VersionVector::from_counters([("B", 2)]),
                deleted: false,
                size: 3,
                modified_ns: 7,
                checksum: 9,
                baseline: false,
            },
            file: Some(".convene-held-00000000000000ff".into()),
        };
        assert_eq!(Held::from_bytes(&held.to_bytes()), Ok(held.clone()));
        let deletion = Held {
            file: None,
            ..held.clone()
        };
        assert_eq!(Held::from_bytes(&deletion.to_bytes()), Ok(deletion));
        for name in [
            "../../etc/passwd",
            ".convene-/../../x",
            ".convene-held-/../../x",
            ".convene-held-00ff",
            ".convene-tmp-00000000000000ff",
        ] {
            let escape = Held {
                file: Some(name.into()),
                ..held.clone()
            };
            assert!(Held::from_bytes(&escape.to_bytes()).is_err(), "{name}");
        }
        assert!(is_held_file_name(&held_file_name()));
    }
}
