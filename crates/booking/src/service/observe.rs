//! The names the booking service records its requests under (see
//! [`convene_metrics`]): a request's kind, and what became of it.
//!
//! Every label value is one of the fixed names here, chosen from the type
//! byte and the reply's bytes, never from what a client wrote: a stranger's
//! facility name as a label would let anyone grow the registry without
//! bound. They are `&'static str`, so recording a request allocates nothing
//! beyond what [`Metrics::begin`](convene_metrics::Metrics::begin) does.

use crate::config::Semantics;
use crate::wire::{ErrorCode, Request, kind};

/// The service label.
pub(super) const SERVICE: &str = "booking";

/// The UDP front door's label.
pub(super) const UDP: &str = "udp";

/// The label of requests from code on this node (the web app).
pub(super) const WEB: &str = "web";

/// The kind of a datagram of type `type_byte` at a front door of
/// `semantics`: the request's name and the semantics it was served under,
/// e.g. `book/at_most_once` (two front doors of a cluster may differ, and
/// so do their costs). A type byte the seed does not define is `unknown`.
pub(super) fn udp_kind(type_byte: u8, semantics: Semantics) -> &'static str {
    let at_most_once = semantics == Semantics::AtMostOnce;
    match (type_byte, at_most_once) {
        (kind::QUERY_AVAILABILITY, true) => "availability/at_most_once",
        (kind::QUERY_AVAILABILITY, false) => "availability/at_least_once",
        (kind::BOOK_FACILITY, true) => "book/at_most_once",
        (kind::BOOK_FACILITY, false) => "book/at_least_once",
        (kind::CHANGE_BOOKING, true) => "change/at_most_once",
        (kind::CHANGE_BOOKING, false) => "change/at_least_once",
        (kind::MONITOR_REGISTER, true) => "monitor/at_most_once",
        (kind::MONITOR_REGISTER, false) => "monitor/at_least_once",
        (kind::EXTEND_BOOKING, true) => "extend/at_most_once",
        (kind::EXTEND_BOOKING, false) => "extend/at_least_once",
        (kind::CANCEL_BOOKING, true) => "cancel/at_most_once",
        (kind::CANCEL_BOOKING, false) => "cancel/at_least_once",
        (_, true) => "unknown/at_most_once",
        (_, false) => "unknown/at_least_once",
    }
}

/// The kind of a request from code on this node: its name alone (the web
/// app's requests bypass the reply cache, so no semantics apply).
pub(super) fn web_kind(request: &Request) -> &'static str {
    match request {
        Request::Query { .. } => "availability",
        Request::Book { .. } => "book",
        Request::Change { .. } => "change",
        Request::Monitor { .. } => "monitor",
        Request::Extend { .. } => "extend",
        Request::Cancel { .. } => "cancel",
    }
}

/// What a reply says became of its request: `ok`, or why not, by the
/// seed's error code —
///
/// - `refused`: the booking rules said no (the time is taken, the booking
///   is cancelled already);
/// - `not_found`: no such facility or booking;
/// - `bad_request`: the request made no sense (a bad time range, a
///   malformed datagram, an unknown type).
pub(super) fn outcome(reply: &[u8]) -> &'static str {
    match reply {
        [kind::ERROR, code, ..] => match ErrorCode::from_code(*code) {
            Some(ErrorCode::FacilityUnavailable | ErrorCode::AlreadyCancelled) => "refused",
            Some(
                ErrorCode::FacilityNotFound
                | ErrorCode::InvalidConfirmationId
                | ErrorCode::BookingNotFound,
            ) => "not_found",
            Some(ErrorCode::InvalidTimeRange | ErrorCode::InvalidRequest) | None => "bad_request",
        },
        _ => "ok",
    }
}

/// Outcomes the front door decides itself, beside [`outcome`]'s.
pub(super) mod outcomes {
    /// A retry answered from the reply cache.
    pub const CACHED: &str = "cached";
    /// A retry of a request still being executed: dropped (the first
    /// execution's reply answers it).
    pub const IN_PROGRESS: &str = "in_progress";
    /// The node serving the facility is busy or taking it over: no reply,
    /// the client retries.
    pub const BUSY: &str = "busy";
    /// The node serving the facility did not answer a forwarded request.
    pub const FORWARD_FAILED: &str = "forward_failed";
    /// The booking database did not answer.
    pub const UNAVAILABLE: &str = "unavailable";
    /// Refused by a limit of this front door (monitor registrations).
    pub const REFUSED: &str = "refused";
    /// Not for this door (monitoring through the web handle).
    pub const BAD_REQUEST: &str = "bad_request";
}

/// Events counted beside the requests.
pub(super) mod events {
    /// A request dropped by the configured loss simulation.
    pub const SIMULATED_REQUEST_LOSS: &str = "simulated_request_loss";
    /// A reply dropped by the configured loss simulation.
    pub const SIMULATED_REPLY_LOSS: &str = "simulated_reply_loss";
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Reply;

    #[test]
    fn every_type_byte_has_a_kind_from_a_fixed_set() {
        let mut kinds = std::collections::HashSet::new();
        for byte in 0..=u8::MAX {
            for semantics in [Semantics::AtMostOnce, Semantics::AtLeastOnce] {
                kinds.insert(udp_kind(byte, semantics));
            }
        }
        // Six requests and "unknown", under two semantics.
        assert_eq!(kinds.len(), 14);
        assert_eq!(
            udp_kind(kind::BOOK_FACILITY, Semantics::AtMostOnce),
            "book/at_most_once"
        );
        assert_eq!(
            udp_kind(kind::CANCEL_BOOKING, Semantics::AtLeastOnce),
            "cancel/at_least_once"
        );
        assert_eq!(udp_kind(77, Semantics::AtMostOnce), "unknown/at_most_once");
    }

    #[test]
    fn a_reply_tells_its_outcome() {
        let booked = Reply::Booked {
            confirmation: "CONF1-1".into(),
        };
        assert_eq!(outcome(&booked.encode()), "ok");
        let taken = Reply::error(ErrorCode::FacilityUnavailable, "taken");
        assert_eq!(outcome(&taken.encode()), "refused");
        let nowhere = Reply::error(ErrorCode::FacilityNotFound, "no such facility");
        assert_eq!(outcome(&nowhere.encode()), "not_found");
        let nonsense = Reply::error(ErrorCode::InvalidRequest, "Unknown request type: 9");
        assert_eq!(outcome(&nonsense.encode()), "bad_request");
        assert_eq!(outcome(&[kind::ERROR, 200]), "bad_request");
        assert_eq!(outcome(&[]), "ok");
    }
}
