//! One node's facilities and their bookings, with the seed's rules.
//!
//! # How bookings are held
//!
//! The seed keeps one list of bookings per facility and scans all of it, cancelled
//! ones included, for every overlap check and every day of every query. Here
//! the bookings held live in one slab (a vector whose freed places are reused),
//! and each facility additionally keeps a [`BTreeMap`] from start to end of its
//! *live* (not cancelled) bookings only.
//!
//! A node holds the live bookings of the facilities it owns *now*: ownership
//! moves between nodes ([`Facilities::adopt`], [`Facilities::release`]), and a
//! cancelled booking is kept by the database, not here: the owner fetches it
//! back for the one request that names it and [`forgets`](Facilities::forget)
//! it after. So memory is bounded by live state, not by history.
//!
//! Live bookings on one facility never overlap; that is the invariant every
//! operation preserves. Sorted by start, their ends are therefore sorted too, so
//! among the live bookings that start before some instant `t`, the last one
//! reaches furthest. Two consequences make every operation O(log n + k):
//!
//! - **Overlap check** for `[s, e)`: only the last live booking starting before
//!   `e` can reach past `s` (skipping the booking being moved, if any). Whether
//!   it does is [`Interval::overlaps`], the rule every service shares: a
//!   positive length in common, so back to back is not overlapping.
//! - **Free time on a day** `[lo, hi)`: the last booking starting before `lo`
//!   may spill into the day; after it, only bookings starting inside the day
//!   matter, visited in order.

use std::collections::{BTreeMap, HashMap};

use convene_time::{DAYS_PER_WEEK, Interval, IntervalError, MINUTES_PER_DAY, MINUTES_PER_WEEK};

use super::error::{BookingError, RestoreError};
use super::ids::IdScheme;
use super::{DayAvailability, Minute};

/// One booking, as stored (the node persists these and restores them).
///
/// A cancelled booking is kept, as in the seed, so that a second cancel can be
/// told apart from an unknown id (code 7 rather than 3); it no longer blocks
/// anyone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    /// The confirmation id, e.g. `CONF1-3f9a0c27e4b5d861` (see [`IdScheme`]).
    pub id: String,
    /// The facility's name.
    pub facility: String,
    /// The first minute booked.
    pub start: Minute,
    /// The minute the booking ends (exclusive); moved by change and extend.
    pub end: Minute,
    /// The end that extend counts from: set by book and by change, never by
    /// extend. Extending by `m` always means "end at `original_end + m`", which
    /// is what makes a repeated extend harmless (idempotent).
    pub original_end: Minute,
    /// Whether the booking was cancelled.
    pub cancelled: bool,
}

impl Booking {
    /// The span booked, `[start, end)`. An error only for a booking built
    /// by hand with `start >= end`: every booking [`Facilities`] hands out
    /// or restores has a span.
    pub fn span(&self) -> Result<Interval<Minute>, IntervalError> {
        Interval::new(self.start, self.end)
    }
}

/// What [`Facilities::extend`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extended {
    /// The booking after the call.
    pub booking: Booking,
    /// Whether its end moved. `false` when the booking already ended at the
    /// requested time (typically a repeated extend); the seed then answers
    /// success but sends no monitor callbacks, since availability is unchanged.
    pub changed: bool,
}

/// A live booking inside a facility's index: its span and which record it is.
#[derive(Clone, Copy, Debug)]
struct Held {
    span: Interval<Minute>,
    record: usize,
}

/// A live booking's entry in a facility's index, keyed by its start.
type Index = BTreeMap<Minute, Held>;

/// A booking and the facility it belongs to (by position, to skip a name lookup).
#[derive(Clone, Debug)]
struct Record {
    booking: Booking,
    facility: usize,
}

/// The facilities one node owns, and every booking made on them.
///
/// This is the seed's services 1–3 (query, book, change) and its two extra
/// operations: extend (idempotent) and cancel (non-idempotent). Checks run in
/// the seed's order and fail with its codes and messages (see [`BookingError`]),
/// so a client cannot tell this apart from the original server, except that a
/// free day is listed once, not twice (the seed's bug).
#[derive(Clone, Debug)]
pub struct Facilities {
    ids: IdScheme,
    /// Where the random part of a new id comes from.
    draw: fn() -> u64,
    /// Every facility ever held, by position; `owned` says which are held now.
    names: Vec<String>,
    by_name: HashMap<String, usize>,
    owned: Vec<bool>,
    /// Per facility (same positions as `names`): live bookings by start.
    live: Vec<Index>,
    /// The bookings held, at stable positions; `None` is a free place.
    records: Vec<Option<Record>>,
    /// Free places in `records`, reused first.
    free: Vec<usize>,
    by_id: HashMap<String, usize>,
}

/// Draws of a random id before giving up. Two equal draws from 64 OS-random
/// bits do not happen; this only stops a broken random source from looping.
const ID_ATTEMPTS: usize = 16;

impl Facilities {
    /// Facilities with the given names and no bookings; ids from `ids`, with
    /// their random part from the operating system
    /// ([`convene_rpc::os_random_u64`]).
    ///
    /// Names are matched exactly and case-sensitively, as in the seed. A name
    /// given twice is one facility.
    pub fn new(names: impl IntoIterator<Item = String>, ids: IdScheme) -> Self {
        let mut by_name = HashMap::new();
        let mut list = Vec::new();
        for name in names {
            if !by_name.contains_key(&name) {
                by_name.insert(name.clone(), list.len());
                list.push(name);
            }
        }
        Self {
            ids,
            draw: convene_rpc::os_random_u64,
            live: vec![Index::new(); list.len()],
            owned: vec![true; list.len()],
            names: list,
            by_name,
            records: Vec::new(),
            free: Vec::new(),
            by_id: HashMap::new(),
        }
    }

    /// The same facilities drawing the random part of ids from `draw`
    /// instead (tests; a real node keeps the OS's).
    pub fn with_random(self, draw: fn() -> u64) -> Self {
        Self { draw, ..self }
    }

    /// The facilities held now, in the order first given.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names
            .iter()
            .zip(&self.owned)
            .filter(|(_, owned)| **owned)
            .map(|(name, _)| name.as_str())
    }

    /// Whether this node owns a facility called exactly `name`.
    pub fn has(&self, name: &str) -> bool {
        self.by_name.get(name).is_some_and(|&f| self.owned[f])
    }

    /// Takes on the facility `name` with `bookings` (its live bookings, as
    /// the database holds them), replacing whatever was held for it. The
    /// set is checked first and refused whole, as by [`restore`](Self::restore).
    pub fn adopt(&mut self, name: &str, bookings: Vec<Booking>) -> Result<(), RestoreError> {
        // Checked on their own first: ranges, repeated ids, overlaps.
        Facilities::new([name.to_string()], self.ids).restore(bookings.clone())?;
        if let Some(b) = bookings.iter().find(|b| {
            self.by_id
                .get(&b.id)
                .is_some_and(|&r| self.record(r).booking.facility != name)
        }) {
            return Err(RestoreError::DuplicateId { id: b.id.clone() });
        }
        self.release(name);
        let f = match self.by_name.get(name) {
            Some(&f) => f,
            None => {
                self.names.push(name.to_string());
                self.by_name.insert(name.to_string(), self.names.len() - 1);
                self.owned.push(false);
                self.live.push(Index::new());
                self.names.len() - 1
            }
        };
        self.owned[f] = true;
        for booking in bookings {
            let (start, live) = (booking.start, !booking.cancelled);
            let span = booking.span();
            let record = self.insert_record(Record {
                booking,
                facility: f,
            });
            if let (true, Ok(span)) = (live, span) {
                self.live[f].insert(start, Held { span, record });
            }
        }
        Ok(())
    }

    /// Lets go of the facility `name` and every booking held for it (its
    /// ownership moved to another node). Unknown names are ignored.
    pub fn release(&mut self, name: &str) {
        let Some(&f) = self.by_name.get(name) else {
            return;
        };
        self.owned[f] = false;
        self.live[f].clear();
        let gone: Vec<usize> = self
            .records
            .iter()
            .enumerate()
            .filter(|(_, r)| r.as_ref().is_some_and(|r| r.facility == f))
            .map(|(i, _)| i)
            .collect();
        for r in gone {
            self.remove_record(r);
        }
    }

    /// Holds a cancelled booking again for one request (fetched back from the
    /// database, so the seed's "already cancelled" answers come out right).
    /// Ignored unless its facility is held and its id is not.
    pub fn recall_cancelled(&mut self, booking: Booking) {
        let Some(&f) = self.by_name.get(&booking.facility) else {
            return;
        };
        if !self.owned[f] || !booking.cancelled || self.by_id.contains_key(&booking.id) {
            return;
        }
        self.insert_record(Record {
            booking,
            facility: f,
        });
    }

    /// Drops a *cancelled* booking from memory (the database keeps it). A
    /// live booking, or an unknown id, is left alone.
    pub fn forget(&mut self, id: &str) {
        if let Some(&r) = self.by_id.get(id)
            && self.record(r).booking.cancelled
        {
            self.remove_record(r);
        }
    }

    fn insert_record(&mut self, record: Record) -> usize {
        let id = record.booking.id.clone();
        let r = match self.free.pop() {
            Some(r) => {
                self.records[r] = Some(record);
                r
            }
            None => {
                self.records.push(Some(record));
                self.records.len() - 1
            }
        };
        self.by_id.insert(id, r);
        r
    }

    fn remove_record(&mut self, r: usize) {
        if let Some(record) = self.records[r].take() {
            self.by_id.remove(&record.booking.id);
            self.free.push(r);
        }
    }

    /// The record at a position known to hold one.
    fn record(&self, r: usize) -> &Record {
        self.records[r]
            .as_ref()
            .expect("positions in by_id and the indexes hold records")
    }

    fn record_mut(&mut self, r: usize) -> &mut Record {
        self.records[r]
            .as_mut()
            .expect("positions in by_id and the indexes hold records")
    }

    /// Service 1: free time on each requested day, in request order.
    ///
    /// Each day appears once, at its first position: the seed builds a dict
    /// keyed by day, so `[1, 0, 1]` is answered for Tuesday then Monday. A day
    /// with no bookings is one slot covering it (the seed lists it twice, a
    /// bug); a fully booked day has no slots. A booking running past midnight
    /// shows on both days, clipped to each.
    ///
    /// Errors: code 1 for an unknown facility, then code 4 for a day outside
    /// `0..=6` (nothing is answered if any day is bad).
    pub fn availability(
        &self,
        facility: &str,
        days: &[u8],
    ) -> Result<DayAvailability, BookingError> {
        let f = self.facility_index(facility)?;
        if let Some(&bad) = days.iter().find(|&&d| d >= DAYS_PER_WEEK) {
            return Err(BookingError::bad_day(bad));
        }
        let mut seen = [false; DAYS_PER_WEEK as usize];
        let mut out = Vec::with_capacity(days.len().min(seen.len()));
        for &day in days {
            if !std::mem::replace(&mut seen[usize::from(day)], true) {
                out.push((day, free_on_day(&self.live[f], day)));
            }
        }
        Ok(out)
    }

    /// Free time on all seven days, Monday first: the body of a monitor callback.
    ///
    /// Errors: code 1 for an unknown facility.
    pub fn week(&self, facility: &str) -> Result<DayAvailability, BookingError> {
        let f = self.facility_index(facility)?;
        Ok((0..DAYS_PER_WEEK)
            .map(|day| (day, free_on_day(&self.live[f], day)))
            .collect())
    }

    /// Service 2: book `[start, end)` and issue a confirmation id.
    ///
    /// Checks, in the seed's order: the facility exists (code 1); `start < end`
    /// (code 4) and `end` is within the week (code 4); no live booking overlaps
    /// (code 2). Touching is not overlapping, so back-to-back bookings succeed.
    ///
    /// The new booking's id is drawn at random (see [`IdScheme`]), and drawn
    /// again if this node already holds it. Only a broken random source,
    /// drawing held ids 16 times running, makes it fail (code 5).
    pub fn book(
        &mut self,
        facility: &str,
        start: Minute,
        end: Minute,
    ) -> Result<&Booking, BookingError> {
        // The facility first: an unknown one is code 1 even with a
        // reversed range (the seed's order).
        let f = self.facility_index(facility)?;
        let span = Interval::new(start, end)
            .map_err(|IntervalError::Empty| BookingError::start_not_before_end())?;
        if end > MINUTES_PER_WEEK {
            return Err(BookingError::outside_week());
        }
        if collides(&self.live[f], span, None).is_some() {
            return Err(BookingError::unavailable());
        }
        let id = self.new_id()?;
        let record = self.insert_record(Record {
            booking: Booking {
                id,
                facility: self.names[f].clone(),
                start,
                end,
                original_end: end,
                cancelled: false,
            },
            facility: f,
        });
        self.live[f].insert(start, Held { span, record });
        Ok(&self.record(record).booking)
    }

    /// Service 3: move a booking by `offset` minutes (negative is earlier),
    /// keeping its length.
    ///
    /// Checks, in the seed's order: the id exists (code 3); the booking is not
    /// cancelled (code 6); the moved range stays within `[0, week]` (code 4);
    /// no *other* live booking overlaps it (code 2; the booking may overlap
    /// its own old place). On success `original_end` becomes the new end, so a
    /// later extend counts from here.
    ///
    /// The arithmetic is done in `i64`, so no `offset` can overflow.
    pub fn change(&mut self, id: &str, offset: i32) -> Result<&Booking, BookingError> {
        let r = self.live_record(id)?;
        let Record { booking, facility } = self.record(r);
        let f = *facility;
        let new_start = i64::from(booking.start) + i64::from(offset);
        let new_end = i64::from(booking.end) + i64::from(offset);
        if new_start < 0 || new_end > i64::from(MINUTES_PER_WEEK) {
            return Err(BookingError::change_outside_week());
        }
        // Both lie in [0, week] now, so they fit a Minute; the length is
        // kept, so the moved span is never empty (the error cannot happen).
        let (new_start, new_end) = (new_start as Minute, new_end as Minute);
        let moved = Interval::new(new_start, new_end)
            .map_err(|IntervalError::Empty| BookingError::change_outside_week())?;
        if collides(&self.live[f], moved, Some(r)).is_some() {
            return Err(BookingError::unavailable_new_period());
        }
        let old_start = booking.start;
        let index = &mut self.live[f];
        index.remove(&old_start);
        index.insert(
            new_start,
            Held {
                span: moved,
                record: r,
            },
        );
        let booking = &mut self.record_mut(r).booking;
        booking.start = new_start;
        booking.end = new_end;
        booking.original_end = new_end;
        Ok(booking)
    }

    /// Extend (the seed's idempotent operation): make the booking end at
    /// `original_end + minutes`.
    ///
    /// Because the target is computed from `original_end`, not from the current
    /// end, sending the same extend twice lands on the same end; the second call
    /// finds nothing to do and reports `changed: false`. A smaller `minutes`
    /// than last time shrinks the booking back towards `original_end`.
    ///
    /// Checks, in the seed's order: the id exists (code 3); the booking is not
    /// cancelled (code 6); the new end is within the week (code 4). If the end
    /// is already there, success with no change. Otherwise the stretch between
    /// the current and the new end must be free of other live bookings (code 2).
    pub fn extend(&mut self, id: &str, minutes: u32) -> Result<Extended, BookingError> {
        let r = self.live_record(id)?;
        let Record { booking, facility } = self.record(r);
        let f = *facility;
        let new_end = u64::from(booking.original_end) + u64::from(minutes);
        if new_end > u64::from(MINUTES_PER_WEEK) {
            return Err(BookingError::extend_exceeds_week());
        }
        let new_end = new_end as Minute;
        if new_end == booking.end {
            return Ok(Extended {
                booking: booking.clone(),
                changed: false,
            });
        }
        // The stretch between the two ends (not empty: they differ), and
        // the booking's new span (not empty: `original_end` is after the
        // start, and the new end is not before it). Neither error happens.
        let stretch = Interval::new(booking.end.min(new_end), booking.end.max(new_end));
        let new_span = Interval::new(booking.start, new_end);
        let (Ok(stretch), Ok(new_span)) = (stretch, new_span) else {
            return Err(BookingError::cannot_extend());
        };
        if collides(&self.live[f], stretch, Some(r)).is_some() {
            return Err(BookingError::cannot_extend());
        }
        let start = booking.start;
        if let Some(held) = self.live[f].get_mut(&start) {
            held.span = new_span;
        }
        let booking = &mut self.record_mut(r).booking;
        booking.end = new_end;
        Ok(Extended {
            booking: booking.clone(),
            changed: true,
        })
    }

    /// Cancel (the seed's non-idempotent operation): free the booking's time.
    ///
    /// Errors: code 3 for an unknown id; code 7 if it is already cancelled. That
    /// second error is what makes a retried cancel visible under at-least-once
    /// semantics. The record is kept (see [`Booking`]).
    pub fn cancel(&mut self, id: &str) -> Result<&Booking, BookingError> {
        let r = *self
            .by_id
            .get(id)
            .ok_or_else(BookingError::invalid_confirmation_id)?;
        let Record { booking, facility } = self.records[r]
            .as_mut()
            .expect("positions in by_id hold records");
        if booking.cancelled {
            return Err(BookingError::already_cancelled());
        }
        booking.cancelled = true;
        self.live[*facility].remove(&booking.start);
        Ok(booking)
    }

    /// The booking with this id, cancelled or not.
    pub fn booking(&self, id: &str) -> Option<&Booking> {
        self.by_id.get(id).map(|&r| &self.record(r).booking)
    }

    /// Every booking held, cancelled ones not yet forgotten included, in
    /// the order made (or restored) until places are reused.
    pub fn bookings(&self) -> impl Iterator<Item = &Booking> {
        self.records.iter().flatten().map(|r| &r.booking)
    }

    /// Replaces all bookings with `bookings` (loaded from the store after a
    /// restart). Their ids may be of either format [`IdScheme`] reads; new
    /// ids never repeat one of them.
    ///
    /// The set is checked first and refused whole, leaving the state as it
    /// was, if a booking names a facility this node does not own, an id
    /// repeats, a time range is impossible, or two live bookings on one
    /// facility overlap (see [`RestoreError`]).
    pub fn restore(&mut self, bookings: Vec<Booking>) -> Result<(), RestoreError> {
        let mut live = vec![Index::new(); self.names.len()];
        let mut records = Vec::with_capacity(bookings.len());
        let mut by_id = HashMap::with_capacity(bookings.len());
        for booking in bookings {
            let Some(&f) = self.by_name.get(&booking.facility) else {
                return Err(RestoreError::UnknownFacility {
                    id: booking.id,
                    facility: booking.facility,
                });
            };
            let Booking {
                start,
                end,
                original_end,
                ..
            } = booking;
            let span = match booking.span() {
                Ok(span)
                    if end <= MINUTES_PER_WEEK
                        && start < original_end
                        && original_end <= MINUTES_PER_WEEK =>
                {
                    span
                }
                _ => {
                    return Err(RestoreError::BadRange {
                        id: booking.id,
                        start,
                        end,
                        original_end,
                    });
                }
            };
            let r = records.len();
            if by_id.insert(booking.id.clone(), r).is_some() {
                return Err(RestoreError::DuplicateId { id: booking.id });
            }
            if !booking.cancelled {
                let index: &mut Index = &mut live[f];
                if let Some(other) = collides(index, span, None) {
                    let other: &Option<Record> = &records[other];
                    return Err(RestoreError::Overlap {
                        id: booking.id,
                        other: other
                            .as_ref()
                            .map_or_else(String::new, |o| o.booking.id.clone()),
                    });
                }
                index.insert(start, Held { span, record: r });
            }
            records.push(Some(Record {
                booking,
                facility: f,
            }));
        }
        self.live = live;
        self.records = records;
        self.free.clear();
        self.by_id = by_id;
        Ok(())
    }

    /// The ids this node issues.
    pub fn id_scheme(&self) -> IdScheme {
        self.ids
    }

    /// A random id this node holds no booking under. (An id the database
    /// already has, a cancelled booking's, fails its write instead: a new
    /// booking is inserted, never upserted.)
    fn new_id(&self) -> Result<String, BookingError> {
        for _ in 0..ID_ATTEMPTS {
            let id = self.ids.format((self.draw)());
            if !self.by_id.contains_key(&id) {
                return Ok(id);
            }
        }
        Err(BookingError::no_free_id())
    }

    fn facility_index(&self, name: &str) -> Result<usize, BookingError> {
        self.by_name
            .get(name)
            .copied()
            .ok_or_else(|| BookingError::facility_not_found(name))
    }

    /// The record for `id` if it exists and is live: code 3, then code 6, as
    /// the seed checks before a change or extend.
    fn live_record(&self, id: &str) -> Result<usize, BookingError> {
        let r = *self
            .by_id
            .get(id)
            .ok_or_else(BookingError::invalid_confirmation_id)?;
        if self.record(r).booking.cancelled {
            return Err(BookingError::cancelled());
        }
        Ok(r)
    }
}

/// The record of a live booking other than `except` that overlaps `span`,
/// if there is one: the one overlap check, for booking, moving, extending
/// and restoring.
///
/// Live bookings are disjoint, so their ends grow with their starts: of those
/// starting before `span` ends, the last (other than `except`) reaches
/// furthest, and `span` overlaps something exactly when it overlaps that one.
fn collides(index: &Index, span: Interval<Minute>, except: Option<usize>) -> Option<usize> {
    index
        .range(..span.end())
        .rev()
        .find(|(_, held)| Some(held.record) != except)
        .filter(|(_, held)| held.span.overlaps(&span))
        .map(|(_, held)| held.record)
}

/// The free slots of `day`, clipped to it: the gaps between live bookings.
fn free_on_day(index: &Index, day: u8) -> Vec<(Minute, Minute)> {
    let lo = Minute::from(day) * MINUTES_PER_DAY;
    let hi = lo + MINUTES_PER_DAY;
    // A booking that starts on an earlier day may run into this one.
    let mut free_from = index
        .range(..lo)
        .next_back()
        .map_or(lo, |(_, held)| held.span.end().clamp(lo, hi));
    let mut slots = Vec::new();
    for (&start, held) in index.range(lo..hi) {
        if free_from < start {
            slots.push((free_from, start));
        }
        free_from = held.span.end().min(hi);
    }
    if free_from < hi {
        slots.push((free_from, hi));
    }
    slots
}
