//! The peer transport's front line: any datagram, from anyone, is parsed or
//! dropped by the endpoint without panicking, and a reply it did not ask for
//! never completes anything (only requests and one-way notices come out).
#![no_main]

use std::time::Instant;

use convene_rpc::{Config, Endpoint, Envelope, Event};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Envelope::parse(data);
    let mut endpoint = Endpoint::new(Config::default(), 1);
    let from = "127.0.0.1:9".parse().unwrap();
    let _ = endpoint.handle_datagram(Instant::now(), from, data);
    while let Some(event) = endpoint.poll_event() {
        assert!(
            matches!(event, Event::Request { .. } | Event::Notice { .. }),
            "unsolicited {event:?}"
        );
    }
});
