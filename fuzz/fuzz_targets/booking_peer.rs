//! Messages between booking nodes: decoding arbitrary bytes never panics, and
//! whatever decodes re-encodes to bytes that decode to the same message.
#![no_main]

use convene_booking::service::peer_msg::{PeerReply, PeerRequest};
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = PeerRequest::from_bytes(data) {
        assert_eq!(PeerRequest::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(m) = PeerReply::from_bytes(data) {
        assert_eq!(PeerReply::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
});
