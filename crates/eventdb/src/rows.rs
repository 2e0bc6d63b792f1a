//! What every backend does the same way with rows: read stored text back
//! into the service's types (refusing what does not parse), and prepare a
//! new event's participant list.

use std::collections::HashSet;

use convene_events::DbError;
use convene_events::db::{
    Event, EventState, EventSummary, NewEvent, PageOf, Participant, decode_availability,
};

/// Reads back a stored `events.state`.
pub(crate) fn parse_state(text: &str) -> Result<EventState, DbError> {
    match text {
        "open" => Ok(EventState::Open),
        "final" => Ok(EventState::Final),
        other => Err(DbError::Corrupt(format!("event state {other:?}"))),
    }
}

/// The participants to store for a new event, in order: the creator (if
/// the list lacks them, first) and then everyone given, each once.
///
/// The service passes the creator among the participants and no repeats;
/// this makes sure of it, since a repeat would fail the insert as a
/// duplicate key (and read as "this event id exists"), and a missing
/// creator would not see their own event in [`events_page`].
///
/// [`events_page`]: convene_events::db::EventDb::events_page
pub(crate) fn dedup_participants(event: &NewEvent) -> Vec<&str> {
    let mut seen = HashSet::with_capacity(event.participants.len() + 1);
    let mut out = Vec::with_capacity(event.participants.len() + 1);
    if !event.participants.contains(&event.creator) {
        seen.insert(event.creator.as_str());
        out.push(event.creator.as_str());
    }
    for name in &event.participants {
        if seen.insert(name.as_str()) {
            out.push(name.as_str());
        }
    }
    out
}

/// An `events` row as read, before its text is checked.
pub(crate) struct EventRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub creator: String,
    pub deadline: i64,
    pub leader: String,
    pub state: String,
    pub result: Option<String>,
    pub created_at: i64,
}

impl EventRow {
    /// The event, with its participants; [`DbError::Corrupt`] if the state
    /// or result text does not parse.
    pub fn into_event(self, participants: Vec<Participant>) -> Result<Event, DbError> {
        Ok(Event {
            state: parse_state(&self.state)?,
            result: self
                .result
                .as_deref()
                .map(decode_availability)
                .transpose()?,
            id: self.id,
            name: self.name,
            description: self.description,
            creator: self.creator,
            deadline: self.deadline,
            leader: self.leader,
            created_at: self.created_at,
            participants,
        })
    }
}

/// One page of a user's events, as every backend asks for it: the
/// statement (with `?` placeholders, which SQLite, MySQL and, rewritten,
/// PostgreSQL all take), what to bind, and whether the rows come in
/// reverse list order.
///
/// The list runs `deadline DESC, id`. A page after a place reads on from
/// it in that order; a page before a place reads backwards from it (so
/// that `LIMIT` keeps the events nearest to it), and is turned round by
/// the caller. The place is compared as `(deadline, id)` with an `OR`
/// rather than a row value, because the two columns run in opposite
/// directions.
pub(crate) struct PageQuery<'a> {
    pub sql: &'static str,
    pub user: &'a str,
    /// `deadline, deadline, id` of the place, if any.
    pub place: Option<(i64, &'a str)>,
    pub limit: i64,
    pub reversed: bool,
}

const PAGE_FIRST: &str = "SELECT e.id, e.name, e.creator, e.deadline, e.state, e.result, p.answered
     FROM participants p JOIN events e ON e.id = p.event_id
     WHERE p.user_name = ?
     ORDER BY e.deadline DESC, e.id
     LIMIT ?";

const PAGE_AFTER: &str = "SELECT e.id, e.name, e.creator, e.deadline, e.state, e.result, p.answered
     FROM participants p JOIN events e ON e.id = p.event_id
     WHERE p.user_name = ? AND (e.deadline < ? OR (e.deadline = ? AND e.id > ?))
     ORDER BY e.deadline DESC, e.id
     LIMIT ?";

const PAGE_BEFORE: &str =
    "SELECT e.id, e.name, e.creator, e.deadline, e.state, e.result, p.answered
     FROM participants p JOIN events e ON e.id = p.event_id
     WHERE p.user_name = ? AND (e.deadline > ? OR (e.deadline = ? AND e.id < ?))
     ORDER BY e.deadline, e.id DESC
     LIMIT ?";

/// How many events `creator` made whose deadline has not passed (served
/// by the `events_by_creator_deadline` index).
pub(crate) const OPEN_EVENTS_CREATED: &str =
    "SELECT COUNT(*) FROM events WHERE creator = ? AND deadline > ?";

impl<'a> PageQuery<'a> {
    pub fn new(user: &'a str, page: &'a PageOf, limit: usize) -> Self {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (sql, place, reversed) = match page {
            PageOf::First => (PAGE_FIRST, None, false),
            PageOf::After(c) => (PAGE_AFTER, Some((c.deadline, c.id.as_str())), false),
            PageOf::Before(c) => (PAGE_BEFORE, Some((c.deadline, c.id.as_str())), true),
        };
        PageQuery {
            sql,
            user,
            place,
            limit,
            reversed,
        }
    }

    /// The rows read, as summaries in list order.
    pub fn summaries(&self, rows: Vec<SummaryRow>) -> Result<Vec<EventSummary>, DbError> {
        let mut out = rows
            .into_iter()
            .map(SummaryRow::into_summary)
            .collect::<Result<Vec<_>, _>>()?;
        if self.reversed {
            out.reverse();
        }
        Ok(out)
    }
}

/// One line of a page of a user's events, before its text is checked.
pub(crate) struct SummaryRow {
    pub id: String,
    pub name: String,
    pub creator: String,
    pub deadline: i64,
    pub state: String,
    pub result: Option<String>,
    pub answered: bool,
}

impl SummaryRow {
    /// The summary; [`DbError::Corrupt`] if the state or result text does
    /// not parse.
    pub fn into_summary(self) -> Result<EventSummary, DbError> {
        Ok(EventSummary {
            state: parse_state(&self.state)?,
            result: self
                .result
                .as_deref()
                .map(decode_availability)
                .transpose()?,
            id: self.id,
            name: self.name,
            creator: self.creator,
            deadline: self.deadline,
            answered: self.answered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(creator: &str, participants: &[&str]) -> NewEvent {
        NewEvent {
            id: "e".into(),
            name: "n".into(),
            description: String::new(),
            creator: creator.into(),
            participants: participants.iter().map(|p| p.to_string()).collect(),
            deadline: 0,
            leader: "s".into(),
            created_at: 0,
        }
    }

    #[test]
    fn participants_keep_their_order_once_each_with_the_creator() {
        assert_eq!(
            dedup_participants(&event("a", &["b", "a", "c"])),
            ["b", "a", "c"]
        );
        assert_eq!(
            dedup_participants(&event("a", &["b", "c", "b"])),
            ["a", "b", "c"]
        );
        assert_eq!(dedup_participants(&event("a", &[])), ["a"]);
    }

    #[test]
    fn unknown_states_are_corrupt() {
        assert_eq!(parse_state("open").unwrap(), EventState::Open);
        assert_eq!(parse_state("final").unwrap(), EventState::Final);
        assert!(matches!(parse_state("Open"), Err(DbError::Corrupt(_))));
    }
}
