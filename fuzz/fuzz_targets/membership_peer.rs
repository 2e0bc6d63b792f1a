//! Membership's peer datagrams (the election's messages, the quorum's lease
//! messages, the status query): any bytes decode or are refused with a
//! typed error, and what decodes round-trips.
#![no_main]

use convene_cluster::membership::codec::Wire;
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Wire::from_bytes(data) {
        assert_eq!(Wire::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
});
