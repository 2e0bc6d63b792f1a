//! The files service's requests and replies: any bytes decode or are refused
//! with a typed error (hostile paths included), and what decodes round-trips.
#![no_main]

use convene_files::peer_msg::{FilesReply, FilesRequest};
use convene_wire::{Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = FilesRequest::from_bytes(data) {
        assert_eq!(FilesRequest::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
    if let Ok(m) = FilesReply::from_bytes(data) {
        assert_eq!(FilesReply::from_bytes(&m.to_bytes()).as_ref(), Ok(&m));
    }
});
