//! The names the events service records under (see [`convene_metrics`]):
//! events created and constraints submitted through the web front, and
//! each request an event server answers for its peers (a constraint
//! folded in, a partial solution computed at the deadline...), with what
//! became of it. Every label is a name from here, never an event id or a
//! user.

use crate::error::EventsError;
use crate::peer_msg::{Reply, Request};

/// The service label.
pub(crate) const SERVICE: &str = "events";
/// Requests from the web front on this node ([`Events`](super::Events)).
pub(crate) const WEB: &str = "web";
/// Requests from other nodes to this node's event server.
pub(crate) const PEER: &str = "peer";

/// Kinds of web requests.
pub(crate) mod kinds {
    /// An event created.
    pub const CREATE: &str = "create";
    /// A user's availability submitted.
    pub const SUBMIT: &str = "submit";
}

/// A partial solution sent to an event's leader at its deadline.
pub(crate) const PARTIAL_SOLUTION: &str = "partial_solution";

/// The kind of a peer request.
pub(crate) fn peer_kind(request: &Request) -> &'static str {
    match request {
        Request::Submit { .. } => "submit",
        Request::Lead { .. } => "lead",
        Request::Freeze { .. } => "freeze",
        Request::Adopt { .. } => "adopt",
        Request::Clear { .. } => "clear",
    }
}

/// What a refusal says became of a request.
pub(crate) fn error_outcome(error: &EventsError) -> &'static str {
    match error {
        EventsError::UnknownEvent(_) => "not_found",
        EventsError::UnknownUsers(_) => "unknown_user",
        EventsError::Invalid(_) => "bad_request",
        EventsError::NotInvited { .. }
        | EventsError::DeadlinePassed
        | EventsError::TooManyParticipants { .. }
        | EventsError::TooManyOpenEvents { .. } => "refused",
        EventsError::NoEventServer => "unavailable",
        EventsError::Db(_) => "error",
    }
}

/// What became of a web request.
pub(crate) fn outcome<T>(result: &Result<T, EventsError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(error) => error_outcome(error),
    }
}

/// What an event server's answer says.
pub(crate) fn reply_outcome(reply: &Reply) -> &'static str {
    match reply {
        Reply::Done | Reply::Partial(_) => "ok",
        Reply::Refused(error) => error_outcome(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_have_bounded_outcomes() {
        assert_eq!(outcome(&Ok::<_, EventsError>(())), "ok");
        let late: Result<(), _> = Err(EventsError::DeadlinePassed);
        assert_eq!(outcome(&late), "refused");
        let nobody: Result<(), _> = Err(EventsError::UnknownUsers(vec!["x".into()]));
        assert_eq!(outcome(&nobody), "unknown_user");
        assert_eq!(
            reply_outcome(&Reply::Refused(EventsError::NoEventServer)),
            "unavailable"
        );
    }
}
