//! Normalized availability lists: one canonical way to write a set of free time.
//!
//! A set of time can be written as intervals in many ways (`[1,3],[3,5]` and `[1,5]` are
//! the same free time). [`SlotList`] keeps exactly one of them, the shortest: sorted,
//! and with a real gap between neighbours. With one spelling per set, equality of lists is
//! equality of free time, lookups can binary-search, and [`intersect_all`] can sweep
//! without ever merging its output. It is also the form EE450 requires of its input files
//! (`t[i]_end < t[i+1]_start`) and prints on screen.
//!
//! Merging touching intervals here does not contradict the no-touching overlap rule: that
//! rule is about two *separate* things (two meetings, two bookings) colliding, while a
//! slot list is one *set* of time, in which `[1,3]` followed by `[3,5]` leaves no gap.

use std::cmp::{max, min};
use std::fmt;

use crate::error::SlotListError;
use crate::intersect::intersect_all;
use crate::interval::Interval;

/// A normalized availability list: sorted, every interval has `start < end`, and
/// consecutive intervals neither overlap nor touch (`end_i < start_{i+1}`).
///
/// The field is private so the invariant holds for every value; build one with
/// [`from_sorted`](Self::from_sorted) (validates), [`normalize`](Self::normalize) or
/// `collect()` (repair any input), or the set operations below.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SlotList<T = u32>(Vec<Interval<T>>);

/// Written by hand so that `T` need not be `Default`: an empty list needs no time value.
impl<T> Default for SlotList<T> {
    fn default() -> Self {
        SlotList(Vec::new())
    }
}

impl<T: Copy + Ord> SlotList<T> {
    /// The empty list: no free time.
    pub fn new() -> Self {
        SlotList(Vec::new())
    }

    /// Accepts `v` if it is already normalized, without reordering anything.
    ///
    /// Use this for input that promises to be normalized (an EE450 input file, a peer's
    /// reply): a violation is reported, with the index of the offending interval, rather
    /// than silently repaired.
    ///
    /// ```
    /// use convene_time::{Interval, SlotList, SlotListError};
    ///
    /// let touching = vec![Interval::new(1, 3)?, Interval::new(3, 5)?];
    /// assert_eq!(SlotList::from_sorted(touching), Err(SlotListError::Touches { index: 1 }));
    /// # Ok::<(), convene_time::IntervalError>(())
    /// ```
    pub fn from_sorted(v: Vec<Interval<T>>) -> Result<Self, SlotListError> {
        for (i, pair) in v.windows(2).enumerate() {
            let (prev, next) = (pair[0], pair[1]);
            let index = i + 1;
            if next.start() < prev.start() {
                return Err(SlotListError::Unsorted { index });
            }
            if next.start() < prev.end() {
                return Err(SlotListError::Overlaps { index });
            }
            if next.start() == prev.end() {
                return Err(SlotListError::Touches { index });
            }
        }
        Ok(SlotList(v))
    }

    /// Wraps a vector the caller has built normalized (crate-internal; debug-checked).
    pub(crate) fn from_normalized_unchecked(v: Vec<Interval<T>>) -> Self {
        debug_assert!(is_normalized(&v), "SlotList invariant violated");
        SlotList(v)
    }

    /// Sorts `v` and merges intervals that overlap or touch, giving the one normalized
    /// list for the same free time. Reuses `v`'s allocation.
    ///
    /// ```
    /// use convene_time::{Interval, SlotList};
    ///
    /// let v = vec![Interval::new(3, 5)?, Interval::new(1, 3)?, Interval::new(8, 9)?];
    /// assert_eq!(SlotList::normalize(v).to_string(), "[[1,5],[8,9]]");
    /// # Ok::<(), convene_time::IntervalError>(())
    /// ```
    pub fn normalize(mut v: Vec<Interval<T>>) -> Self {
        v.sort_unstable();
        // Sorted by start, each interval either fuses into the last kept one (it starts at
        // or before that one's end) or opens a new one after a real gap.
        v.dedup_by(|next, last| {
            let fuses = next.start() <= last.end();
            if fuses {
                *last = Interval::new_unchecked(last.start(), max(last.end(), next.end()));
            }
            fuses
        });
        SlotList(v)
    }

    /// The intervals, in order.
    pub fn as_slice(&self) -> &[Interval<T>] {
        &self.0
    }

    /// Number of intervals (not the amount of time).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no free time at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over the intervals in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Interval<T>> {
        self.0.iter()
    }

    /// Gives back the vector, still normalized.
    pub fn into_vec(self) -> Vec<Interval<T>> {
        self.0
    }

    /// Whether `slot` lies entirely inside *one* interval of the list.
    ///
    /// This is EE450's meeting-registration check: with recommendations `[[1,3],[8,10]]`,
    /// `[1,2]`, `[2,3]` and `[1,3]` are valid and `[2,4]` is not. Because neighbours never
    /// touch, "inside one interval" is the same as "all of its time is free". O(log n).
    pub fn covers(&self, slot: &Interval<T>) -> bool {
        // The only candidate is the last interval starting at or before the slot.
        let after = self.0.partition_point(|iv| iv.start() <= slot.start());
        after
            .checked_sub(1)
            .is_some_and(|i| self.0[i].contains(slot))
    }

    /// The list with `slot`'s time removed, splitting an interval when `slot` falls inside
    /// it; zero-length leftovers are dropped. Registering a meeting does exactly this to
    /// each attendee's availability.
    ///
    /// ```
    /// use convene_time::{Interval, SlotList};
    ///
    /// let alice: SlotList = [(1, 3), (10, 24)].into_iter()
    ///     .map(|p| Interval::try_from(p).unwrap()).collect();
    /// let meeting = Interval::new(17, 18)?;
    /// assert_eq!(alice.subtract(&meeting).to_string(), "[[1,3],[10,17],[18,24]]");
    /// # Ok::<(), convene_time::IntervalError>(())
    /// ```
    pub fn subtract(&self, slot: &Interval<T>) -> SlotList<T> {
        // Intervals first..last share positive-length time with the slot.
        let first = self.0.partition_point(|iv| iv.end() <= slot.start());
        let last = self.0.partition_point(|iv| iv.start() < slot.end());
        if first >= last {
            return self.clone();
        }
        let mut out = Vec::with_capacity(self.0.len() + 1);
        out.extend_from_slice(&self.0[..first]);
        let head = self.0[first];
        if head.start() < slot.start() {
            out.push(Interval::new_unchecked(head.start(), slot.start()));
        }
        let tail = self.0[last - 1];
        if slot.end() < tail.end() {
            out.push(Interval::new_unchecked(slot.end(), tail.end()));
        }
        out.extend_from_slice(&self.0[last..]);
        SlotList::from_normalized_unchecked(out)
    }

    /// The union with `slot`, merging every neighbour it overlaps or touches. Undoes
    /// [`subtract`](Self::subtract) when `slot` was free before, e.g. when a meeting is
    /// cancelled.
    pub fn add(&self, slot: &Interval<T>) -> SlotList<T> {
        // Intervals first..last overlap or touch the slot and fuse with it.
        let first = self.0.partition_point(|iv| iv.end() < slot.start());
        let last = self.0.partition_point(|iv| iv.start() <= slot.end());
        let merged = if first < last {
            Interval::new_unchecked(
                min(slot.start(), self.0[first].start()),
                max(slot.end(), self.0[last - 1].end()),
            )
        } else {
            *slot
        };
        let mut out = Vec::with_capacity(self.0.len() + 1);
        out.extend_from_slice(&self.0[..first]);
        out.push(merged);
        out.extend_from_slice(&self.0[last..]);
        SlotList::from_normalized_unchecked(out)
    }

    /// The time free in both lists (positive-length overlap only). A convenience for
    /// the two-list case; see [`intersect_all`] for `k` lists in one pass.
    pub fn intersect(&self, other: &SlotList<T>) -> SlotList<T> {
        intersect_all(&[self.as_slice(), other.as_slice()])
    }
}

/// Whether `v` satisfies the [`SlotList`] invariant. Intervals are non-empty by
/// construction, so only neighbours need checking.
pub(crate) fn is_normalized<T: Copy + Ord>(v: &[Interval<T>]) -> bool {
    v.windows(2).all(|pair| pair[0].end() < pair[1].start())
}

/// Prints EE450's form: `[[2,3],[17,18]]`, no spaces; the empty list is `[]`.
impl<T: fmt::Display> fmt::Display for SlotList<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, iv) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{iv}")?;
        }
        f.write_str("]")
    }
}

impl<T> AsRef<[Interval<T>]> for SlotList<T> {
    fn as_ref(&self) -> &[Interval<T>] {
        &self.0
    }
}

/// Collecting normalizes: any intervals in any order become one valid list.
impl<T: Copy + Ord> FromIterator<Interval<T>> for SlotList<T> {
    fn from_iter<I: IntoIterator<Item = Interval<T>>>(iter: I) -> Self {
        SlotList::normalize(iter.into_iter().collect())
    }
}

/// A single interval is trivially a normalized list.
impl<T> From<Interval<T>> for SlotList<T> {
    fn from(iv: Interval<T>) -> Self {
        SlotList(vec![iv])
    }
}

/// Validates like [`SlotList::from_sorted`].
impl<T: Copy + Ord> TryFrom<Vec<Interval<T>>> for SlotList<T> {
    type Error = SlotListError;

    fn try_from(v: Vec<Interval<T>>) -> Result<Self, SlotListError> {
        SlotList::from_sorted(v)
    }
}

impl<T> From<SlotList<T>> for Vec<Interval<T>> {
    fn from(list: SlotList<T>) -> Self {
        list.0
    }
}

impl<T> IntoIterator for SlotList<T> {
    type Item = Interval<T>;
    type IntoIter = std::vec::IntoIter<Interval<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a SlotList<T> {
    type Item = &'a Interval<T>;
    type IntoIter = std::slice::Iter<'a, Interval<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: u32, end: u32) -> Interval {
        Interval::new(start, end).unwrap()
    }

    fn list(pairs: &[(u32, u32)]) -> SlotList {
        SlotList::from_sorted(pairs.iter().map(|&(s, e)| iv(s, e)).collect()).unwrap()
    }

    #[test]
    fn from_sorted_names_the_offender() {
        let v = |pairs: &[(u32, u32)]| pairs.iter().map(|&(s, e)| iv(s, e)).collect::<Vec<_>>();
        assert_eq!(
            SlotList::from_sorted(v(&[(1, 3), (5, 6), (4, 9)])),
            Err(SlotListError::Unsorted { index: 2 })
        );
        assert_eq!(
            SlotList::from_sorted(v(&[(1, 3), (2, 6)])),
            Err(SlotListError::Overlaps { index: 1 })
        );
        assert_eq!(
            SlotList::from_sorted(v(&[(1, 3), (1, 6)])),
            Err(SlotListError::Overlaps { index: 1 })
        );
        assert_eq!(
            SlotList::from_sorted(v(&[(0, 1), (1, 3), (3, 6)])),
            Err(SlotListError::Touches { index: 1 })
        );
        assert!(SlotList::from_sorted(v(&[])).is_ok());
        assert!(SlotList::from_sorted(v(&[(1, 3), (4, 6)])).is_ok());
    }

    #[test]
    fn error_messages() {
        assert_eq!(
            SlotListError::Touches { index: 1 }.to_string(),
            "interval 1 touches interval 0 (each end must be less than the next start)"
        );
        assert_eq!(
            SlotListError::Unsorted { index: 2 }.to_string(),
            "interval 2 starts before interval 1: the list is not sorted"
        );
        assert_eq!(SlotListError::Overlaps { index: 0 }.index(), 0);
    }

    #[test]
    fn normalize_merges_overlapping_and_touching() {
        let v = vec![
            iv(10, 12),
            iv(1, 3),
            iv(3, 5),
            iv(4, 6),
            iv(11, 20),
            iv(30, 31),
        ];
        assert_eq!(SlotList::normalize(v), list(&[(1, 6), (10, 20), (30, 31)]));
        assert!(SlotList::<u32>::normalize(Vec::new()).is_empty());
    }

    #[test]
    fn covers_ee450_registration_examples() {
        let rec = list(&[(1, 3), (8, 10)]);
        assert!(rec.covers(&iv(1, 2)));
        assert!(rec.covers(&iv(2, 3)));
        assert!(rec.covers(&iv(1, 3)));
        assert!(rec.covers(&iv(8, 10)));
        assert!(!rec.covers(&iv(2, 4)));
        assert!(!rec.covers(&iv(0, 1)));
        assert!(!rec.covers(&iv(3, 8)));
        assert!(!rec.covers(&iv(1, 10)));
        assert!(!SlotList::new().covers(&iv(1, 2)));
    }

    #[test]
    fn subtract_ee450_registration_examples() {
        let alice = list(&[(1, 3), (10, 24)]);
        assert_eq!(
            alice.subtract(&iv(17, 18)),
            list(&[(1, 3), (10, 17), (18, 24)])
        );
        let eliana = list(&[(1, 5), (12, 18)]);
        assert_eq!(eliana.subtract(&iv(17, 18)), list(&[(1, 5), (12, 17)]));
        let only = list(&[(12, 18)]);
        assert_eq!(only.subtract(&iv(17, 18)), list(&[(12, 17)]));
    }

    #[test]
    fn subtract_edge_cases() {
        let l = list(&[(1, 3), (5, 8), (10, 12)]);
        assert_eq!(
            l.subtract(&iv(3, 5)),
            l,
            "slot in a gap, touching both sides"
        );
        assert_eq!(l.subtract(&iv(5, 8)), list(&[(1, 3), (10, 12)]));
        assert_eq!(l.subtract(&iv(2, 11)), list(&[(1, 2), (11, 12)]));
        assert_eq!(l.subtract(&iv(0, 100)), SlotList::new());
    }

    #[test]
    fn add_undoes_subtract() {
        let alice = list(&[(1, 3), (10, 24)]);
        let meeting = iv(17, 18);
        assert_eq!(alice.subtract(&meeting).add(&meeting), alice);
        let eliana = list(&[(1, 5), (12, 18)]);
        assert_eq!(eliana.subtract(&meeting).add(&meeting), eliana);
    }

    #[test]
    fn add_merges_touching_neighbours() {
        let l = list(&[(1, 3), (5, 8), (10, 12)]);
        assert_eq!(l.add(&iv(3, 5)), list(&[(1, 8), (10, 12)]));
        assert_eq!(l.add(&iv(8, 9)), list(&[(1, 3), (5, 9), (10, 12)]));
        assert_eq!(
            l.add(&iv(20, 21)),
            list(&[(1, 3), (5, 8), (10, 12), (20, 21)])
        );
        assert_eq!(l.add(&iv(0, 30)), list(&[(0, 30)]));
        assert_eq!(SlotList::new().add(&iv(4, 5)), list(&[(4, 5)]));
    }

    #[test]
    fn intersect_two() {
        let a = list(&[(1, 3), (12, 18)]);
        let b = list(&[(2, 5), (17, 20)]);
        assert_eq!(a.intersect(&b), list(&[(2, 3), (17, 18)]));
    }

    #[test]
    fn display() {
        assert_eq!(list(&[(2, 3), (17, 18)]).to_string(), "[[2,3],[17,18]]");
        assert_eq!(list(&[(2, 3)]).to_string(), "[[2,3]]");
        assert_eq!(SlotList::<u32>::new().to_string(), "[]");
    }

    #[test]
    fn collect_and_iterate() {
        let l: SlotList = vec![iv(5, 6), iv(1, 2), iv(2, 3)].into_iter().collect();
        assert_eq!(l, list(&[(1, 3), (5, 6)]));
        let back: Vec<Interval> = l.clone().into_iter().collect();
        assert_eq!(back, l.as_slice());
        assert_eq!((&l).into_iter().count(), 2);
        assert_eq!(SlotList::from(iv(1, 2)).len(), 1);
    }
}
