//! k-way intersection of normalized lists in one simultaneous sweep.
//!
//! # Why not a pairwise fold
//!
//! Folding `a ∩ b ∩ c ∩ …` two lists at a time walks the early lists once per fold step and
//! allocates an intermediate list each time. Worse, it cannot skip: if the last list is
//! nearly empty, the fold still merges every interval of the first lists before it learns
//! that nothing survives. The leapfrog sweep below looks at all `k` lists together and lets
//! the sparsest list drive the others forward.
//!
//! # The leapfrog sweep
//!
//! Keep one cursor per list and a candidate instant `lo`, with the invariant that no
//! common free time exists before `lo`. Visit the lists round-robin. At each list:
//!
//! 1. skip every interval that ends at or before `lo` (it holds no time from `lo` on);
//!    if the list runs out, nothing more is common and the sweep stops;
//! 2. if the current interval starts after `lo`, this list is busy in between, so raise
//!    `lo` to that start (the invariant holds) and carry the raised `lo` on to the next
//!    list in the same round.
//!
//! At the end of a round every current interval starts at or before `lo`. If every one
//! also ends after `lo` (the smallest current end, `min_end`, is above `lo`), all `k`
//! lists agree: everyone is free on `[lo, min_end]`, so emit it and continue from
//! `lo = min_end`. Otherwise some list was overtaken by a raise later in the round and
//! the next round moves it on.
//!
//! Checking agreement once per round (`lo < min_end`) rather than counting agreeing visits
//! one by one keeps the inner loop to two comparisons and a `max`/`min` per list, with no
//! data-dependent branch besides the skip; it measured faster on every data shape tried.
//!
//! Every round moves at least one cursor (the one holding `min_end` is skipped next
//! round, whether or not the round emitted), and cursors only move forward, so the sweep
//! is linear in the input. Step 1 gallops (doubling probes, then a binary search), so a
//! list that must jump far ahead to catch up with `lo` pays a logarithm rather than a
//! walk, making sparse results sublinear in the dense lists.
//!
//! Every emitted piece ends at the end of some input interval, and that list's next
//! interval starts strictly later (inputs never touch), so the output never touches
//! either: it is already normalized, with no merge pass.

use std::cmp::{max, min};

use crate::interval::Interval;
use crate::slots::{SlotList, is_normalized};

/// Intervals probed one by one before galloping. Small skips (the common case in dense
/// data) stay a couple of predictable comparisons.
const LINEAR_PROBES: usize = 4;

/// Lists handled without allocating cursor storage. Meet queries name at most 10 users,
/// so the common case never touches the heap.
const STACK_CURSORS: usize = 16;

/// Intersects `k` normalized lists in one simultaneous pass: the time every list has free.
///
/// Uses the positive-length rule: lists that only touch (`[15,17]` against `[17,18]`)
/// share nothing. With no lists the result is empty (there is nobody to be free), and with
/// one list it is that list.
///
/// # Precondition
///
/// Each slice must be the slice of a normalized [`SlotList`]: sorted, every interval
/// non-empty, and consecutive intervals neither overlapping nor touching. Passing
/// [`SlotList::as_slice`] always satisfies it. Debug builds assert it. Release builds
/// skip the O(n) check: on bad input they still terminate and never misbehave in memory,
/// but the result is unspecified (it may be wrong, or not normalized).
///
/// ```
/// use convene_time::{Interval, SlotList, intersect_all};
///
/// let a = SlotList::normalize(vec![Interval::new(1, 3)?, Interval::new(12, 18)?]);
/// let b = SlotList::normalize(vec![Interval::new(2, 5)?, Interval::new(17, 20)?]);
/// let common = intersect_all(&[a.as_slice(), b.as_slice()]);
/// assert_eq!(common.to_string(), "[[2,3],[17,18]]");
/// # Ok::<(), convene_time::IntervalError>(())
/// ```
pub fn intersect_all<T: Copy + Ord>(lists: &[&[Interval<T>]]) -> SlotList<T> {
    let mut out = Vec::new();
    intersect_all_into(lists, &mut out);
    SlotList::from_normalized_unchecked(out)
}

/// [`intersect_all`] writing into a caller-owned buffer, so a server answering many
/// queries reuses one allocation. `out` is cleared first; on return it holds the
/// normalized intersection.
///
/// Same precondition as [`intersect_all`].
pub fn intersect_all_into<T: Copy + Ord>(lists: &[&[Interval<T>]], out: &mut Vec<Interval<T>>) {
    out.clear();
    debug_assert!(
        lists.iter().all(|list| is_normalized(list)),
        "intersect_all: every input must be a normalized SlotList slice"
    );

    match lists {
        [] => return,
        [only] => {
            out.extend_from_slice(only);
            return;
        }
        _ => {}
    }

    // Any empty list empties the result; otherwise nothing is common before the latest
    // first start, which is a better opening `lo` than the first list's.
    let mut lo: Option<T> = None;
    for list in lists {
        let Some(first) = list.first() else {
            return;
        };
        lo = max(lo, Some(first.start()));
    }
    let Some(mut lo) = lo else {
        return;
    };

    // Each cursor is the unread tail of its list: "advance" is re-slicing and "current"
    // is `first()`, with no index arithmetic. Up to `STACK_CURSORS` lists they live on the
    // stack, so a caller reusing `out` makes the whole query allocation-free.
    let mut on_stack: [&[Interval<T>]; STACK_CURSORS] = [&[]; STACK_CURSORS];
    let mut on_heap: Vec<&[Interval<T>]>;
    let cursors: &mut [&[Interval<T>]] = if lists.len() <= STACK_CURSORS {
        let cursors = &mut on_stack[..lists.len()];
        cursors.copy_from_slice(lists);
        cursors
    } else {
        on_heap = lists.to_vec();
        &mut on_heap
    };

    // The first list seeds each round's `min_end`, so no sentinel "infinite" time is needed.
    let (lead, others) = cursors.split_first_mut().expect("at least two lists here");

    loop {
        // One round: bring every cursor up to `lo`, raising `lo` past any list that is
        // busy at `lo`, and note the smallest current end.
        let Some(current) = advance(lead, lo) else {
            return;
        };
        lo = max(lo, current.start());
        let mut min_end = current.end();
        for cursor in others.iter_mut() {
            let Some(current) = advance(cursor, lo) else {
                return;
            };
            lo = max(lo, current.start());
            min_end = min(min_end, current.end());
        }
        if lo < min_end {
            out.push(Interval::new_unchecked(lo, min_end));
            lo = min_end;
        }
    }
}

/// Drops the intervals at the front of `cursor` that end at or before `lo`, and returns
/// the new current interval, or `None` if the list is used up.
#[inline(always)]
fn advance<T: Copy + Ord>(cursor: &mut &[Interval<T>], lo: T) -> Option<Interval<T>> {
    let first = *cursor.first()?;
    if first.end() > lo {
        return Some(first);
    }
    let skip = skip_ended(cursor, lo);
    *cursor = &cursor[skip..];
    cursor.first().copied()
}

/// How many leading intervals of `list` end at or before `lo`.
///
/// Ends in a normalized list strictly increase, so this is a partition point. A few linear
/// probes catch the usual small step; beyond that, probes at doubling offsets bracket the
/// answer and a binary search finishes inside the bracket (exponential search), costing
/// O(log distance) instead of O(distance).
#[inline]
fn skip_ended<T: Copy + Ord>(list: &[Interval<T>], lo: T) -> usize {
    for (i, iv) in list.iter().take(LINEAR_PROBES).enumerate() {
        if iv.end() > lo {
            return i;
        }
    }
    if list.len() <= LINEAR_PROBES {
        return list.len();
    }
    // Invariant: every interval before `done` ends at or before `lo`.
    let mut done = LINEAR_PROBES;
    let mut probe = 2 * LINEAR_PROBES;
    while let Some(iv) = list.get(probe) {
        if iv.end() > lo {
            break;
        }
        done = probe + 1;
        probe *= 2;
    }
    let bracket_end = min(probe, list.len());
    done + list[done..bracket_end].partition_point(|iv| iv.end() <= lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(pairs: &[(u32, u32)]) -> SlotList {
        let v = pairs
            .iter()
            .map(|&(s, e)| Interval::new(s, e).unwrap())
            .collect();
        SlotList::from_sorted(v).unwrap()
    }

    #[test]
    fn ee450_example() {
        let a = list(&[(1, 3), (12, 18)]);
        let b = list(&[(2, 5), (17, 20)]);
        assert_eq!(
            intersect_all(&[a.as_slice(), b.as_slice()]),
            list(&[(2, 3), (17, 18)])
        );
    }

    #[test]
    fn touching_lists_share_nothing() {
        let a = list(&[(15, 17)]);
        let b = list(&[(17, 18)]);
        assert!(intersect_all(&[a.as_slice(), b.as_slice()]).is_empty());
    }

    #[test]
    fn one_list_is_itself_and_none_is_empty() {
        let a = list(&[(1, 3), (12, 18)]);
        assert_eq!(intersect_all(&[a.as_slice()]), a);
        assert!(intersect_all::<u32>(&[]).is_empty());
    }

    #[test]
    fn an_empty_list_empties_the_result() {
        let a = list(&[(1, 3)]);
        let none = SlotList::new();
        assert!(intersect_all(&[a.as_slice(), none.as_slice(), a.as_slice()]).is_empty());
    }

    #[test]
    fn three_lists() {
        let a = list(&[(0, 10), (20, 30)]);
        let b = list(&[(5, 25)]);
        let c = list(&[(1, 6), (8, 22), (24, 40)]);
        assert_eq!(
            intersect_all(&[a.as_slice(), b.as_slice(), c.as_slice()]),
            list(&[(5, 6), (8, 10), (20, 22), (24, 25)])
        );
    }

    #[test]
    fn into_reuses_and_clears_buffer() {
        let a = list(&[(1, 3), (12, 18)]);
        let b = list(&[(2, 5), (17, 20)]);
        let mut out = vec![Interval::new(90, 99).unwrap()];
        intersect_all_into(&[a.as_slice(), b.as_slice()], &mut out);
        assert_eq!(out, list(&[(2, 3), (17, 18)]).into_vec());
    }

    #[test]
    fn skip_ended_gallops_to_the_partition_point() {
        let v: Vec<Interval> = (0..1000)
            .map(|i| Interval::new(3 * i, 3 * i + 2).unwrap())
            .collect();
        for lo in 0..3000 {
            let expect = v.iter().take_while(|iv| iv.end() <= lo).count();
            assert_eq!(skip_ended(&v, lo), expect, "lo = {lo}");
        }
    }

    #[test]
    fn sparse_list_drives_dense_ones() {
        let dense: Vec<Interval> = (0..10_000)
            .map(|i| Interval::new(2 * i, 2 * i + 1).unwrap())
            .collect();
        let dense = SlotList::from_sorted(dense).unwrap();
        let sparse = list(&[(5000, 5003), (19_990, 30_000)]);
        assert_eq!(
            intersect_all(&[dense.as_slice(), sparse.as_slice(), dense.as_slice()]),
            list(&[
                (5000, 5001),
                (5002, 5003),
                (19_990, 19_991),
                (19_992, 19_993),
                (19_994, 19_995),
                (19_996, 19_997),
                (19_998, 19_999)
            ])
        );
    }
}
