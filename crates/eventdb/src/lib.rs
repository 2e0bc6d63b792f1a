//! The events service's shared database, on SQLite, MySQL/MariaDB or
//! PostgreSQL, and its optional Redis working set.
//!
//! `convene-events` names what the service needs from a database, the
//! [`EventDb`] trait, and from a working set, the [`WorkingSet`] trait.
//! This crate implements them:
//!
//! - [`open()`] reads a `database_url` and returns the matching backend,
//!   connected and with its schema up to date;
//! - [`open_working_set()`] returns a memory working set, or a Redis one if
//!   a `redis_url` is given.
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let db = convene_eventdb::open("postgres://convene@db.lan/convene").await?;
//! let working = convene_eventdb::open_working_set(Some("redis://127.0.0.1:6379")).await?;
//! println!("events on {}, working set in {}", db.backend(), working.kind());
//! # Ok(()) }
//! ```
//!
//! # Which engine
//!
//! SQLite needs nothing installed and suits a cluster whose nodes run on
//! one machine: they all open the same file. Nodes on several machines
//! share a MySQL/MariaDB or PostgreSQL server instead. The three backends
//! pass one conformance suite (`tests/backends/conformance.rs`), so the service
//! behaves the same on each.
//!
//! # Guarantees every backend keeps
//!
//! - Each [`EventDb`] method is one atomic step: a transaction wherever it
//!   writes more than one row.
//! - The compare-and-set steps hold under concurrency, across processes:
//!   of two `finish` calls on one event exactly one stores a result; a
//!   constraint is stored only while its event is open, and never outlives
//!   the event's result; `set_leader` changes the leader only from the one
//!   expected.
//! - Errors are [`DbError`]s: a repeated key is `Duplicate`, a database out
//!   of reach is `Unavailable`, a stored value that does not parse is
//!   `Corrupt` (never a panic).
//! - Schemas are versioned and migrated on open, safely when several nodes
//!   open one database at once ([`migrations`]).
//!
//! # Layout
//!
//! - [`open`](mod@open): reading the URL and choosing the backend.
//! - [`migrations`]: the versioned schema of each engine, the tables.
//! - [`sqlite`]: the SQLite backend (rusqlite, readers on the blocking
//!   pool, a writer on a commit thread).
//! - `group_commit`: that thread, which commits many callers' writes in one
//!   durable transaction.
//! - [`sql`]: the MySQL/MariaDB and PostgreSQL backends, one
//!   implementation over sqlx; [`sql::mysql`] and [`sql::postgres`] hold
//!   what differs.
//! - [`redis`]: the Redis working set.
//! - [`dump`]: every table of ours on a server, read as one snapshot and
//!   written back (`convene backup` and `convene restore`).
//! - [`error`]: [`OpenError`], and how each engine's errors become
//!   [`DbError`]s.
//! - `rows`: reading stored rows back, the same for every backend.
//!
//! [`EventDb`]: convene_events::EventDb
//! [`WorkingSet`]: convene_events::working::WorkingSet
//! [`DbError`]: convene_events::DbError

#![deny(missing_docs)]

pub mod booking_sql;
pub mod dump;
pub mod error;
pub mod files_sql;
mod group_commit;
pub mod migrations;
pub mod open;
pub mod redis;
mod rows;
pub mod sql;
pub mod sqlite;

pub use crate::booking_sql::open_booking;
pub use crate::error::OpenError;
pub use crate::files_sql::open_lock_book;
pub use crate::open::{open, open_working_set};
pub use crate::redis::RedisWorkingSet;
pub use crate::sql::{MySqlDb, PostgresDb};
pub use crate::sqlite::SqliteDb;
