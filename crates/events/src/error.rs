//! Why the events service refused a request.

use crate::db::DbError;

/// A refusal, with the message a user reads. The web front maps each to an
/// HTTP status ([`EventsError::status`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventsError {
    /// No event has this id.
    #[error("no event has the id {0:?}")]
    UnknownEvent(String),
    /// The user is not among the event's participants.
    #[error("{user:?} is not invited to this event")]
    NotInvited {
        /// Who asked.
        user: String,
    },
    /// The deadline has passed: the event no longer takes constraints.
    #[error("the deadline has passed: this event no longer takes availability")]
    DeadlinePassed,
    /// Some participants have no account.
    #[error("no user is called {}", .0.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", "))]
    UnknownUsers(Vec<String>),
    /// The request itself is wrong (an empty name, a deadline in the past).
    #[error("{0}")]
    Invalid(String),
    /// The event would have more participants than one event may
    /// (`limits.participants_per_event`, the creator included).
    #[error("an event may have at most {limit} participants, you included; this one has {given}")]
    TooManyParticipants {
        /// The cap.
        limit: usize,
        /// How many were given, the creator included, each once.
        given: usize,
    },
    /// The creator already has as many open events as one user may
    /// (`limits.open_events_per_user`).
    #[error(
        "you have {open} events whose deadline has not passed, and one person may have at most \
         {limit}; you can create another once one of their deadlines has passed"
    )]
    TooManyOpenEvents {
        /// The cap.
        limit: usize,
        /// How many the creator has.
        open: u64,
    },
    /// No event server is live to take the request.
    #[error("no event server is available; try again shortly")]
    NoEventServer,
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

impl EventsError {
    /// The HTTP status that fits: 4xx for the asker's mistakes, 5xx for ours.
    pub fn status(&self) -> u16 {
        match self {
            EventsError::UnknownEvent(_) => 404,
            EventsError::NotInvited { .. } => 403,
            EventsError::DeadlinePassed => 409,
            EventsError::UnknownUsers(_)
            | EventsError::Invalid(_)
            | EventsError::TooManyParticipants { .. } => 400,
            // Not 429: the cap lifts when one of the user's own deadlines
            // passes (maybe weeks away), not after a wait a client could
            // retry on; the request conflicts with the account's state.
            EventsError::TooManyOpenEvents { .. } => 409,
            EventsError::NoEventServer => 503,
            EventsError::Db(DbError::Duplicate) => 409,
            EventsError::Db(_) => 503,
        }
    }
}
