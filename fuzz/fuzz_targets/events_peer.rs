//! The events service's peer messages, and the text it reads back from its
//! database and Redis: any input decodes or is refused with a typed error,
//! and what decodes round-trips.
#![no_main]

use convene_events::db::{decode_availability, encode_availability};
use convene_events::peer_msg::{Reply, Request};
use convene_events::working::Entry;
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Request::from_bytes(data) {
        assert_eq!(Request::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(m) = Reply::from_bytes(data) {
        assert_eq!(Reply::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(a) = decode_availability(text) {
            assert_eq!(decode_availability(&encode_availability(&a)), Ok(a));
        }
        if let Ok(e) = Entry::decode(text) {
            assert_eq!(Entry::decode(&e.encode()), Ok(e));
        }
    }
});
