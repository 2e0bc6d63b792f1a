//! The booking service's state: facilities, bookings and monitor registrations.
//!
//! Everything here is plain data with the seed's rules and exact messages, and
//! nothing else: no sockets, no clock (callers pass [`Instant`](std::time::Instant)s
//! in), no wire format. That keeps the rules testable on their own and lets the
//! network layer decide how a [`BookingError`] or a list of free slots travels.
//!
//! # Time
//!
//! A time is a [`Minute`]: minutes since Monday 00:00, from `0` to
//! [`MINUTES_PER_WEEK`](convene_time::MINUTES_PER_WEEK) inclusive (the seed writes the very end of the week as
//! Sunday 24:00). Spans are half-open, `[start, end)`, so a booking ending at
//! 11:00 and one starting at 11:00 do not collide, and a booking may run past
//! midnight into the next day.
//!
//! # Layout
//!
//! - [`BookingError`]: the seed's error codes and messages, one constructor each.
//! - [`IdScheme`]: how confirmation ids are made (64 random bits and the
//!   owning node), and which node owns one.
//! - [`Facilities`]: one node's facilities and their bookings; the seed's
//!   services 1–3 (query, book, change) and its two extra operations (extend,
//!   idempotent; cancel, non-idempotent).
//! - [`Monitors`]: who asked for callbacks on which facility, until when
//!   (service 4), within [`MonitorLimits`] per address and in all.
//!
//! # A session, as the seed's README shows it
//!
//! ```
//! use convene_booking::state::{BookingError, Facilities, IdScheme};
//!
//! let mut rooms = Facilities::new(["Meeting Room A".to_string()], IdScheme { node: 0 });
//! // Mon 10:00-11:00.
//! let id = rooms.book("Meeting Room A", 600, 660)?.id.clone();
//! assert!(id.starts_with("CONF0-") && id.len() == "CONF0-".len() + 16);
//! // Mon 10:30-11:30 collides.
//! assert_eq!(rooms.book("Meeting Room A", 630, 690).unwrap_err().code, 2);
//! // Monday is free around it; Tuesday is one whole-day slot.
//! assert_eq!(
//!     rooms.availability("Meeting Room A", &[0, 1])?,
//!     vec![(0, vec![(0, 600), (660, 1440)]), (1, vec![(1440, 2880)])],
//! );
//! rooms.cancel(&id)?;
//! assert_eq!(rooms.cancel(&id).unwrap_err(), BookingError::already_cancelled());
//! # Ok::<(), BookingError>(())
//! ```

mod error;
mod facilities;
mod ids;
mod monitors;

#[cfg(test)]
mod tests;

pub use error::{BookingError, RestoreError};
pub use facilities::{Booking, Extended, Facilities};
pub use ids::{IdScheme, ParsedId};
pub use monitors::{MonitorLimits, MonitorRefused, Monitors};

/// A time of the week: minutes since Monday 00:00, `0..=`[`MINUTES_PER_WEEK`].
///
/// [`MINUTES_PER_WEEK`]: convene_time::MINUTES_PER_WEEK
///
/// A plain integer rather than a day/hour/minute triple because every rule
/// here (overlap, shifting by an offset, extending) is arithmetic on a line;
/// the wire layer converts to and from the seed's `(day, hour, minute)`.
pub type Minute = u32;

/// Free time on each requested day: `(day, [(start, end), ...])`, slots in
/// order, each `start < end`, clipped to that day.
pub type DayAvailability = Vec<(u8, Vec<(Minute, Minute)>)>;
