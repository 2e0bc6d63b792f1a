//! A node's persistent store.
//!
//! Each node keeps one SQLite file, `convene.db`, in its data directory:
//! nothing to install, one file to back up. The database is opened in WAL
//! mode, every change is one transaction, and the schema is versioned (see
//! [`migrations`]), so a node stopped at any moment reopens to a consistent
//! state and an older data directory is upgraded in place. Every commit is
//! synced to disk before it returns (`synchronous = FULL`), so what a node
//! has answered "done" survives a power cut, not only a crash.
//!
//! Services do not write SQL of their own: each has a module here with the
//! typed operations it needs, so a table has one owner and one place to read.
//!
//! # Layout
//!
//! - [`store`]: opening the file, pragmas, the connection.
//! - [`migrations`]: the ordered list of schema versions and how they apply.
//! - [`meet`]: registered meetings of the meet service.
//! - [`booking`]: bookings, the id sequence and kept replies of the booking
//!   service.
//! - [`files`]: the files service's records, held updates and locks.
//! - [`error`]: the typed errors of this crate.

#![deny(missing_docs)]

pub mod booking;
pub mod error;
pub mod files;
pub mod meet;
pub mod migrations;
pub mod store;

pub use booking::{BookingRow, BookingWrite, ReplyRow};
pub use error::StoreError;
pub use meet::MeetingRecord;
pub use store::Store;
