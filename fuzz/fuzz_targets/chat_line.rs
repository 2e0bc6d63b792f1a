//! The chat protocol's lines: any text parses as a client or server message
//! or is refused with a typed error, and what parses round-trips.
#![no_main]

use convene_chat::{ClientMessage, ServerMessage};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(m) = ClientMessage::parse(line) {
        assert_eq!(ClientMessage::parse(&m.to_line()).as_ref(), Ok(&m));
    }
    if let Ok(m) = ServerMessage::parse(line) {
        assert_eq!(ServerMessage::parse(&m.to_line()).as_ref(), Ok(&m));
    }
});
