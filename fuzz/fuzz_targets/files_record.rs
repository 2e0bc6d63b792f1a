//! The files service's records from peers: any bytes decode or are refused
//! with a typed error, and what decodes round-trips.
#![no_main]

use convene_files::plan::Record;
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Record::from_bytes(data) {
        assert_eq!(Record::from_bytes(&record.to_bytes()).as_ref(), Ok(&record));
    }
});
