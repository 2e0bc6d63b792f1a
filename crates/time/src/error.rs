//! The crate's error types.
//!
//! Only the constructors that validate caller input can fail: [`Interval::new`] and
//! [`SlotList::from_sorted`]. Everything else in the crate works on values that are
//! already valid, so it is infallible by construction.
//!
//! The errors carry no time values on purpose: they stay non-generic (so callers can box
//! them or put them in their own error enums without naming a time unit), and the caller
//! still holds the input it passed in if it wants to print it.
//!
//! [`Interval::new`]: crate::Interval::new
//! [`SlotList::from_sorted`]: crate::SlotList::from_sorted

use std::error::Error;
use std::fmt;

/// Why two endpoints do not make an [`Interval`](crate::Interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IntervalError {
    /// `start >= end`. An interval must have positive length: a zero-length span would
    /// overlap nothing and could never hold a meeting or a booking, so it is rejected at
    /// the door instead of being carried around as a special case.
    Empty,
}

impl fmt::Display for IntervalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntervalError::Empty => f.write_str("interval is empty: start must be less than end"),
        }
    }
}

impl Error for IntervalError {}

/// Why a vector of intervals is not a normalized [`SlotList`](crate::SlotList).
///
/// `index` always names the *later* of the two offending intervals, so `index >= 1` and
/// the culprit pair is `v[index - 1]`, `v[index]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SlotListError {
    /// `v[index]` starts before `v[index - 1]`: the list is not sorted.
    Unsorted {
        /// Position of the interval that is out of order.
        index: usize,
    },
    /// `v[index]` shares positive-length time with `v[index - 1]`.
    Overlaps {
        /// Position of the interval that overlaps its predecessor.
        index: usize,
    },
    /// `v[index]` starts exactly where `v[index - 1]` ends. The two describe one unbroken
    /// stretch of free time, which a normalized list writes as a single interval; EE450's
    /// input files state the same rule as `t[i]_end < t[i+1]_start`.
    Touches {
        /// Position of the interval that touches its predecessor.
        index: usize,
    },
}

impl SlotListError {
    /// Position of the offending interval (the later one of the bad pair).
    pub fn index(&self) -> usize {
        match *self {
            SlotListError::Unsorted { index }
            | SlotListError::Overlaps { index }
            | SlotListError::Touches { index } => index,
        }
    }
}

impl fmt::Display for SlotListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The variants are public, so a hand-built `index: 0` must not underflow here.
        let prev = self.index().saturating_sub(1);
        match *self {
            SlotListError::Unsorted { index } => write!(
                f,
                "interval {index} starts before interval {prev}: the list is not sorted"
            ),
            SlotListError::Overlaps { index } => {
                write!(f, "interval {index} overlaps interval {prev}")
            }
            SlotListError::Touches { index } => write!(
                f,
                "interval {index} touches interval {prev} (each end must be less than the next start)"
            ),
        }
    }
}

impl Error for SlotListError {}
