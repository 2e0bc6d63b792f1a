//! Where booking state outlives its node: the cluster's database.
//!
//! A facility is served by one node at a time, its *owner*, which answers
//! from memory; but what it has acknowledged is in a database every node can
//! read, so when the owner dies another node loads the facility and carries
//! on with every acknowledged booking and every kept reply (at-most-once
//! holds across the move).
//!
//! # Fencing
//!
//! Who owns a facility is a row `(facility, node, token, term)`. The token
//! grows every time the row names another node ([`BookingDb::assign`], a
//! decision of the coordinator under its quorum term, refused if a higher
//! term has decided since), and every
//! write names the token its owner was given ([`FencedWrite::token`]): the
//! database commits a write only if the facility's token is still that one,
//! in the same transaction. So an owner that was cut off, or paused, and
//! has not yet heard that its facility moved cannot change anything: its
//! writes are refused ([`Committed::Fenced`]) and it lets the facility go.
//! Whoever assigns, and however late anyone learns of it, two owners never
//! both write.
//!
//! # What is kept where
//!
//! Live *and* cancelled bookings are rows; the owner keeps only the live
//! ones of its facilities in memory and fetches a cancelled one back for the
//! request that names it ([`BookingDb::booking`]), so a node's memory is
//! bounded by live state. Kept replies carry their facility, so a new owner
//! loads exactly those of the facilities it takes on.

use std::fmt;

pub use convene_store::{BookingRow, ReplyRow};

pub mod sqlite;

/// Who owns a facility, as the database says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnerRow {
    /// The facility.
    pub facility: String,
    /// The owning node's position in the cluster file.
    pub node: u32,
    /// Grows whenever the facility changes owner; writes must name it.
    pub token: u64,
    /// The coordinator's term that chose this owner (0 for a first claim);
    /// no assignment of a lower term is taken after it.
    pub term: u64,
}

/// One request's writes, fenced by its facility's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FencedWrite {
    /// The facility the request was executed on.
    pub facility: String,
    /// The token the writing owner holds for it.
    pub token: u64,
    /// The booking as it is after the request, if it changed.
    pub booking: Option<BookingRow>,
    /// Whether `booking` is new (a book): then an existing row with its id
    /// fails the batch instead of being overwritten.
    pub created: bool,
    /// The reply to keep (at-most-once), if any.
    pub reply: Option<ReplyRow>,
    /// Kept replies to drop (client `ip:port`, request id): those the
    /// owner's bounded record let go of.
    pub forget: Vec<(String, u32)>,
}

/// What became of one write of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Committed {
    /// Durably stored.
    Stored,
    /// Refused: the facility's token is no longer the writer's.
    Fenced,
}

/// Why the database could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum BookingDbError {
    /// The engine failed (out of reach, disk full, locked too long...).
    #[error("booking database {name}: {message}")]
    Engine {
        /// Which database (a path or a redacted URL).
        name: String,
        /// The engine's words.
        message: String,
    },
    /// A stored value is not one this version could have written.
    #[error("booking database {name}: corrupt row in {table}: {problem}")]
    Corrupt {
        /// Which database.
        name: String,
        /// The table.
        table: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// The database was written by a newer Convene.
    #[error(
        "booking database {name} has schema version {found}, newer than this Convene knows ({known})"
    )]
    TooNew {
        /// Which database.
        name: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
}

/// What the booking service needs from a database. Every method is one
/// atomic step and blocks: callers run it on a blocking thread.
pub trait BookingDb: Send + Sync + fmt::Debug + 'static {
    /// A name for logs: the file or redacted URL.
    fn name(&self) -> String;

    /// The connection pool's use now, for the node's metrics; `None` for a
    /// backend without a pool (SQLite's one connection).
    fn pool_use(&self) -> Option<convene_metrics::PoolUse> {
        None
    }

    /// Every facility's owner.
    fn owners(&self) -> Result<Vec<OwnerRow>, BookingDbError>;

    /// Makes `node` the owner of `facility` if nobody ever owned it; returns
    /// the facility's row afterwards (the claim's, or the earlier owner's).
    fn claim_unowned(&self, facility: &str, node: u32) -> Result<OwnerRow, BookingDbError>;

    /// Makes `node` the owner of `facility` by the decision of coordinator
    /// term `term`, the token growing if the owner changes, unless a
    /// higher term has assigned it since; returns the row afterwards (which
    /// still names the earlier owner if it was refused).
    fn assign(&self, facility: &str, node: u32, term: u64) -> Result<OwnerRow, BookingDbError>;

    /// The live (not cancelled) bookings of `facility`.
    fn live_bookings(&self, facility: &str) -> Result<Vec<BookingRow>, BookingDbError>;

    /// The replies kept for requests on `facility` made at or after `since_ms`.
    fn replies(&self, facility: &str, since_ms: i64) -> Result<Vec<ReplyRow>, BookingDbError>;

    /// The booking with this id, live or cancelled.
    fn booking(&self, id: &str) -> Result<Option<BookingRow>, BookingDbError>;

    /// Commits a batch in one transaction: each write is stored if its
    /// token is its facility's current one, and refused otherwise.
    fn commit(&self, writes: &[FencedWrite]) -> Result<Vec<Committed>, BookingDbError>;

    /// Forgets kept replies made before `before_ms`; returns how many.
    fn prune_replies(&self, before_ms: i64) -> Result<usize, BookingDbError>;

    /// Copies bookings kept by an earlier version in a node's own store,
    /// keeping any the database already has; returns how many were new.
    fn import(&self, bookings: &[BookingRow]) -> Result<usize, BookingDbError>;
}

/// Checks a stored booking's times as this version writes them.
pub fn check_row(name: &str, b: &BookingRow) -> Result<(), BookingDbError> {
    let week = convene_time::MINUTES_PER_WEEK;
    if b.start >= b.end || b.end > week || b.original_end > week || b.start >= b.original_end {
        return Err(BookingDbError::Corrupt {
            name: name.to_string(),
            table: "booking_record",
            problem: format!("booking {} spans {}..{}", b.id, b.start, b.end),
        });
    }
    Ok(())
}
