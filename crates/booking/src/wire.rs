//! The booking seed's byte protocol, spoken exactly, so the seed's own Python
//! client and test scripts work against Convene unchanged.
//!
//! Every datagram is one message. A request is `[u8 type][u32 request id][params]`,
//! a reply is `[u8 type][payload]`. Integers are big-endian; the other field types are:
//!
//! * **string**: a `u32` byte length, then that many bytes of UTF-8;
//! * **time**: three bytes, day (0 Mon to 6 Sun), hour, minute, where `(day, 24, 0)` is
//!   the end of that day (a [`WeekTime`]);
//! * **day list**: a `u32` count, then one byte per day;
//! * **bool**: one byte. The seed reads any non-zero byte as true and writes 1; so do we.
//!
//! | type | request                 | params                        | reply type | reply payload |
//! |------|-------------------------|-------------------------------|------------|---------------|
//! | 1    | `QUERY_AVAILABILITY`    | facility, day list            | 101        | facility, `u32` day count, per day: `u8` day, `u32` slot count, (start, end) times |
//! | 2    | `BOOK_FACILITY`         | facility, start, end          | 102        | confirmation id (`CONF1-3f9a0c27e4b5d861`; the seed's were `CONF000001`, …) |
//! | 3    | `CHANGE_BOOKING`        | confirmation id, `i32` offset minutes | 103 | bool (true) |
//! | 4    | `MONITOR_REGISTER`      | facility, `u32` seconds       | 104        | bool (true), message |
//! | 5    | `EXTEND_BOOKING`        | confirmation id, `u32` minutes | 105       | bool (true), message |
//! | 6    | `CANCEL_BOOKING`        | confirmation id               | 106        | bool (true), message |
//! | –    | (callback)              |                               | 200        | like 101, all 7 days |
//! | –    | (any failure)           |                               | 255        | `u8` [`ErrorCode`], message |
//!
//! # Stricter than the seed, on purpose
//!
//! The seed's server parses with Python slicing, which silently shortens a truncated
//! string and ignores trailing bytes; a time of hour 99 is stored as given. Convene
//! reads everything from the network as hostile (see `convene_wire`): a request that is
//! truncated, has bytes left over, is not UTF-8, claims a length longer than
//! [`MAX_NAME`] / [`MAX_DAYS`], or carries an impossible time is refused with an
//! error reply ([`RequestError::to_reply`]) instead. The seed's clients never send
//! any of those, so the tightening is invisible to them. What *is* left to the booking
//! state is meaning: whether a day number in a query is 0-6, duplicate days, a start
//! that is not before its end, an offset that leaves the week.
//!
//! # Answering a bad request
//!
//! The seed caches error replies under the request id like any other reply, so a bad
//! request must still be answered under its id. That is why [`header`] exists apart
//! from [`decode_request`]: the server reads the header first, and anything that goes
//! wrong after it becomes a [`RequestError`] whose [`to_reply`](RequestError::to_reply)
//! is the reply to send (and cache). Only a datagram too short to carry a header
//! cannot be answered; the server drops it with a log line.
//!
//! ```
//! use convene_booking::wire::{self, ErrorCode, Reply, Request};
//! use convene_time::WeekTime;
//!
//! let book = Request::Book {
//!     facility: "Meeting Room A".into(),
//!     start: WeekTime::new(0, 10, 0)?,
//!     end: WeekTime::new(0, 11, 0)?,
//! };
//! let datagram = book.encode(1);
//! let (header, request) = wire::decode_request(&datagram).unwrap();
//! assert_eq!((header.kind, header.request_id), (2, 1));
//! assert_eq!(request, book);
//!
//! // An unknown type is answered the seed's way, under the request's id.
//! let err = wire::decode_request(&[9, 0, 0, 0, 7]).unwrap_err();
//! assert_eq!(
//!     err.to_reply(),
//!     Reply::error(ErrorCode::InvalidRequest, "Unknown request type: 9")
//! );
//! # Ok::<(), convene_time::WeekTimeError>(())
//! ```

use std::fmt;

use convene_time::{WeekTime, WeekTimeError};
use convene_wire::{DecodeError, Reader, WriteExt};

#[cfg(test)]
mod tests;

/// The largest UDP payload over IPv4 (65535 − 8 UDP − 20 IP header bytes): the receive
/// buffer the seed uses, and so the largest request either side can send.
pub const MAX_DATAGRAM: usize = 65507;

/// Longest facility name or confirmation id we accept, in bytes (the seed has no limit;
/// we need one). Far above the seed's names ("Lecture Theatre 1") and our ids
/// (`CONF1-3f9a0c27e4b5d861`), and it bounds what an error reply may echo back.
pub const MAX_NAME: usize = 256;

/// Longest day list accepted in a query. A week has 7 days, but the seed lets a client
/// repeat them, so a little room is left; the state de-duplicates.
pub const MAX_DAYS: usize = 64;

/// Longest message string accepted when decoding a reply (104-106 and errors), in bytes.
/// Our server's longest message echoes a [`MAX_NAME`] facility name into a short
/// sentence, so this leaves ample room while still refusing nonsense.
pub const MAX_MESSAGE: usize = 1024;

/// Bytes every request starts with: the `u8` type and the `u32` request id.
pub const HEADER_LEN: usize = 5;

/// The message type bytes, under the seed's names.
pub mod kind {
    /// Request: free slots of a facility on some days.
    pub const QUERY_AVAILABILITY: u8 = 1;
    /// Request: book a facility from a start to an end time.
    pub const BOOK_FACILITY: u8 = 2;
    /// Request: move a booking by an offset in minutes.
    pub const CHANGE_BOOKING: u8 = 3;
    /// Request: send me the facility's availability whenever it changes, for a while.
    pub const MONITOR_REGISTER: u8 = 4;
    /// Request: extend a booking's original end (idempotent).
    pub const EXTEND_BOOKING: u8 = 5;
    /// Request: cancel a booking (non-idempotent).
    pub const CANCEL_BOOKING: u8 = 6;
    /// Reply to [`QUERY_AVAILABILITY`].
    pub const QUERY_RESPONSE: u8 = 101;
    /// Reply to [`BOOK_FACILITY`].
    pub const BOOK_RESPONSE: u8 = 102;
    /// Reply to [`CHANGE_BOOKING`].
    pub const CHANGE_RESPONSE: u8 = 103;
    /// Reply to [`MONITOR_REGISTER`].
    pub const MONITOR_RESPONSE: u8 = 104;
    /// Reply to [`EXTEND_BOOKING`].
    pub const EXTEND_RESPONSE: u8 = 105;
    /// Reply to [`CANCEL_BOOKING`].
    pub const CANCEL_RESPONSE: u8 = 106;
    /// Callback to a monitoring client: the facility's availability changed.
    pub const MONITOR_UPDATE: u8 = 200;
    /// Reply to any request that failed.
    pub const ERROR: u8 = 255;

    /// The seed's name for a type byte, for log lines; `"UNKNOWN"` for other bytes.
    pub fn name(kind: u8) -> &'static str {
        match kind {
            QUERY_AVAILABILITY => "QUERY_AVAILABILITY",
            BOOK_FACILITY => "BOOK_FACILITY",
            CHANGE_BOOKING => "CHANGE_BOOKING",
            MONITOR_REGISTER => "MONITOR_REGISTER",
            EXTEND_BOOKING => "EXTEND_BOOKING",
            CANCEL_BOOKING => "CANCEL_BOOKING",
            QUERY_RESPONSE => "QUERY_RESPONSE",
            BOOK_RESPONSE => "BOOK_RESPONSE",
            CHANGE_RESPONSE => "CHANGE_RESPONSE",
            MONITOR_RESPONSE => "MONITOR_RESPONSE",
            EXTEND_RESPONSE => "EXTEND_RESPONSE",
            CANCEL_RESPONSE => "CANCEL_RESPONSE",
            MONITOR_UPDATE => "MONITOR_UPDATE",
            ERROR => "ERROR",
            _ => "UNKNOWN",
        }
    }
}

/// A decoded request, with the fields the seed sends and nothing checked that the
/// booking state is better placed to check (see the [module docs](self)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Type 1: the free slots of `facility` on each of `days`.
    Query {
        /// The facility, matched exactly (case-sensitive).
        facility: String,
        /// The days as sent, in order: the state checks 0..=6 and removes duplicates.
        days: Vec<u8>,
    },
    /// Type 2: book `facility` for `[start, end)`.
    Book {
        /// The facility, matched exactly.
        facility: String,
        /// When the booking starts.
        start: WeekTime,
        /// When it ends; the state checks that it is after `start`.
        end: WeekTime,
    },
    /// Type 3: move a booking, keeping its length. Negative advances it, positive
    /// postpones it.
    Change {
        /// The booking's id, as returned by [`Reply::Booked`].
        confirmation: String,
        /// How far to move it, in minutes.
        offset_minutes: i32,
    },
    /// Type 4: send this client [`Reply::Update`] callbacks for `facility` for `seconds`.
    Monitor {
        /// The facility to watch.
        facility: String,
        /// How long to watch it, in seconds.
        seconds: u32,
    },
    /// Type 5: set a booking's end to its original end plus `minutes` (idempotent: the
    /// same request twice gives the same end).
    Extend {
        /// The booking's id.
        confirmation: String,
        /// Minutes past the booking's original end.
        minutes: u32,
    },
    /// Type 6: cancel a booking (non-idempotent: a second cancel is an error).
    Cancel {
        /// The booking's id.
        confirmation: String,
    },
}

/// The part every request has, read first so even a bad request can be answered (and
/// cached) under its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Header {
    /// The request type byte (see [`kind`]); not necessarily a known one.
    pub kind: u8,
    /// The client's number for this request. Retries reuse it, which is what lets
    /// at-most-once semantics recognise a duplicate.
    pub request_id: u32,
}

/// Reads the header; `None` if the datagram is shorter than [`HEADER_LEN`] bytes (such
/// a datagram cannot be answered: the server drops it with a log line).
pub fn header(datagram: &[u8]) -> Option<Header> {
    read_header(&mut Reader::new(datagram))
}

fn read_header(r: &mut Reader<'_>) -> Option<Header> {
    Some(Header {
        kind: r.u8().ok()?,
        request_id: r.u32().ok()?,
    })
}

/// Decodes a whole request datagram: the header, the parameters its type calls for, and
/// nothing after them.
pub fn decode_request(datagram: &[u8]) -> Result<(Header, Request), RequestError> {
    let mut r = Reader::new(datagram);
    let header = read_header(&mut r).ok_or(RequestError::TooShort)?;
    let mut p = Params {
        r,
        kind: header.kind,
    };
    let request = match header.kind {
        kind::QUERY_AVAILABILITY => Request::Query {
            facility: p.name(Field::FacilityName)?,
            days: p.days()?,
        },
        kind::BOOK_FACILITY => Request::Book {
            facility: p.name(Field::FacilityName)?,
            start: p.time()?,
            end: p.time()?,
        },
        kind::CHANGE_BOOKING => Request::Change {
            confirmation: p.name(Field::ConfirmationId)?,
            offset_minutes: p.read(Reader::i32)?,
        },
        kind::MONITOR_REGISTER => Request::Monitor {
            facility: p.name(Field::FacilityName)?,
            seconds: p.read(Reader::u32)?,
        },
        kind::EXTEND_BOOKING => Request::Extend {
            confirmation: p.name(Field::ConfirmationId)?,
            minutes: p.read(Reader::u32)?,
        },
        kind::CANCEL_BOOKING => Request::Cancel {
            confirmation: p.name(Field::ConfirmationId)?,
        },
        other => return Err(RequestError::UnknownType(other)),
    };
    p.finish()?;
    Ok((header, request))
}

/// The parameters of one request, read with errors that already say which request
/// they belong to.
struct Params<'a> {
    r: Reader<'a>,
    kind: u8,
}

impl<'a> Params<'a> {
    fn malformed(&self, error: DecodeError) -> RequestError {
        RequestError::Malformed {
            kind: self.kind,
            error,
        }
    }

    /// Reads one fixed-size field with a [`Reader`] method.
    fn read<T>(
        &mut self,
        f: impl FnOnce(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<T, RequestError> {
        f(&mut self.r).map_err(|e| self.malformed(e))
    }

    /// A facility name or confirmation id, at most [`MAX_NAME`] bytes. The length is
    /// judged before the bytes are looked for, so a claim of 4 GiB is `TooLong` at once.
    fn name(&mut self, what: Field) -> Result<String, RequestError> {
        match self.r.string_max(what.max()) {
            Ok(s) => Ok(s.to_owned()),
            Err(DecodeError::TooLong { len, .. }) => Err(RequestError::TooLong { what, len }),
            Err(e) => Err(self.malformed(e)),
        }
    }

    /// A day list: a `u32` count, at most [`MAX_DAYS`], then one byte per day.
    fn days(&mut self) -> Result<Vec<u8>, RequestError> {
        // Judge the count against our limit first (as `string_max` does lengths), then
        // let `count` check that the bytes are really there before we allocate.
        let claimed = self.r.clone().u32().map_err(|e| self.malformed(e))?;
        let len = usize::try_from(claimed).unwrap_or(usize::MAX);
        if len > MAX_DAYS {
            return Err(RequestError::TooLong {
                what: Field::DayList,
                len,
            });
        }
        let count = self.read(|r| r.count(1))?;
        let days = self.read(|r| r.bytes(count))?;
        Ok(days.to_vec())
    }

    fn time(&mut self) -> Result<WeekTime, RequestError> {
        let [day, hour, minute] = self.read(read_time_bytes)?;
        WeekTime::new(day, hour, minute).map_err(RequestError::BadTime)
    }

    fn finish(self) -> Result<(), RequestError> {
        self.r.finish().map_err(|error| RequestError::Malformed {
            kind: self.kind,
            error,
        })
    }
}

/// Reads the three bytes of a time all at once, so a truncated time is one
/// `Truncated` error rather than a half-read time.
fn read_time_bytes(r: &mut Reader<'_>) -> Result<[u8; 3], DecodeError> {
    let bytes = r.bytes(3)?;
    // `bytes(3)` returned exactly three bytes, so this conversion cannot fail; it is
    // written without indexing all the same, so no panic path exists.
    <[u8; 3]>::try_from(bytes).map_err(|_| DecodeError::Truncated {
        needed: 3,
        remaining: bytes.len(),
    })
}

/// A length-limited request field, named in [`RequestError::TooLong`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// A facility name (types 1, 2, 4): at most [`MAX_NAME`] bytes.
    FacilityName,
    /// A confirmation id (types 3, 5, 6): at most [`MAX_NAME`] bytes.
    ConfirmationId,
    /// A query's day list (type 1): at most [`MAX_DAYS`] days.
    DayList,
}

impl Field {
    /// The most this field may hold, in [`unit`](Field::unit)s.
    pub fn max(self) -> usize {
        match self {
            Field::FacilityName | Field::ConfirmationId => MAX_NAME,
            Field::DayList => MAX_DAYS,
        }
    }

    /// What the field's length counts: `"bytes"` or `"days"`.
    pub fn unit(self) -> &'static str {
        match self {
            Field::FacilityName | Field::ConfirmationId => "bytes",
            Field::DayList => "days",
        }
    }
}

/// Capitalised, since it starts the error message sent to the client.
impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::FacilityName => "Facility name",
            Field::ConfirmationId => "Confirmation ID",
            Field::DayList => "Day list",
        })
    }
}

/// Why a request datagram was refused.
///
/// The `Display` text is the message the client receives ([`to_reply`](Self::to_reply)),
/// so it is written for the person at the seed's menu, in the seed's style.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Fewer than [`HEADER_LEN`] bytes: there is no request id to answer under.
    #[error("Request too short: every request starts with a 5-byte header (type, request id)")]
    TooShort,
    /// A type byte that is not a request; the seed's exact message.
    #[error("Unknown request type: {0}")]
    UnknownType(u8),
    /// The parameters do not decode: truncated, not UTF-8, or followed by extra bytes.
    #[error("Malformed {} request: {error}", kind::name(*kind))]
    Malformed {
        /// The request's type byte.
        kind: u8,
        /// What was wrong with the bytes.
        error: DecodeError,
    },
    /// A string or day list claims more than we accept. Judged on the declared length,
    /// before looking for the bytes.
    #[error("{what} too long: {len} {} exceeds the maximum of {}", what.unit(), what.max())]
    TooLong {
        /// Which field.
        what: Field,
        /// The length it declared.
        len: usize,
    },
    /// A time outside the week's clock (day 7, hour 25, minute 60, 24:30).
    #[error("Invalid time: {0}")]
    BadTime(WeekTimeError),
}

impl RequestError {
    /// The error code the client receives: [`ErrorCode::InvalidTimeRange`] for a bad
    /// time, as the seed uses for times it cannot accept; [`ErrorCode::InvalidRequest`]
    /// for everything else, as the seed answers any request it cannot parse.
    pub fn code(&self) -> ErrorCode {
        match self {
            RequestError::BadTime(_) => ErrorCode::InvalidTimeRange,
            _ => ErrorCode::InvalidRequest,
        }
    }

    /// The error reply the server sends (and caches) for this request: the
    /// [`code`](Self::code) and this error's text.
    ///
    /// For [`TooShort`](Self::TooShort) there is nobody to send it to under an id; the
    /// reply exists so the function is total, but the server should drop the datagram.
    pub fn to_reply(&self) -> Reply {
        Reply::error(self.code(), self.to_string())
    }
}

impl Request {
    /// The request's type byte (see [`kind`]).
    pub fn kind(&self) -> u8 {
        match self {
            Request::Query { .. } => kind::QUERY_AVAILABILITY,
            Request::Book { .. } => kind::BOOK_FACILITY,
            Request::Change { .. } => kind::CHANGE_BOOKING,
            Request::Monitor { .. } => kind::MONITOR_REGISTER,
            Request::Extend { .. } => kind::EXTEND_BOOKING,
            Request::Cancel { .. } => kind::CANCEL_BOOKING,
        }
    }

    /// Encodes the request as one datagram under `request_id` (for our own client).
    ///
    /// Nothing is checked here: a name over [`MAX_NAME`] is sent as is and refused by
    /// the server, as any other client's would be.
    ///
    /// # Panics
    ///
    /// If a string or day list is 4 GiB or longer, which no datagram can carry.
    pub fn encode(&self, request_id: u32) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u8(self.kind());
        out.put_u32(request_id);
        match self {
            Request::Query { facility, days } => {
                out.put_string(facility);
                put_len(&mut out, days.len());
                out.put_bytes(days);
            }
            Request::Book {
                facility,
                start,
                end,
            } => {
                out.put_string(facility);
                put_time(&mut out, *start);
                put_time(&mut out, *end);
            }
            Request::Change {
                confirmation,
                offset_minutes,
            } => {
                out.put_string(confirmation);
                out.put_i32(*offset_minutes);
            }
            Request::Monitor { facility, seconds } => {
                out.put_string(facility);
                out.put_u32(*seconds);
            }
            Request::Extend {
                confirmation,
                minutes,
            } => {
                out.put_string(confirmation);
                out.put_u32(*minutes);
            }
            Request::Cancel { confirmation } => out.put_string(confirmation),
        }
        out
    }
}

/// The seed's error codes, carried in [`Reply::Error`].
///
/// A reply carries the code as a plain byte, not this enum, so that our client can
/// decode and print an error from a server that uses codes we do not know (the seed's
/// client prints `Error [99]: ...` just the same); [`Reply::error_code`] and
/// [`ErrorCode::from_code`] turn the byte into one of these when it is known.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorCode {
    /// No facility has that name: `Facility '<name>' not found`.
    FacilityNotFound = 1,
    /// The time is (partly) booked already.
    FacilityUnavailable = 2,
    /// No booking has that confirmation id: `Invalid confirmation ID`.
    InvalidConfirmationId = 3,
    /// The times make no sense: start not before end, outside the week.
    InvalidTimeRange = 4,
    /// The request cannot be understood: `Unknown request type: N`, or malformed.
    InvalidRequest = 5,
    /// Changing or extending a cancelled booking: `Booking has been cancelled`.
    BookingNotFound = 6,
    /// Cancelling twice: `Booking has already been cancelled`.
    AlreadyCancelled = 7,
}

impl ErrorCode {
    /// Every code, in numeric order.
    pub const ALL: [ErrorCode; 7] = [
        ErrorCode::FacilityNotFound,
        ErrorCode::FacilityUnavailable,
        ErrorCode::InvalidConfirmationId,
        ErrorCode::InvalidTimeRange,
        ErrorCode::InvalidRequest,
        ErrorCode::BookingNotFound,
        ErrorCode::AlreadyCancelled,
    ];

    /// The byte on the wire.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The code for a byte, or `None` for a byte the seed does not define.
    pub fn from_code(code: u8) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The seed's name, e.g. `FACILITY_NOT_FOUND`.
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::FacilityNotFound => "FACILITY_NOT_FOUND",
            ErrorCode::FacilityUnavailable => "FACILITY_UNAVAILABLE",
            ErrorCode::InvalidConfirmationId => "INVALID_CONFIRMATION_ID",
            ErrorCode::InvalidTimeRange => "INVALID_TIME_RANGE",
            ErrorCode::InvalidRequest => "INVALID_REQUEST",
            ErrorCode::BookingNotFound => "BOOKING_NOT_FOUND",
            ErrorCode::AlreadyCancelled => "ALREADY_CANCELLED",
        }
    }
}

impl From<ErrorCode> for u8 {
    fn from(code: ErrorCode) -> u8 {
        code.code()
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One day's free time in an availability reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayAvailability {
    /// The day, 0 (Mon) to 6 (Sun).
    pub day: u8,
    /// Free `[start, end)` slots, in the order sent. The seed ends a day's last slot at
    /// `(day, 24, 0)`, and (a bug we may need to copy) lists a wholly free day twice, so
    /// a decoder must not insist on a normalized list.
    pub slots: Vec<(WeekTime, WeekTime)>,
}

/// A decoded reply or callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Type 101: the free slots of `facility` on the queried days.
    Availability {
        /// The facility, as queried.
        facility: String,
        /// One entry per queried day.
        days: Vec<DayAvailability>,
    },
    /// Type 102: the booking was made.
    Booked {
        /// Its id, e.g. `CONF1-3f9a0c27e4b5d861` (see [`IdScheme`](crate::state::IdScheme)).
        confirmation: String,
    },
    /// Type 103: the booking was moved. (On the wire: a bool, always true.)
    Changed,
    /// Type 104: monitoring started; callbacks follow.
    Monitoring {
        /// `Monitoring '<facility>' for <n> seconds`.
        message: String,
    },
    /// Type 105: the booking was extended.
    Extended {
        /// `Booking extended to Mon 12:00`.
        message: String,
    },
    /// Type 106: the booking was cancelled.
    Cancelled {
        /// `Booking cancelled successfully`.
        message: String,
    },
    /// Type 200, a callback: `facility`'s availability changed; all seven days.
    Update {
        /// The facility being monitored.
        facility: String,
        /// Every day of the week, Monday first.
        days: Vec<DayAvailability>,
    },
    /// Type 255: the request failed.
    Error {
        /// The error code byte: one of [`ErrorCode`], or (from another server) any byte,
        /// kept as sent so it can be shown. See [`Reply::error_code`].
        code: u8,
        /// What went wrong, for a person.
        message: String,
    },
}

impl Reply {
    /// An error reply with a known code.
    pub fn error(code: ErrorCode, message: impl Into<String>) -> Reply {
        Reply::Error {
            code: code.code(),
            message: message.into(),
        }
    }

    /// The reply's type byte (see [`kind`]).
    pub fn kind(&self) -> u8 {
        match self {
            Reply::Availability { .. } => kind::QUERY_RESPONSE,
            Reply::Booked { .. } => kind::BOOK_RESPONSE,
            Reply::Changed => kind::CHANGE_RESPONSE,
            Reply::Monitoring { .. } => kind::MONITOR_RESPONSE,
            Reply::Extended { .. } => kind::EXTEND_RESPONSE,
            Reply::Cancelled { .. } => kind::CANCEL_RESPONSE,
            Reply::Update { .. } => kind::MONITOR_UPDATE,
            Reply::Error { .. } => kind::ERROR,
        }
    }

    /// For an [`Error`](Reply::Error) reply whose code the seed defines, that code;
    /// `None` for other replies and unknown codes.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match self {
            Reply::Error { code, .. } => ErrorCode::from_code(*code),
            _ => None,
        }
    }

    /// Encodes the reply as one datagram.
    ///
    /// Availability replies are small enough for one datagram as long as the days are
    /// de-duplicated (at most 720 slots a day, 6 bytes each, 7 days: about 30 KB).
    ///
    /// # Panics
    ///
    /// If a string or list is 4 GiB or longer, which no datagram can carry.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u8(self.kind());
        match self {
            Reply::Availability { facility, days } | Reply::Update { facility, days } => {
                out.put_string(facility);
                put_len(&mut out, days.len());
                for d in days {
                    out.put_u8(d.day);
                    put_len(&mut out, d.slots.len());
                    for &(start, end) in &d.slots {
                        put_time(&mut out, start);
                        put_time(&mut out, end);
                    }
                }
            }
            Reply::Booked { confirmation } => out.put_string(confirmation),
            Reply::Changed => out.put_u8(1),
            Reply::Monitoring { message }
            | Reply::Extended { message }
            | Reply::Cancelled { message } => {
                out.put_u8(1);
                out.put_string(message);
            }
            Reply::Error { code, message } => {
                out.put_u8(*code);
                out.put_string(message);
            }
        }
        out
    }

    /// Decodes a reply datagram (for our own client), as strictly as requests are
    /// decoded: lengths are limited ([`MAX_NAME`], [`MAX_DAYS`], [`MAX_MESSAGE`]) and
    /// checked against the bytes present before anything is allocated, times must be
    /// valid [`WeekTime`]s, every slot must have positive length, and no bytes may be
    /// left over.
    ///
    /// The success flag of replies 103-106 is read the seed's way (any non-zero byte is
    /// true). A false flag is refused with [`DecodeError::Invalid`]: the seed never
    /// sends one (it reports failure with an error reply), and no variant here could
    /// carry it.
    pub fn decode(datagram: &[u8]) -> Result<Reply, DecodeError> {
        let mut r = Reader::new(datagram);
        let reply = match r.u8()? {
            kind::QUERY_RESPONSE => {
                let (facility, days) = availability(&mut r)?;
                Reply::Availability { facility, days }
            }
            kind::MONITOR_UPDATE => {
                let (facility, days) = availability(&mut r)?;
                Reply::Update { facility, days }
            }
            kind::BOOK_RESPONSE => Reply::Booked {
                confirmation: string(&mut r, "confirmation id", MAX_NAME)?,
            },
            kind::CHANGE_RESPONSE => {
                success(&mut r)?;
                Reply::Changed
            }
            kind::MONITOR_RESPONSE => {
                success(&mut r)?;
                Reply::Monitoring {
                    message: string(&mut r, "message", MAX_MESSAGE)?,
                }
            }
            kind::EXTEND_RESPONSE => {
                success(&mut r)?;
                Reply::Extended {
                    message: string(&mut r, "message", MAX_MESSAGE)?,
                }
            }
            kind::CANCEL_RESPONSE => {
                success(&mut r)?;
                Reply::Cancelled {
                    message: string(&mut r, "message", MAX_MESSAGE)?,
                }
            }
            kind::ERROR => Reply::Error {
                code: r.u8()?,
                message: string(&mut r, "error message", MAX_MESSAGE)?,
            },
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "booking reply type",
                    tag,
                });
            }
        };
        r.finish()?;
        Ok(reply)
    }
}

/// Appends a `u32` element count.
fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).expect("a list of 4 billion items cannot be in a datagram");
    out.put_u32(len);
}

fn put_time(out: &mut Vec<u8>, t: WeekTime) {
    out.put_u8(t.day());
    out.put_u8(t.hour());
    out.put_u8(t.minute());
}

/// Reads a string of at most `max` bytes, naming the field if it is too long.
fn string(r: &mut Reader<'_>, what: &'static str, max: usize) -> Result<String, DecodeError> {
    r.string_max(max).map(str::to_owned).map_err(|e| match e {
        DecodeError::TooLong { len, max, .. } => DecodeError::TooLong { what, len, max },
        other => other,
    })
}

/// Reads the success flag of replies 103-106; see [`Reply::decode`].
fn success(r: &mut Reader<'_>) -> Result<(), DecodeError> {
    match r.u8()? {
        0 => Err(DecodeError::Invalid(
            "success flag is false, which the seed never sends",
        )),
        _ => Ok(()),
    }
}

/// Reads the payload shared by replies 101 and 200.
fn availability(r: &mut Reader<'_>) -> Result<(String, Vec<DayAvailability>), DecodeError> {
    let facility = string(r, "facility name", MAX_NAME)?;
    let claimed = usize::try_from(r.clone().u32()?).unwrap_or(usize::MAX);
    if claimed > MAX_DAYS {
        return Err(DecodeError::TooLong {
            what: "availability day list",
            len: claimed,
            max: MAX_DAYS,
        });
    }
    // Each day takes at least its day byte and its u32 slot count.
    let count = r.count(5)?;
    let mut days = Vec::with_capacity(count);
    for _ in 0..count {
        let day = r.u8()?;
        if day > 6 {
            return Err(DecodeError::Invalid(
                "availability day is not 0 (Mon) to 6 (Sun)",
            ));
        }
        // Each slot is two 3-byte times.
        let n = r.count(6)?;
        let mut slots = Vec::with_capacity(n);
        for _ in 0..n {
            let start = time(r)?;
            let end = time(r)?;
            if start.minutes() >= end.minutes() {
                return Err(DecodeError::Invalid(
                    "free slot does not end after it starts",
                ));
            }
            slots.push((start, end));
        }
        days.push(DayAvailability { day, slots });
    }
    Ok((facility, days))
}

fn time(r: &mut Reader<'_>) -> Result<WeekTime, DecodeError> {
    let [day, hour, minute] = read_time_bytes(r)?;
    WeekTime::new(day, hour, minute).map_err(|e| {
        DecodeError::Invalid(match e {
            WeekTimeError::Day(_) => "time's day is not 0 (Mon) to 6 (Sun)",
            WeekTimeError::Hour(_) => "time's hour is not 0-23 (or 24:00)",
            WeekTimeError::Minute(_) => "time's minute is not 0-59 (or 0 at 24:00)",
        })
    })
}
