//! Pure interval algebra for Convene: time spans, normalized availability lists, and the
//! k-way intersection that answers "when is everyone free?".
//!
//! This crate is the bottom layer. It does no I/O, reads no clock and has no dependencies,
//! so every service that reasons about time (meet, booking, events) shares the same few
//! types and the same edge cases are decided once, here, and tested once.
//!
//! # Layout
//!
//! - `interval.rs`: [`Interval`], one span with positive length, and the overlap rule
//!   ([`Interval::overlaps`], [`Interval::touches`], [`Interval::contains`]).
//! - `slots.rs`: [`SlotList`], the one normalized way to write a set of free time
//!   (sorted, gaps between neighbours), with the operations a scheduler needs:
//!   [`covers`](SlotList::covers) to validate a requested meeting,
//!   [`subtract`](SlotList::subtract) to register it, [`add`](SlotList::add) to undo that.
//! - `intersect.rs`: [`intersect_all`] and [`intersect_all_into`], the k-way intersection
//!   of `k` lists in one simultaneous leapfrog sweep (not a pairwise fold).
//! - `week.rs`: [`WeekTime`], the booking seed's day/hour/minute clock over one repeating
//!   week, with its minutes-since-Monday arithmetic and its `Mon 10:30` format.
//! - `error.rs`: [`IntervalError`] and [`SlotListError`], the only two ways input can be
//!   rejected.
//!
//! # One overlap rule serves both seeds
//!
//! The seeds appear to use two rules:
//!
//! - EE450 (meet) writes closed-looking intervals and is *strict*: `[15,17]` and `[17,18]`
//!   have no common meeting time.
//! - The booking seed thinks *half-open*: `[9,10)` and `[10,11)` can be booked back to back.
//!
//! Both say the same thing: a shared endpoint is an instant, not time, so touching spans
//! never overlap. Written out, `a` and `b` overlap exactly when
//! `max(a.start, b.start) < min(a.end, b.end)`, i.e. when they share a *positive length* of
//! time, whichever way one chooses to draw the brackets. So [`Interval`] is
//! closed-open-agnostic, there is one rule, and the names say which one:
//! [`Interval::overlaps`] and [`intersect_all`] mean positive-length overlap, and
//! [`Interval::touches`] names the endpoint-only case they exclude.
//!
//! The same view explains why a [`SlotList`] *merges* touching intervals even though they
//! do not overlap: a slot list is one set of free time, and `[1,3]` followed by `[3,5]` is
//! free from 1 to 5 without a break. EE450 demands this form of its inputs
//! (`t[i]_end < t[i+1]_start`), and it is what makes the intersection's output come out
//! normalized with no merge pass.
//!
//! ```
//! use convene_time::{Interval, SlotList, intersect_all};
//!
//! // EE450's example: serverA's partial result and serverB's.
//! let a: SlotList = [(1, 3), (12, 18)].into_iter().map(|p| Interval::try_from(p).unwrap()).collect();
//! let b: SlotList = [(2, 5), (17, 20)].into_iter().map(|p| Interval::try_from(p).unwrap()).collect();
//! let common = intersect_all(&[a.as_slice(), b.as_slice()]);
//! assert_eq!(common.to_string(), "[[2,3],[17,18]]");
//!
//! // Registering [17,18] must lie inside one recommended slot, then splits availability.
//! let meeting = Interval::new(17, 18)?;
//! assert!(common.covers(&meeting));
//! assert_eq!(a.subtract(&meeting).to_string(), "[[1,3],[12,17]]");
//! # Ok::<(), convene_time::IntervalError>(())
//! ```

#![deny(missing_docs)]

mod error;
mod intersect;
mod interval;
mod slots;
pub mod week;

pub use error::{IntervalError, SlotListError};
pub use intersect::{intersect_all, intersect_all_into};
pub use interval::Interval;
pub use slots::SlotList;
pub use week::{DAYS_PER_WEEK, MINUTES_PER_DAY, MINUTES_PER_WEEK, WeekTime, WeekTimeError};
