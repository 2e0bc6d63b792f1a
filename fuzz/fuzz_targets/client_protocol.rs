//! The text protocol between `convene meet` and a main node: any line parses
//! or gets an error, and what parses round-trips.
#![no_main]

use convene_meet::protocol::{Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(line) = std::str::from_utf8(data) else { return };
    if let Ok(r) = Request::parse(line) {
        assert_eq!(Request::parse(r.to_line().trim_end()).as_ref(), Ok(&r));
    }
    if let Ok(r) = Reply::parse(line) {
        assert_eq!(Reply::parse(r.to_line().trim_end()).as_ref(), Ok(&r));
    }
});
