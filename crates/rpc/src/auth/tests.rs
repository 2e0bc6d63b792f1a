use super::*;
use crate::envelope::{Kind, RequestId};
use convene_wire::Encode;
use proptest::prelude::*;

const KEY: MacKey = [7; 32];
const T0: u64 = 1_800_000_000_000;

fn members() -> Vec<Member> {
    ["A", "B", "C"]
        .iter()
        .enumerate()
        .map(|(i, id)| Member {
            id: id.to_string(),
            addr: SocketAddr::from(([127, 0, 0, 1], 9000 + i as u16)),
        })
        .collect()
}

fn addr(i: usize) -> SocketAddr {
    members()[i].addr
}

fn request(payload: &[u8]) -> Vec<u8> {
    Envelope {
        kind: Kind::Request,
        id: RequestId(42),
        payload,
    }
    .to_bytes()
}

/// A sealer for member `me` and an opener for member `at`, both started at T0.
fn pair(me: usize, at: usize) -> (Sealer, Opener) {
    (
        Sealer::new(KEY, members(), Some(me), 1),
        Opener::new(KEY, members(), Some(at), T0),
    )
}

#[test]
fn a_sealed_datagram_opens_once_at_its_receiver() {
    let (a, mut b) = pair(0, 1);
    let sealed = a.seal(&request(b"hello"), addr(1), T0).unwrap();
    assert_eq!(sealed.len(), request(b"hello").len() + SEAL_LEN);
    let opened = b.open(&sealed, addr(0), T0).unwrap();
    assert_eq!(opened.sender, Sender::Member(0));
    assert_eq!(opened.envelope.kind, Kind::Request);
    assert_eq!(opened.envelope.id, RequestId(42));
    assert_eq!(opened.envelope.payload, b"hello");
    assert_eq!(b.open(&sealed, addr(0), T0 + 5), Err(AuthError::Replayed));
    assert_eq!(b.stats().accepted, 1);
    assert_eq!(b.stats().replayed, 1);
}

#[test]
fn another_key_fails_authentication() {
    let impostor = Sealer::new([8; 32], members(), Some(0), 1);
    let mut b = Opener::new(KEY, members(), Some(1), T0);
    let sealed = impostor.seal(&request(b"x"), addr(1), T0).unwrap();
    let error = b.open(&sealed, addr(0), T0).unwrap_err();
    assert_eq!(error, AuthError::BadMac);
    assert!(error.to_string().contains("same secret_file"));
    assert_eq!(b.stats().bad_mac, 1);
}

#[test]
fn a_datagram_sealed_for_one_node_does_not_open_at_another() {
    let (a, _) = pair(0, 1);
    let mut c = Opener::new(KEY, members(), Some(2), T0);
    let sealed = a.seal(&request(b"x"), addr(1), T0).unwrap();
    assert_eq!(c.open(&sealed, addr(0), T0), Err(AuthError::BadMac));
}

#[test]
fn a_datagram_replayed_from_another_members_address_fails() {
    let (a, mut c) = pair(0, 2);
    let sealed = a.seal(&request(b"x"), addr(2), T0).unwrap();
    assert_eq!(c.open(&sealed, addr(1), T0), Err(AuthError::BadMac));
}

#[test]
fn strangers_and_plain_envelopes_are_dropped_unread() {
    let (a, mut b) = pair(0, 1);
    let sealed = a.seal(&request(b"x"), addr(1), T0).unwrap();
    let stranger: SocketAddr = "127.0.0.1:1".parse().unwrap();
    assert_eq!(
        b.open(&sealed, stranger, T0),
        Err(AuthError::Stranger { from: stranger })
    );
    let plain = request(&[0; 64]);
    assert!(matches!(
        b.open(&plain, addr(0), T0),
        Err(AuthError::NotSealed(EnvelopeError::UnknownVersion(1)))
    ));
    assert!(matches!(
        b.open(b"short", addr(0), T0),
        Err(AuthError::NotSealed(_))
    ));
}

#[test]
fn reordered_datagrams_within_the_window_are_accepted_once_each() {
    let (a, mut b) = pair(0, 1);
    let sealed: Vec<Vec<u8>> = (0..100)
        .map(|_| a.seal(&request(b"x"), addr(1), T0).unwrap())
        .collect();
    for i in (0..100).rev() {
        assert!(b.open(&sealed[i], addr(0), T0).is_ok(), "datagram {i}");
    }
    for datagram in &sealed {
        assert_eq!(b.open(datagram, addr(0), T0), Err(AuthError::Replayed));
    }
}

#[test]
fn a_datagram_overtaken_by_more_than_the_window_is_too_old() {
    let (a, mut b) = pair(0, 1);
    let first = a.seal(&request(b"x"), addr(1), T0).unwrap();
    let mut last = Vec::new();
    for _ in 0..WINDOW {
        last = a.seal(&request(b"x"), addr(1), T0).unwrap();
    }
    b.open(&last, addr(0), T0).unwrap();
    assert_eq!(b.open(&first, addr(0), T0), Err(AuthError::TooOld));
}

#[test]
fn a_new_run_of_the_sender_is_accepted_and_the_old_run_is_not() {
    let mut b = Opener::new(KEY, members(), Some(1), T0);
    let old = Sealer::new(KEY, members(), Some(0), 10);
    let held_back = old.seal(&request(b"x"), addr(1), T0).unwrap();
    b.open(&old.seal(&request(b"x"), addr(1), T0).unwrap(), addr(0), T0)
        .unwrap();
    let new = Sealer::new(KEY, members(), Some(0), 11);
    b.open(&new.seal(&request(b"x"), addr(1), T0).unwrap(), addr(0), T0)
        .unwrap();
    assert_eq!(b.open(&held_back, addr(0), T0), Err(AuthError::OldBoot));
}

#[test]
fn stale_and_future_datagrams_are_refused_with_a_hint_about_clocks() {
    let (a, mut b) = pair(0, 1);
    let old = a.seal(&request(b"x"), addr(1), T0).unwrap();
    let error = b.open(&old, addr(0), T0 + MAX_CLOCK_SKEW + 1).unwrap_err();
    assert!(error.to_string().contains("clocks synchronised"), "{error}");
    let future = a
        .seal(&request(b"x"), addr(1), T0 + MAX_CLOCK_SKEW + 1)
        .unwrap();
    assert!(matches!(
        b.open(&future, addr(0), T0),
        Err(AuthError::Stale {
            direction: "after",
            ..
        })
    ));
}

#[test]
fn a_restarted_receiver_refuses_what_was_sent_before_it_started() {
    let a = Sealer::new(KEY, members(), Some(0), 1);
    let captured = a.seal(&request(b"x"), addr(1), T0).unwrap();
    // B restarts 5 s later with no memory of A's numbers.
    let mut b = Opener::new(KEY, members(), Some(1), T0 + 5_000);
    assert_eq!(
        b.open(&captured, addr(0), T0 + 6_000),
        Err(AuthError::BeforeStart)
    );
    // Within the fence, a datagram in flight at the restart still counts.
    let mut b = Opener::new(KEY, members(), Some(1), T0 + START_FENCE);
    assert!(b.open(&captured, addr(0), T0 + START_FENCE).is_ok());
}

#[test]
fn the_window_shift_keeps_every_bit_in_place() {
    let mut seen = [0u64; (WINDOW / 64) as usize];
    seen[0] = 0b1011;
    shift(&mut seen, 70);
    assert_eq!(seen[0], 0);
    assert_eq!(seen[1], 0b1011 << 6);
    shift(&mut seen, 64 * 2);
    assert_eq!(seen[3], 0b1011 << 6);
    shift(&mut seen, WINDOW);
    assert!(seen.iter().all(|w| *w == 0));
}

proptest! {
    /// Any change to any byte of a sealed datagram makes it fail.
    #[test]
    fn any_changed_byte_is_caught(payload in prop::collection::vec(any::<u8>(), 0..100), at in any::<prop::sample::Index>(), flip in 1u8..) {
        let (a, mut b) = pair(0, 1);
        let mut sealed = a.seal(&request(&payload), addr(1), T0).unwrap();
        let i = at.index(sealed.len());
        sealed[i] ^= flip;
        prop_assert!(b.open(&sealed, addr(0), T0).is_err());
    }

    /// Whatever the bytes, opening never panics and never accepts garbage.
    #[test]
    fn garbage_never_opens(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut b = Opener::new(KEY, members(), Some(1), T0);
        prop_assert!(b.open(&bytes, addr(0), T0).is_err());
    }

    /// Accepting sequence numbers in any order accepts each exactly once
    /// while it is within the window.
    #[test]
    fn each_number_is_accepted_once(order in Just((1..=300u64).collect::<Vec<_>>()).prop_shuffle()) {
        let mut window = None;
        for &seq in &order {
            prop_assert_eq!(accept(&mut window, 1, seq), Ok(()));
        }
        for &seq in &order {
            prop_assert!(accept(&mut window, 1, seq).is_err());
        }
    }
}

#[test]
fn the_operator_may_ask_from_any_address_and_is_answered_there() {
    let operator_addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let operator = Sealer::new(KEY, members(), None, 3);
    let mut b = Opener::new(KEY, members(), Some(1), T0);
    let ask = operator.seal(&request(b"status?"), addr(1), T0).unwrap();
    let opened = b.open(&ask, operator_addr, T0).unwrap();
    assert_eq!(opened.sender, Sender::Operator);
    assert_eq!(b.open(&ask, operator_addr, T0), Err(AuthError::Replayed));
    // B's reply to that address is sealed for the operator.
    let b_sealer = Sealer::new(KEY, members(), Some(1), 1);
    let reply = b_sealer.seal(&request(b"up"), operator_addr, T0).unwrap();
    let mut at_operator = Opener::new(KEY, members(), None, T0);
    assert_eq!(
        at_operator.open(&reply, addr(1), T0).unwrap().sender,
        Sender::Member(1)
    );
    // The operator hears from members only, and a stranger's key is a stranger.
    assert!(matches!(
        at_operator.open(&reply, operator_addr, T0),
        Err(AuthError::Stranger { .. })
    ));
    let other = Sealer::new([9; 32], members(), None, 3);
    let forged = other.seal(&request(b"status?"), addr(1), T0).unwrap();
    assert!(matches!(
        b.open(&forged, operator_addr, T0),
        Err(AuthError::Stranger { .. })
    ));
}

#[test]
fn a_member_datagram_replayed_from_an_operator_address_fails() {
    let (a, mut b) = pair(0, 1);
    let sealed = a.seal(&request(b"x"), addr(1), T0).unwrap();
    let elsewhere: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    assert!(b.open(&sealed, elsewhere, T0).is_err());
}

#[test]
fn operator_windows_are_bounded() {
    let operator = Sealer::new(KEY, members(), None, 3);
    let mut b = Opener::new(KEY, members(), Some(1), T0);
    for port in 0..100u16 {
        let from = SocketAddr::from(([127, 0, 0, 1], 41000 + port));
        let ask = operator.seal(&request(b"?"), addr(1), T0).unwrap();
        b.open(&ask, from, T0).unwrap();
    }
    assert_eq!(b.operators.len(), OPERATOR_WINDOWS);
}
