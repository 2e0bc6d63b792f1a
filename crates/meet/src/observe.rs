//! The names the meet service records its requests under (see
//! [`convene_metrics`]): the kind of a client's request and what became of
//! it, each from a fixed set (never a user name a client sent).

use crate::handle::{Common, MeetCallError, RegisterError};

/// The service label.
pub(crate) const SERVICE: &str = "meet";
/// The main node's TCP front door for the seed's client.
pub(crate) const TCP: &str = "tcp";
/// Requests from code on this node (the web app, through [`MeetHandle`](crate::handle::MeetHandle)).
pub(crate) const WEB: &str = "web";

/// Request kinds.
pub(crate) mod kinds {
    /// Common free time of some users.
    pub const QUERY: &str = "query";
    /// A meeting registered on every backend involved.
    pub const REGISTER: &str = "register";
    /// A line that is no request (unparsable, too long, not UTF-8).
    pub const INVALID: &str = "invalid";
}

/// Outcomes, beside `ok`.
pub(crate) mod outcomes {
    /// Answered as asked.
    pub const OK: &str = "ok";
    /// Some names exist nowhere.
    pub const UNKNOWN_USER: &str = "unknown_user";
    /// Some users could not be asked (their backend did not answer, or
    /// its list has not arrived).
    pub const UNREACHABLE: &str = "unreachable";
    /// The request broke the protocol's rules.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The slot is not free (any more) for everyone.
    pub const REFUSED: &str = "refused";
    /// A backend failed or answered nonsense.
    pub const ERROR: &str = "error";
}

/// What a query's answer says: `unreachable` before `unknown_user` (an
/// answer with both cannot be trusted to be complete), else `ok`.
pub(crate) fn query_outcome(common: &Common) -> &'static str {
    if !common.unreachable.is_empty() {
        outcomes::UNREACHABLE
    } else if !common.missing.is_empty() {
        outcomes::UNKNOWN_USER
    } else {
        outcomes::OK
    }
}

/// What a failed call through the handle says.
pub(crate) fn call_outcome(error: &MeetCallError) -> &'static str {
    match error {
        MeetCallError::BadRequest(_) => outcomes::BAD_REQUEST,
        MeetCallError::NoMain | MeetCallError::Client(_) => outcomes::UNREACHABLE,
        MeetCallError::Failed(_) => outcomes::ERROR,
    }
}

/// What a registration through the handle came to.
pub(crate) fn register_outcome<T>(result: &Result<T, RegisterError>) -> &'static str {
    match result {
        Ok(_) => outcomes::OK,
        Err(RegisterError::Call(error)) => call_outcome(error),
        Err(RegisterError::Missing(_)) => outcomes::UNKNOWN_USER,
        Err(RegisterError::Unreachable(_)) => outcomes::UNREACHABLE,
        Err(RegisterError::NotInCommon { .. } | RegisterError::Refused(_)) => outcomes::REFUSED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle::{Reason, Unreachable};

    #[test]
    fn a_query_is_unreachable_before_it_is_unknown() {
        let mut common = Common {
            found: vec!["amy".into()],
            ..Common::default()
        };
        assert_eq!(query_outcome(&common), "ok");
        common.missing = vec!["ghost".into()];
        assert_eq!(query_outcome(&common), "unknown_user");
        common.unreachable = vec![Unreachable {
            users: vec!["bob".into()],
            reason: Reason::NoAnswer { server: "B".into() },
        }];
        assert_eq!(query_outcome(&common), "unreachable");
    }
}
