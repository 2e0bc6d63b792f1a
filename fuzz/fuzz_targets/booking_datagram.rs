//! The booking seed's byte protocol: any datagram decodes as a request or a reply, or
//! is refused with a typed error, never a panic; a refused request can always be
//! answered; and whatever decodes re-encodes to bytes that decode to the same message.
#![no_main]

use convene_booking::wire::{self, Reply, RequestError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match wire::decode_request(data) {
        Ok((header, request)) => {
            let bytes = request.encode(header.request_id);
            // Requests carry no lenient fields, so the re-encoding is byte-exact.
            assert_eq!(bytes, data);
            assert_eq!(wire::decode_request(&bytes), Ok((header, request)));
        }
        Err(e) => {
            assert_eq!(e == RequestError::TooShort, wire::header(data).is_none());
            let reply = e.to_reply();
            assert_eq!(Reply::decode(&reply.encode()).as_ref(), Ok(&reply));
        }
    }
    if let Ok(reply) = Reply::decode(data) {
        assert_eq!(Reply::decode(&reply.encode()).as_ref(), Ok(&reply));
    }
});
