//! Property tests against brute-force oracles.
//!
//! Small domain: time `0..64` is 64 unit cells `[t, t+1)`, so a set of free time is a
//! `u64` bitmask and every set operation is one bitwise instruction. A set's normalized
//! list is its maximal runs of set bits, which is unique, so results are compared with
//! `==`, not just "same cells": that also proves every output is normalized.
//!
//! Large domain: long lists with gaps and lengths of very different scales, so the
//! intersection's galloping skip is exercised, checked against a quadratic pairwise oracle.

use convene_time::{Interval, SlotList, SlotListError, intersect_all, intersect_all_into};
use proptest::prelude::*;

const CELLS: u32 = 64;

fn mask_of_interval(iv: &Interval) -> u64 {
    let len = iv.end() - iv.start();
    if len == 64 {
        u64::MAX
    } else {
        ((1u64 << len) - 1) << iv.start()
    }
}

fn mask_of(list: &[Interval]) -> u64 {
    list.iter().map(mask_of_interval).fold(0, |a, b| a | b)
}

/// The maximal runs of set bits, built by scanning cells one by one (deliberately naive).
fn list_of(mask: u64) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut run_start = None;
    for t in 0..=CELLS {
        let set = t < CELLS && mask & (1 << t) != 0;
        match (run_start, set) {
            (None, true) => run_start = Some(t),
            (Some(s), false) => {
                out.push(Interval::new(s, t).unwrap());
                run_start = None;
            }
            _ => {}
        }
    }
    out
}

fn slots_of(mask: u64) -> SlotList {
    SlotList::from_sorted(list_of(mask)).expect("maximal runs are normalized")
}

fn assert_normalized(v: &[Interval]) {
    for pair in v.windows(2) {
        assert!(
            pair[0].end() < pair[1].start(),
            "not normalized: {:?}",
            pair
        );
    }
}

fn interval_in_domain() -> impl Strategy<Value = Interval> {
    (0..CELLS)
        .prop_flat_map(|s| (Just(s), s + 1..=CELLS))
        .prop_map(|(s, e)| Interval::new(s, e).unwrap())
}

/// A normalized list over a large domain, built from (gap, length) pairs whose scales
/// differ per list: some lists are dense with short gaps, others sparse with long ones.
fn long_list() -> impl Strategy<Value = Vec<Interval<u64>>> {
    (1u64..200, 1u64..200, 0usize..400).prop_flat_map(|(gap_scale, len_scale, n)| {
        proptest::collection::vec((1..=gap_scale, 1..=len_scale), n).prop_map(|pairs| {
            let mut t = 0u64;
            pairs
                .into_iter()
                .map(|(gap, len)| {
                    let iv = Interval::new(t + gap, t + gap + len).unwrap();
                    t = iv.end();
                    iv
                })
                .collect()
        })
    })
}

/// Quadratic, obviously-correct two-list intersection: every pair's common part. Because
/// both inputs are sorted and non-touching, the pieces come out sorted and non-touching.
fn naive_pair(a: &[Interval<u64>], b: &[Interval<u64>]) -> Vec<Interval<u64>> {
    a.iter()
        .flat_map(|x| b.iter().filter_map(move |y| x.intersection(y)))
        .collect()
}

proptest! {
    #[test]
    fn intersect_all_matches_cell_and(masks in proptest::collection::vec(any::<u64>(), 0..=6)) {
        let lists: Vec<SlotList> = masks.iter().map(|&m| slots_of(m)).collect();
        let slices: Vec<&[Interval]> = lists.iter().map(SlotList::as_slice).collect();
        let got = intersect_all(&slices);
        let expect = if masks.is_empty() { 0 } else { masks.iter().fold(u64::MAX, |a, &b| a & b) };
        assert_normalized(got.as_slice());
        prop_assert_eq!(got, slots_of(expect));
    }

    #[test]
    fn intersect_all_with_many_lists(base in any::<u64>(), noise in proptest::collection::vec(any::<u64>(), 15..=20)) {
        // More lists than fit the stack cursor buffer; `base` keeps the answer non-empty.
        let masks: Vec<u64> = noise.iter().map(|n| base | n).collect();
        let lists: Vec<SlotList> = masks.iter().map(|&m| slots_of(m)).collect();
        let slices: Vec<&[Interval]> = lists.iter().map(SlotList::as_slice).collect();
        let expect = masks.iter().fold(u64::MAX, |a, &b| a & b);
        prop_assert_eq!(intersect_all(&slices), slots_of(expect));
    }

    #[test]
    fn intersect_all_matches_pairwise_fold(masks in proptest::collection::vec(any::<u64>(), 1..=6)) {
        let lists: Vec<SlotList> = masks.iter().map(|&m| slots_of(m)).collect();
        let slices: Vec<&[Interval]> = lists.iter().map(SlotList::as_slice).collect();
        let fold = lists[1..].iter().fold(lists[0].clone(), |acc, l| acc.intersect(l));
        prop_assert_eq!(intersect_all(&slices), fold);
    }

    #[test]
    fn intersect_all_on_long_lists(lists in proptest::collection::vec(long_list(), 2..=6)) {
        let slices: Vec<&[Interval<u64>]> = lists.iter().map(Vec::as_slice).collect();
        let mut got = Vec::new();
        intersect_all_into(&slices, &mut got);
        let expect = lists[1..].iter().fold(lists[0].clone(), |acc, l| naive_pair(&acc, l));
        prop_assert_eq!(got, expect);
    }

    #[test]
    fn subtract_matches_cell_and_not(mask in any::<u64>(), slot in interval_in_domain()) {
        let got = slots_of(mask).subtract(&slot);
        assert_normalized(got.as_slice());
        prop_assert_eq!(got, slots_of(mask & !mask_of_interval(&slot)));
    }

    #[test]
    fn add_matches_cell_or(mask in any::<u64>(), slot in interval_in_domain()) {
        let got = slots_of(mask).add(&slot);
        assert_normalized(got.as_slice());
        prop_assert_eq!(got, slots_of(mask | mask_of_interval(&slot)));
    }

    #[test]
    fn add_undoes_subtract_of_free_time(mask in any::<u64>(), slot in interval_in_domain()) {
        let list = slots_of(mask);
        if list.covers(&slot) {
            prop_assert_eq!(list.subtract(&slot).add(&slot), list);
        }
    }

    #[test]
    fn covers_matches_cell_subset(mask in any::<u64>(), slot in interval_in_domain()) {
        let m = mask_of_interval(&slot);
        prop_assert_eq!(slots_of(mask).covers(&slot), mask & m == m);
    }

    #[test]
    fn normalize_matches_cell_union(v in proptest::collection::vec(interval_in_domain(), 0..12)) {
        let expect = slots_of(mask_of(&v));
        let collected: SlotList = v.iter().copied().collect();
        let got = SlotList::normalize(v);
        assert_normalized(got.as_slice());
        prop_assert_eq!(&got, &expect);
        prop_assert_eq!(collected, expect);
    }

    #[test]
    fn from_sorted_accepts_exactly_normalized(v in proptest::collection::vec(interval_in_domain(), 0..6)) {
        let normalized = v.windows(2).all(|p| p[0].end() < p[1].start());
        match SlotList::from_sorted(v.clone()) {
            Ok(list) => {
                prop_assert!(normalized);
                prop_assert_eq!(list.into_vec(), v);
            }
            Err(err) => {
                prop_assert!(!normalized);
                let i = err.index();
                // The reported pair is the first bad one, and the variant names its fault.
                prop_assert!(v[..i].windows(2).all(|p| p[0].end() < p[1].start()));
                let (prev, next) = (v[i - 1], v[i]);
                match err {
                    SlotListError::Unsorted { .. } => prop_assert!(next.start() < prev.start()),
                    SlotListError::Overlaps { .. } => {
                        prop_assert!(prev.start() <= next.start() && next.start() < prev.end())
                    }
                    SlotListError::Touches { .. } => prop_assert!(next.start() == prev.end()),
                }
            }
        }
    }

    #[test]
    fn display_round_trips_through_cells(mask in any::<u64>()) {
        let list = slots_of(mask);
        let parts: Vec<String> = list.iter().map(|iv| format!("[{},{}]", iv.start(), iv.end())).collect();
        prop_assert_eq!(list.to_string(), format!("[{}]", parts.join(",")));
    }
}
