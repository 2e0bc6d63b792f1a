//! The chat service's peer datagrams and views: any bytes decode or are
//! refused with a typed error, and what decodes round-trips.
#![no_main]

use convene_chat::peer_msg::{PeerReply, PeerRequest, decode_view, encode_view};
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = PeerRequest::from_bytes(data) {
        assert_eq!(PeerRequest::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(m) = PeerReply::from_bytes(data) {
        assert_eq!(PeerReply::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(view) = decode_view(data) {
        assert_eq!(decode_view(&encode_view(&view)).as_ref(), Ok(&view));
    }
});
