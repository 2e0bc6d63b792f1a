//! One span of time with positive length, and the overlap rule every service shares.
//!
//! An [`Interval`] does not say whether its endpoints are "closed" or "open". EE450 writes
//! `[15,17]`, the booking seed means `[9,10)`, but both treat a shared endpoint as an
//! instant with no duration, so the only question that ever matters is whether two spans
//! share a *positive length* of time. See the crate docs for the full argument.

use std::cmp::{max, min};
use std::fmt;

use crate::error::IntervalError;

/// A closed-open-agnostic time span with positive length: `start < end`.
///
/// Generic over the time unit `T`: EE450's hours (`u32`, the default), minutes since Monday
/// 00:00 for the booking seed's week time, or any ordered timestamp type.
///
/// The fields are private so that `start < end` holds for every value that exists; code
/// that receives an `Interval` never has to re-check it. Ordering is by `start`, then `end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interval<T = u32> {
    start: T,
    end: T,
}

impl<T: Copy + Ord> Interval<T> {
    /// Builds `[start, end]`, refusing empty or reversed spans.
    ///
    /// ```
    /// use convene_time::{Interval, IntervalError};
    ///
    /// assert!(Interval::new(15, 17).is_ok());
    /// assert_eq!(Interval::new(17, 17), Err(IntervalError::Empty));
    /// ```
    pub fn new(start: T, end: T) -> Result<Self, IntervalError> {
        if start < end {
            Ok(Interval { start, end })
        } else {
            Err(IntervalError::Empty)
        }
    }

    /// Builds an interval the caller has already proven non-empty.
    ///
    /// Crate-internal: the algorithms here derive their outputs from valid inputs, so the
    /// check is a debug assertion rather than a `Result` the hot loop would have to unwrap.
    #[inline]
    pub(crate) fn new_unchecked(start: T, end: T) -> Self {
        debug_assert!(
            start < end,
            "Interval::new_unchecked called with start >= end"
        );
        Interval { start, end }
    }

    /// The first instant of the span.
    #[inline]
    pub fn start(&self) -> T {
        self.start
    }

    /// The instant the span ends.
    #[inline]
    pub fn end(&self) -> T {
        self.end
    }

    /// Whether the two spans share a positive length of time.
    ///
    /// Touching is not overlapping: EE450's `[15,17]` and `[17,18]` have no common meeting
    /// time, and the booking seed lets `[9,10)` and `[10,11)` be booked back to back. Both
    /// rules are this one comparison: `max(starts) < min(ends)`.
    ///
    /// ```
    /// use convene_time::Interval;
    ///
    /// let a = Interval::new(15, 17).unwrap();
    /// assert!(!a.overlaps(&Interval::new(17, 18).unwrap()));
    /// assert!(a.overlaps(&Interval::new(16, 18).unwrap()));
    /// ```
    #[inline]
    pub fn overlaps(&self, other: &Self) -> bool {
        max(self.start, other.start) < min(self.end, other.end)
    }

    /// Whether the two spans meet at exactly one endpoint and share no time.
    ///
    /// This is the case [`overlaps`](Self::overlaps) deliberately says `false` to. Inside
    /// one availability list, touching intervals are still one unbroken stretch of free
    /// time, which is why [`SlotList`](crate::SlotList) merges them.
    #[inline]
    pub fn touches(&self, other: &Self) -> bool {
        self.end == other.start || other.end == self.start
    }

    /// Whether `other` lies inside `self`. Endpoints may coincide, so every interval
    /// contains itself; this is EE450's "the meeting must lie inside one recommended slot".
    #[inline]
    pub fn contains(&self, other: &Self) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// The time both spans share, if it has positive length (see
    /// [`overlaps`](Self::overlaps)).
    #[inline]
    pub fn intersection(&self, other: &Self) -> Option<Self> {
        Interval::new(max(self.start, other.start), min(self.end, other.end)).ok()
    }
}

impl<T: Copy + Ord> TryFrom<(T, T)> for Interval<T> {
    type Error = IntervalError;

    /// `(start, end)` as a pair, validated like [`Interval::new`].
    fn try_from((start, end): (T, T)) -> Result<Self, IntervalError> {
        Interval::new(start, end)
    }
}

/// Prints EE450's wire and screen form, `[15,17]`, with no spaces.
impl<T: fmt::Display> fmt::Display for Interval<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{},{}]", self.start, self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(start: u32, end: u32) -> Interval {
        Interval::new(start, end).unwrap()
    }

    #[test]
    fn new_rejects_empty_and_reversed() {
        assert_eq!(Interval::new(3, 3), Err(IntervalError::Empty));
        assert_eq!(Interval::new(4, 3), Err(IntervalError::Empty));
        assert_eq!(Interval::try_from((4, 3)), Err(IntervalError::Empty));
        assert_eq!(Interval::try_from((3, 4)), Ok(iv(3, 4)));
    }

    #[test]
    fn touching_is_not_overlapping() {
        // EE450's strict rule.
        assert!(!iv(15, 17).overlaps(&iv(17, 18)));
        assert!(!iv(17, 18).overlaps(&iv(15, 17)));
        assert!(iv(15, 17).touches(&iv(17, 18)));
        // Booking's half-open rule: back to back is fine.
        assert!(!iv(9, 10).overlaps(&iv(10, 11)));
        assert_eq!(iv(15, 17).intersection(&iv(17, 18)), None);
    }

    #[test]
    fn overlap_and_intersection() {
        assert!(iv(1, 3).overlaps(&iv(2, 5)));
        assert!(iv(1, 10).overlaps(&iv(4, 5)));
        assert!(!iv(1, 10).touches(&iv(4, 5)));
        assert_eq!(iv(1, 3).intersection(&iv(2, 5)), Some(iv(2, 3)));
        assert!(!iv(1, 2).overlaps(&iv(5, 6)));
    }

    #[test]
    fn contains_allows_shared_endpoints() {
        let rec = iv(1, 3);
        assert!(rec.contains(&iv(1, 2)));
        assert!(rec.contains(&iv(2, 3)));
        assert!(rec.contains(&iv(1, 3)));
        assert!(!rec.contains(&iv(2, 4)));
        assert!(!rec.contains(&iv(0, 2)));
    }

    #[test]
    fn display_has_no_spaces() {
        assert_eq!(iv(15, 17).to_string(), "[15,17]");
        assert_eq!(Interval::new(-2i64, 0).unwrap().to_string(), "[-2,0]");
    }

    #[test]
    fn ordering_is_start_then_end() {
        assert!(iv(1, 5) < iv(2, 3));
        assert!(iv(1, 3) < iv(1, 5));
    }
}
