//! Meet peer messages: decoding arbitrary bytes never panics, and whatever
//! decodes re-encodes to bytes that decode to the same message.
#![no_main]

use convene_meet::peer_msg::{MeetReply, MeetRequest};
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MeetRequest::from_bytes(data) {
        assert_eq!(MeetRequest::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(m) = MeetReply::from_bytes(data) {
        assert_eq!(MeetReply::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
});
