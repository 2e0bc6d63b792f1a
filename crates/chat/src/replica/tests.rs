use super::*;
use proptest::prelude::*;

fn w(term: u64, seq: u64, name: &str, holder: Option<&str>) -> Write {
    Write {
        stamp: Stamp { term, seq },
        kind: Kind::Identity,
        name: name.into(),
        holder: holder.map(str::to_string),
    }
}

#[test]
fn the_newest_write_of_a_name_wins_whatever_the_order() {
    let mut copy = Replica::new();
    copy.apply(3, &[w(3, 2, "bob", None)]).unwrap();
    copy.apply(3, &[w(3, 1, "bob", Some("s1"))]).unwrap();
    assert_eq!(
        copy.holder(Kind::Identity, "bob"),
        None,
        "the release is newer"
    );
    copy.apply(3, &[w(3, 3, "bob", Some("s2"))]).unwrap();
    assert_eq!(copy.holder(Kind::Identity, "bob"), Some("s2"));
    copy.apply(3, &[w(3, 3, "bob", Some("s2"))]).unwrap();
    assert_eq!(copy.held().count(), 1, "a repeat changes nothing");
}

#[test]
fn a_lower_term_is_refused_once_a_higher_one_was_seen() {
    let mut copy = Replica::new();
    copy.apply(4, &[w(4, 1, "bob", Some("s1"))]).unwrap();
    assert_eq!(
        copy.apply(3, &[w(3, 9, "bob", Some("s2"))]),
        Err(Stale { seen: 4 })
    );
    assert_eq!(copy.holder(Kind::Identity, "bob"), Some("s1"));
    // A read by a newer coordinator fences the current one.
    copy.promise(7).unwrap();
    assert_eq!(copy.apply(4, &[]), Err(Stale { seen: 7 }));
    assert_eq!(copy.promise(5), Err(Stale { seen: 7 }));
    assert!(copy.promise(7).is_ok(), "the same term reads again");
}

#[test]
fn a_merge_keeps_every_name_some_copy_holds_newest_first() {
    let mut a = Replica::new();
    a.apply(2, &[w(2, 1, "bob", Some("s3")), w(2, 2, "ann", Some("s1"))])
        .unwrap();
    let mut b = Replica::new();
    b.apply(5, &[w(5, 1, "ann", None), w(5, 2, "cy", Some("s2"))])
        .unwrap();
    let c = Replica::new();
    let merged = Replica::merge([&a, &b, &c]);
    let held: Vec<_> = merged.held().collect();
    assert_eq!(
        held,
        [(Kind::Identity, "bob", "s3"), (Kind::Identity, "cy", "s2")]
    );
    assert_eq!(merged.seen(), 5);
}

#[test]
fn bad_bytes_are_refused_not_trusted() {
    assert!(Replica::decode(&[]).is_err());
    let mut bytes = Replica::new().encode();
    bytes[8..12].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(Replica::decode(&bytes).is_err(), "a count beyond the bytes");
    let mut copy = Replica::new();
    copy.apply(1, &[w(1, 1, "bob", Some("s1"))]).unwrap();
    let mut bytes = copy.encode();
    bytes.push(0);
    assert!(Replica::decode(&bytes).is_err(), "trailing bytes");
}

fn writes() -> impl Strategy<Value = Vec<Write>> {
    prop::collection::vec(
        (
            1..4u64,
            prop_oneof![Just(Kind::Identity), Just(Kind::Room)],
            "[a-c]",
            proptest::option::of("s[1-3]"),
        )
            .prop_map(|(term, kind, name, holder)| Write {
                stamp: Stamp { term, seq: 0 },
                kind,
                name,
                holder,
            }),
        0..30,
    )
}

proptest! {
    /// However writes are spread over copies and in whatever order they
    /// arrive, the merge holds what one copy given every write holds.
    #[test]
    fn merging_copies_is_the_same_as_one_copy_of_every_write(
        all in writes(),
        spread in prop::collection::vec(0..3usize, 30),
    ) {
        let mut whole = Replica::new();
        let mut copies = [Replica::new(), Replica::new(), Replica::new()];
        for (i, write) in all.iter().enumerate() {
            // A coordinator never stamps two writes alike.
            let mut write = write.clone();
            write.stamp.seq = i as u64;
            whole.keep(write.clone());
            copies[spread[i]].keep(write);
        }
        let merged = Replica::merge(copies.iter().rev());
        let a: Vec<_> = merged.held().collect();
        let b: Vec<_> = whole.held().collect();
        prop_assert_eq!(a, b);
        let round = Replica::decode(&merged.encode()).unwrap();
        prop_assert_eq!(round, merged);
    }
}
