//! The seed's error replies, and why a restore can be refused.

use super::Minute;

/// An error reply: the seed's numeric code and its exact message.
///
/// The seed sends `ERROR (255), u8 code, string message`, and clients print
/// `Error [<code>]: <message>`, so both halves are part of the protocol and the
/// message text must match byte for byte. The constructors below are the only
/// place each text is written; callers never spell a message themselves.
///
/// A struct rather than an enum because the wire carries exactly these two
/// fields: one code has several messages (code 2 has three), and the network
/// layer needs nothing but `code` and `message` to build the reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BookingError {
    /// The seed's error code, `1..=7`.
    pub code: u8,
    /// The human-readable text, exactly as the seed words it.
    pub message: String,
}

impl BookingError {
    /// Code 1: the named facility does not exist (names are case-sensitive).
    pub const FACILITY_NOT_FOUND: u8 = 1;
    /// Code 2: the facility is wholly or partly booked during the requested time.
    pub const FACILITY_UNAVAILABLE: u8 = 2;
    /// Code 3: no booking has this confirmation id.
    pub const INVALID_CONFIRMATION_ID: u8 = 3;
    /// Code 4: a time range that is empty, reversed or outside the week.
    pub const INVALID_TIME_RANGE: u8 = 4;
    /// Code 5: a request the server cannot serve (unknown type, undecodable).
    pub const INVALID_REQUEST: u8 = 5;
    /// Code 6: changing or extending a booking that has been cancelled.
    pub const BOOKING_NOT_FOUND: u8 = 6;
    /// Code 7: cancelling a booking twice.
    pub const ALREADY_CANCELLED: u8 = 7;

    /// An error with any code and text; prefer the named constructors.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Code 1, `Facility '<name>' not found`.
    pub fn facility_not_found(name: &str) -> Self {
        Self::new(
            Self::FACILITY_NOT_FOUND,
            format!("Facility '{name}' not found"),
        )
    }

    /// Code 2, when booking: `Facility is not available during requested period`.
    pub fn unavailable() -> Self {
        Self::new(
            Self::FACILITY_UNAVAILABLE,
            "Facility is not available during requested period",
        )
    }

    /// Code 2, when changing: `Facility is not available during new requested period`.
    pub fn unavailable_new_period() -> Self {
        Self::new(
            Self::FACILITY_UNAVAILABLE,
            "Facility is not available during new requested period",
        )
    }

    /// Code 2, when extending: `Cannot extend: facility unavailable during extension period`.
    pub fn cannot_extend() -> Self {
        Self::new(
            Self::FACILITY_UNAVAILABLE,
            "Cannot extend: facility unavailable during extension period",
        )
    }

    /// Code 3, `Invalid confirmation ID`.
    pub fn invalid_confirmation_id() -> Self {
        Self::new(Self::INVALID_CONFIRMATION_ID, "Invalid confirmation ID")
    }

    /// Code 4, when booking: `Start time must be before end time`.
    pub fn start_not_before_end() -> Self {
        Self::new(
            Self::INVALID_TIME_RANGE,
            "Start time must be before end time",
        )
    }

    /// Code 4, when booking past Sunday 24:00: `Time range is outside the week`.
    ///
    /// The seed has no such check (its wire format cannot name a day after
    /// Sunday, though hour 24 of Sunday plus minutes could slip through); the
    /// text follows the seed's wording for the same fault in a change.
    pub fn outside_week() -> Self {
        Self::new(Self::INVALID_TIME_RANGE, "Time range is outside the week")
    }

    /// Code 4, when changing: `New time range is outside the week`.
    pub fn change_outside_week() -> Self {
        Self::new(
            Self::INVALID_TIME_RANGE,
            "New time range is outside the week",
        )
    }

    /// Code 4, when extending: `Extended time exceeds the week`.
    pub fn extend_exceeds_week() -> Self {
        Self::new(Self::INVALID_TIME_RANGE, "Extended time exceeds the week")
    }

    /// Code 4, when querying: `Day <d> is not 0 (Mon) to 6 (Sun)`.
    ///
    /// The seed answers any day number, inventing slots past Sunday; a day
    /// outside the week is refused here instead.
    pub fn bad_day(day: u8) -> Self {
        Self::new(
            Self::INVALID_TIME_RANGE,
            format!("Day {day} is not 0 (Mon) to 6 (Sun)"),
        )
    }

    /// Code 5, `Unknown request type: <t>` (the seed's reply to a type it does not serve).
    pub fn unknown_request_type(t: u8) -> Self {
        Self::new(Self::INVALID_REQUEST, format!("Unknown request type: {t}"))
    }

    /// Code 5, when no unused confirmation id could be drawn (see
    /// [`IdScheme`](super::IdScheme)): only a broken random source gets here.
    pub fn no_free_id() -> Self {
        Self::new(
            Self::INVALID_REQUEST,
            "No confirmation ID could be issued; please try again",
        )
    }

    /// Code 6, `Booking has been cancelled` (changing or extending a cancelled booking).
    pub fn cancelled() -> Self {
        Self::new(Self::BOOKING_NOT_FOUND, "Booking has been cancelled")
    }

    /// Code 7, `Booking has already been cancelled`.
    pub fn already_cancelled() -> Self {
        Self::new(
            Self::ALREADY_CANCELLED,
            "Booking has already been cancelled",
        )
    }
}

/// Why [`Facilities::restore`](super::Facilities::restore) refused a set of bookings.
///
/// The store only ever holds what [`Facilities`](super::Facilities) produced, so
/// any of these means the store is damaged or the cluster file changed which
/// facilities this node owns. Restoring half of such a set would silently drop
/// or double-book someone's room, so the whole set is refused and the state is
/// left untouched.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RestoreError {
    /// A booking names a facility this node does not own.
    #[error("booking {id} is for facility '{facility}', which this node does not own")]
    UnknownFacility {
        /// The booking's confirmation id.
        id: String,
        /// The facility it names.
        facility: String,
    },
    /// Two bookings share a confirmation id.
    #[error("confirmation id {id} appears twice")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// A booking's times break `start < end <= week` or `start < original_end <= week`.
    #[error(
        "booking {id} has an impossible time range: start {start}, end {end}, original end {original_end}"
    )]
    BadRange {
        /// The booking's confirmation id.
        id: String,
        /// Its start.
        start: Minute,
        /// Its end.
        end: Minute,
        /// Its original end.
        original_end: Minute,
    },
    /// Two bookings that are not cancelled overlap on one facility.
    #[error("bookings {id} and {other} overlap")]
    Overlap {
        /// The later booking in the input.
        id: String,
        /// The earlier booking it collides with.
        other: String,
    },
}
