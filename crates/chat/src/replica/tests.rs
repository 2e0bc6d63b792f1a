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

/// One step of several coordinators (term `k + 1` for coordinator `k`)
/// working on `n` copies in any interleaving, an old one carrying on after
/// a newer one has read.
#[derive(Clone, Debug)]
enum Step {
    /// Coordinator `k` reads the copies in `mask` (it starts its term).
    Read { k: usize, mask: u8 },
    /// Coordinator `k` writes `name` (held by `holder`) to the copies in
    /// `mask`; approved if a majority accepts.
    Write {
        k: usize,
        name: u8,
        holder: Option<u8>,
        mask: u8,
    },
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        prop_oneof![
            (0..4usize, any::<u8>()).prop_map(|(k, mask)| Step::Read { k, mask }),
            (0..4usize, 0..3u8, proptest::option::of(0..3u8), any::<u8>()).prop_map(
                |(k, name, holder, mask)| Step::Write {
                    k,
                    name,
                    holder,
                    mask
                }
            ),
        ],
        0..60,
    )
}

proptest! {
    /// The protocol's promise: a coordinator that read a majority's copies
    /// under its term finds every write of an older term that a majority
    /// accepted, whenever that happened: before the read, or after it
    /// (impossible: some copy it read promised the newer term and refuses).
    #[test]
    fn a_read_of_a_majority_finds_every_write_of_an_older_term_a_majority_accepted(
        n in 3..=5usize,
        steps in steps(),
    ) {
        let majority = n / 2 + 1;
        let mut copies = vec![Replica::new(); n];
        let mut started = [false; 4];
        let mut seq = 0u64;
        let mut approved: Vec<Write> = Vec::new();
        let mut reads: Vec<(u64, Replica)> = Vec::new();
        for step in steps {
            match step {
                Step::Read { k, mask } => {
                    let term = k as u64 + 1;
                    let read: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
                    if started[k] || read.len() < majority {
                        continue;
                    }
                    if read.iter().any(|&i| copies[i].promise(term).is_err()) {
                        continue; // refused: a newer term was seen; no decisions
                    }
                    started[k] = true;
                    reads.push((term, Replica::merge(read.iter().map(|&i| &copies[i]))));
                }
                Step::Write { k, name, holder, mask } => {
                    if !started[k] {
                        continue;
                    }
                    seq += 1;
                    let term = k as u64 + 1;
                    let write = w(term, seq, &format!("n{name}"), None);
                    let write = Write { holder: holder.map(|h| format!("s{h}")), ..write };
                    let acks = (0..n)
                        .filter(|i| mask & (1 << i) != 0)
                        .filter(|&i| copies[i].apply(term, std::slice::from_ref(&write)).is_ok())
                        .count();
                    if acks >= majority {
                        approved.push(write);
                    }
                }
            }
        }
        // Every approval of an older term, even one made after the newer
        // term's read, is in that read: after the read, the older term can
        // no longer reach a majority.
        for (term, merged) in &reads {
            for w in approved.iter().filter(|w| w.stamp.term < *term) {
                let found = merged.entries.get(&(w.kind, w.name.clone())).map(|e| e.0);
                prop_assert!(
                    found.is_some_and(|stamp| stamp >= w.stamp),
                    "term {term}'s read missed {w:?} (found {found:?})"
                );
            }
        }
    }
}
