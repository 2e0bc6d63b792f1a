//! What the events service keeps in its shared database, and the interface
//! every database backend implements.
//!
//! All nodes of a cluster share one database (`database_url`): one SQLite
//! file when the nodes run on one machine, MySQL/MariaDB or PostgreSQL when
//! they run on several. It holds the accounts and sessions, the events and
//! their results, and a backup of every constraint an event server has
//! accepted, tagged with that server, so that a dead server's share can be
//! handed to another. The backends live in `convene-eventdb`; this crate
//! only names what they must do, so the service and the web front never
//! know which engine is behind them.
//!
//! [`MemoryDb`] is the same behaviour in this process, for tests.
//!
//! Every instant is Unix seconds (UTC). Availabilities are stored as text,
//! [`encode_availability`]: `start-end` pairs separated by commas.

use std::future::Future;
use std::pin::Pin;

use crate::interval::{Availability, Interval, Partial};

mod memory;

pub use memory::MemoryDb;

/// A boxed, sendable future borrowing the database: what [`EventDb`]'s
/// methods return (a trait object cannot have `async fn`s).
pub type DbFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, DbError>> + Send + 'a>>;

/// A failure of the database, as the service sees it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// A row with this key already exists (a taken user name, an event id).
    #[error("already exists")]
    Duplicate,
    /// The database could not be reached or refused the connection.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("database error: {0}")]
    Query(String),
    /// A stored value could not be read back (edited by hand, or a bug).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
}

/// An account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// The user name, unique, case-sensitive.
    pub name: String,
    /// The argon2id hash, as a PHC string.
    pub password_hash: String,
    /// The IANA zone times are shown and typed in.
    pub time_zone: String,
}

/// A logged-in browser or API client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// Hex SHA-like digest of the cookie's token: a leaked database does not
    /// hand out live sessions.
    pub token_hash: String,
    /// Whose session it is.
    pub user: String,
    /// The token every form of this session must carry.
    pub csrf: String,
    /// When it stops being valid (Unix seconds).
    pub expires_at: i64,
}

/// An event's life: open for constraints until its deadline, then final.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventState {
    /// Before the result is stored.
    Open,
    /// The result is stored; nothing changes any more.
    Final,
}

impl EventState {
    /// `"open"` or `"final"`, as stored and as the API shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            EventState::Open => "open",
            EventState::Final => "final",
        }
    }
}

/// An event as created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Its id ([`crate::ids::new_event_id`]).
    pub id: String,
    /// A short title.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who created it.
    pub creator: String,
    /// Everyone invited, the creator included, without repeats.
    pub participants: Vec<String>,
    /// When constraints stop being accepted (Unix seconds).
    pub deadline: i64,
    /// The event server that took its creation and computes its result.
    pub leader: String,
    /// When it was created (Unix seconds).
    pub created_at: i64,
}

/// One invited person and whether they have answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participant {
    /// The user name.
    pub name: String,
    /// True once any constraint of theirs was accepted.
    pub answered: bool,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// Its id.
    pub id: String,
    /// A short title.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who created it.
    pub creator: String,
    /// When constraints stop being accepted (Unix seconds).
    pub deadline: i64,
    /// The event server that computes (or computed) its result.
    pub leader: String,
    /// Open or final.
    pub state: EventState,
    /// The common time, once final (possibly empty).
    pub result: Option<Availability>,
    /// When it was created (Unix seconds).
    pub created_at: i64,
    /// Everyone invited, in the order given at creation.
    pub participants: Vec<Participant>,
}

/// One line of a user's "my events" list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSummary {
    /// The event's id.
    pub id: String,
    /// Its title.
    pub name: String,
    /// Who created it.
    pub creator: String,
    /// Its deadline (Unix seconds).
    pub deadline: i64,
    /// Open or final.
    pub state: EventState,
    /// The common time, once final.
    pub result: Option<Availability>,
    /// Whether this user has answered.
    pub answered: bool,
}

/// A place in a user's "my events" list, which runs latest deadline first
/// and, among events with one deadline, by id: the `(deadline, id)` of the
/// event the place is next to. A page that starts from a place holds the
/// same events however many are created meanwhile elsewhere in the list
/// (an offset would shift by one for each, and show an event twice or
/// never).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventCursor {
    /// The event's deadline (Unix seconds).
    pub deadline: i64,
    /// The event's id.
    pub id: String,
}

impl EventCursor {
    /// The place of this line of the list.
    pub fn of(summary: &EventSummary) -> Self {
        EventCursor {
            deadline: summary.deadline,
            id: summary.id.clone(),
        }
    }
}

/// Which page of a user's events to read ([`EventDb::events_page`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageOf {
    /// The first events of the list.
    First,
    /// The events that come after this place.
    After(EventCursor),
    /// The events that come before this place (the page before one that
    /// starts there).
    Before(EventCursor),
}

/// An accepted constraint, backed up for recovery until the event is final.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constraint {
    /// The event it is for.
    pub event: String,
    /// Who submitted it.
    pub user: String,
    /// The event server that accepted it. It is also the constraint's first
    /// holder; the coordinator may later hand it to another server
    /// ([`EventDb::move_constraints`]), but who accepted it never changes.
    pub server: String,
    /// The times the user can make.
    pub availability: Availability,
    /// When it was accepted (Unix seconds).
    pub submitted_at: i64,
}

/// An open event, as the recovery scan needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenEvent {
    /// The event's id.
    pub id: String,
    /// Its leader.
    pub leader: String,
    /// Its deadline (Unix seconds).
    pub deadline: i64,
}

/// A booking made through the web app, and the account it belongs to.
///
/// The booking itself lives with the booking service; this row is what
/// the web app adds: whose it is (only that account may change it over
/// HTTP) and where it was last seen, for "my bookings". It lives here,
/// next to the accounts, because every web front shares this database,
/// while a node without a booking role has no shared booking database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountBooking {
    /// The booking service's confirmation id.
    pub id: String,
    /// The account that made it.
    pub account: String,
    /// The facility booked.
    pub facility: String,
    /// Its start, in minutes since Monday 00:00 (the booking week).
    pub start: i64,
    /// Its end, in the same minutes.
    pub end: i64,
}

/// The shared database, whatever engine is behind it.
///
/// Every method is one atomic step: a backend runs each in a transaction
/// where it writes more than one row.
pub trait EventDb: Send + Sync + 'static {
    /// `"sqlite"`, `"mysql"` or `"postgres"`.
    fn backend(&self) -> &'static str;

    /// The connection pool's use now, for the node's metrics; `None` for a
    /// backend without a pool of its own (SQLite: one writer and a few
    /// readers opened on demand, in memory: none).
    fn pool_use(&self) -> Option<convene_metrics::PoolUse> {
        None
    }

    /// Adds an account; [`DbError::Duplicate`] if the name is taken.
    fn create_user<'a>(&'a self, user: &'a User) -> DbFuture<'a, ()>;

    /// The account with this name.
    fn user<'a>(&'a self, name: &'a str) -> DbFuture<'a, Option<User>>;

    /// Those of `names` that have no account, in the order given.
    fn unknown_users<'a>(&'a self, names: &'a [String]) -> DbFuture<'a, Vec<String>>;

    /// Stores a new session.
    fn create_session<'a>(&'a self, session: &'a Session) -> DbFuture<'a, ()>;

    /// The session with this token hash, expired or not (the caller checks).
    fn session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, Option<Session>>;

    /// Ends a session (logout). Ending one that does not exist is not an error.
    fn delete_session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, ()>;

    /// Stores a new event, open, with its participants (none answered);
    /// [`DbError::Duplicate`] if the id exists.
    fn create_event<'a>(&'a self, event: &'a NewEvent) -> DbFuture<'a, ()>;

    /// The event with this id, participants included.
    fn event<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<Event>>;

    /// At most `limit` of the events `user` created or is invited to, in
    /// the list's order (latest deadline first, then by id): the first
    /// ones, those right after a place, or those right before it ([`PageOf`]).
    /// The database reads only what the page needs (`LIMIT`), however many
    /// events the user has.
    fn events_page<'a>(
        &'a self,
        user: &'a str,
        page: &'a PageOf,
        limit: usize,
    ) -> DbFuture<'a, Vec<EventSummary>>;

    /// How many events `creator` created whose deadline is after `now`
    /// (Unix seconds): what the cap on open events per user counts.
    fn open_events_created<'a>(&'a self, creator: &'a str, now: i64) -> DbFuture<'a, u64>;

    /// Backs up an accepted constraint and marks its user as answered, in
    /// one transaction, **only while the event is open**. Returns false (and
    /// stores nothing) if the event is final or unknown.
    fn add_constraint<'a>(&'a self, constraint: &'a Constraint) -> DbFuture<'a, bool>;

    /// The backed-up constraints of `event` that `server` holds now **or**
    /// accepted itself, oldest first: what `server` rebuilds its partial
    /// from. (A server that was wrongly declared dead and restarted gets back
    /// what it accepted even if its share was handed on; counting a
    /// constraint twice changes no intersection.)
    fn constraints<'a>(
        &'a self,
        event: &'a str,
        server: &'a str,
    ) -> DbFuture<'a, Vec<Availability>>;

    /// Every open event, by deadline.
    fn open_events(&self) -> DbFuture<'_, Vec<OpenEvent>>;

    /// Makes `to` the leader of `event` if it is open and `from` still leads
    /// it (compare and set). Returns whether it changed.
    fn set_leader<'a>(&'a self, event: &'a str, from: &'a str, to: &'a str) -> DbFuture<'a, bool>;

    /// Hands every backed-up constraint `from` holds to `to` (the holder
    /// changes; who accepted it does not). Returns the ids of the events
    /// concerned, sorted, without repeats.
    fn move_constraints<'a>(&'a self, from: &'a str, to: &'a str) -> DbFuture<'a, Vec<String>>;

    /// Stores `booking`, replacing any row with its id (a booking made,
    /// or moved or extended, over HTTP).
    fn save_account_booking<'a>(&'a self, booking: &'a AccountBooking) -> DbFuture<'a, ()>;

    /// The web-made booking with this id, if any.
    fn account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<AccountBooking>>;

    /// Every booking `account` made over HTTP and has not cancelled, by
    /// facility and start.
    fn account_bookings<'a>(&'a self, account: &'a str) -> DbFuture<'a, Vec<AccountBooking>>;

    /// Forgets a web-made booking (cancelled). Forgetting one that does not
    /// exist is not an error.
    fn delete_account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, ()>;

    /// The leader's last step, in one transaction: if `event` is still
    /// open, fold into `collected` (the partials the servers in `answered`
    /// sent) every backed-up constraint accepted by a server **not** in
    /// `answered`, store the result, make the event final and delete its
    /// backups. Returns the result, or `None` if the event was not open
    /// (another leader finished it, or it does not exist).
    ///
    /// Reading the backups inside the transaction that makes the event final
    /// is what guarantees that every acknowledged constraint is counted: a
    /// backup commits either before this transaction locks the event (and is
    /// read here, or is in an answering server's partial) or after (and then
    /// finds the event final and is refused), whatever the timing.
    fn finish<'a>(
        &'a self,
        event: &'a str,
        collected: &'a Partial,
        answered: &'a [String],
    ) -> DbFuture<'a, Option<Availability>>;
}

/// An availability as stored: `start-end` pairs of Unix seconds separated by
/// commas (`1767261600-1767265200,1767272400-1767276000`); empty for none.
pub fn encode_availability(availability: &Availability) -> String {
    let mut out = String::new();
    for (i, interval) in availability.as_slice().iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{}-{}", interval.start(), interval.end()));
    }
    out
}

/// Reads back [`encode_availability`]'s text; anything else is
/// [`DbError::Corrupt`].
pub fn decode_availability(text: &str) -> Result<Availability, DbError> {
    if text.is_empty() {
        return Ok(Availability::new());
    }
    let corrupt = || DbError::Corrupt(format!("availability {text:?}"));
    let mut intervals = Vec::new();
    for pair in text.split(',') {
        let (start, end) = pair.split_once('-').ok_or_else(corrupt)?;
        let start: i64 = start.parse().map_err(|_| corrupt())?;
        let end: i64 = end.parse().map_err(|_| corrupt())?;
        intervals.push(Interval::new(start, end).map_err(|_| corrupt())?);
    }
    Ok(Availability::from_iter(intervals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_text_round_trips_and_refuses_garbage() {
        let a = Availability::from_iter([
            Interval::new(100, 200).unwrap(),
            Interval::new(300, 400).unwrap(),
        ]);
        assert_eq!(encode_availability(&a), "100-200,300-400");
        assert_eq!(decode_availability("100-200,300-400").unwrap(), a);
        assert_eq!(decode_availability("").unwrap(), Availability::new());
        for bad in ["100", "100-", "a-b", "200-100", "100-200,", "-5-3"] {
            assert!(decode_availability(bad).is_err(), "{bad:?}");
        }
    }
}
