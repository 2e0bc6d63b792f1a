//! The authenticated envelope: whatever arrives, from a member's address or
//! a stranger's, the opener never panics and never accepts bytes that the
//! holder of the key did not seal; and a sealed datagram changed in any
//! byte no longer opens.
#![no_main]

use std::net::SocketAddr;

use convene_rpc::{Envelope, Kind, Member, Opener, RequestId, Sealer};
use convene_wire::Encode;
use libfuzzer_sys::fuzz_target;

const KEY: [u8; 32] = [3; 32];
const NOW: u64 = 1_800_000_000_000;

fn members() -> Vec<Member> {
    ["A", "B"]
        .iter()
        .enumerate()
        .map(|(i, id)| Member {
            id: id.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], 7000 + i as u16)),
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let members = members();
    let mut opener = Opener::new(KEY, members.clone(), Some(1), NOW);
    let stranger: SocketAddr = "127.0.0.1:9".parse().unwrap();
    assert!(opener.open(data, members[0].addr, NOW).is_err());
    assert!(opener.open(data, stranger, NOW).is_err());

    // The fuzzer's bytes as a payload, sealed for real; then one byte of
    // the result changed where the input says.
    let Some((&edit, payload)) = data.split_first() else { return };
    let envelope = Envelope {
        kind: Kind::Request,
        id: RequestId(1),
        payload,
    }
    .to_bytes();
    let sealer = Sealer::new(KEY, members.clone(), Some(0), 1);
    let sealed = sealer.seal(&envelope, members[1].addr, NOW).unwrap();
    let mut changed = sealed.clone();
    let at = usize::from(edit) % changed.len();
    changed[at] ^= edit | 1;
    assert!(opener.open(&changed, members[0].addr, NOW).is_err());
    let opened = opener.open(&sealed, members[0].addr, NOW).unwrap();
    assert_eq!(opened.envelope.payload, payload);
    assert!(opener.open(&sealed, members[0].addr, NOW).is_err(), "a replay opened");
});
