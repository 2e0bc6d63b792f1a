//! Versioned schema migrations.
//!
//! The schema is the list [`MIGRATIONS`], applied in order. The database
//! remembers the last version it reached in `PRAGMA user_version`, so opening
//! a store applies exactly the migrations it has not seen, each in its own
//! transaction together with the version bump: a crash mid-upgrade leaves the
//! previous version intact. A migration, once released, is never edited;
//! changes come as a new entry at the end.

/// One schema step.
pub struct Migration {
    /// The version the database has after this step (1, 2, ...).
    pub version: i64,
    /// What the step does, for logs.
    pub name: &'static str,
    /// The SQL, run as one batch.
    pub sql: &'static str,
}

/// Every schema step, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "meet: registered meetings",
        sql: "CREATE TABLE meet_meetings (
              id         INTEGER PRIMARY KEY,  -- chosen by the main node, 64 random bits
              slot_start INTEGER NOT NULL,
              slot_end   INTEGER NOT NULL,
              users      TEXT    NOT NULL,     -- this backend's users, comma separated
              created_at INTEGER NOT NULL      -- seconds since the Unix epoch
          );",
    },
    Migration {
        version: 2,
        name: "booking: bookings, id sequence, replies kept for at-most-once",
        sql: "CREATE TABLE booking_bookings (
              id           TEXT PRIMARY KEY,     -- confirmation id, CONF000001
              facility     TEXT    NOT NULL,
              start_min    INTEGER NOT NULL,     -- minutes since Monday 00:00
              end_min      INTEGER NOT NULL,
              original_end INTEGER NOT NULL,     -- what extend counts from
              cancelled    INTEGER NOT NULL
          );
          CREATE TABLE booking_sequence (
              singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
              next_seq  INTEGER NOT NULL
          );
          CREATE TABLE booking_replies (
              client     TEXT    NOT NULL,     -- the client's ip:port
              request_id INTEGER NOT NULL,
              checksum   INTEGER NOT NULL,     -- of the request datagram
              reply      BLOB    NOT NULL,     -- the exact bytes sent
              created_ms INTEGER NOT NULL,     -- milliseconds since the Unix epoch
              PRIMARY KEY (client, request_id)
          );",
    },
    Migration {
        version: 3,
        name: "files: records, held updates, locks",
        sql: "CREATE TABLE files_records (
              path   TEXT PRIMARY KEY,           -- a SharedPath, '/'-separated
              record BLOB NOT NULL               -- the files service's encoded Record
          );
          CREATE TABLE files_held (
              seq    INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
              path   TEXT NOT NULL,
              update_bytes BLOB NOT NULL         -- an update held while the file is locked
          );
          CREATE INDEX files_held_by_path ON files_held (path, seq);
          CREATE TABLE files_locks (
              path        TEXT PRIMARY KEY,
              owner       TEXT    NOT NULL,
              expires_ms  INTEGER NOT NULL       -- milliseconds since the Unix epoch
          );",
    },
];

/// The newest version this build knows.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}
