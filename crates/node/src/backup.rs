//! `convene backup` and `convene restore`: a consistent copy of the state
//! of a host's nodes and of the cluster database, taken while the cluster
//! runs, and brought back into new, empty places.
//!
//! # What a node keeps, and how each is copied
//!
//! | where | what | how |
//! |---|---|---|
//! | `data_dir/convene.db` | the store: meetings, booking ids and replies, files records | SQLite online backup |
//! | `data_dir/booking.db`, `files-locks.db` | booking tables, lock book, when not in the cluster database | SQLite online backup |
//! | `data_dir/boot`, `term` | boot number, highest election term | copied |
//! | `data_dir/meet-lists/` | a main node's kept lists of backends' users | copied |
//! | `[node.files] dir` | the shared folder | copied, file by file |
//! | `database_url` on SQLite | events, accounts, booking tables, lock book | SQLite online backup |
//! | `database_url` on MySQL/PostgreSQL | the same tables | one snapshot, table by table ([`convene_eventdb::dump`]) |
//! | `redis_url` | event servers' working sets | not copied: a cache, rebuilt from the database |
//!
//! Every file of a data directory is taken, not a list of known names, so
//! a file a later version adds is not forgotten: a file that starts with
//! SQLite's header is copied through SQLite, any other as it is. Left out:
//! a SQLite file's `-wal`, `-shm` and `-journal` (the online backup reads
//! through them), `*.tmp` files (a replacement not yet renamed into place),
//! and the cluster database or shared folder when they lie inside a data
//! directory (each is taken once, as itself).
//!
//! # Consistency
//!
//! Each database is copied as of one commit, while the nodes keep
//! writing: SQLite's backup reads all pages in one read transaction, which
//! in WAL mode blocks no writer; a server database is read in one
//! `REPEATABLE READ` transaction. So everything a node had acknowledged
//! when the backup started is in it. The files are taken one after the
//! other, not at one instant, which is as consistent as a node's own state
//! needs: what one file refers to in another is checked by the node at
//! start (a meeting's users against the availability, a facility's owner
//! against the cluster's, a files record against the folder, whose
//! difference the files service reconciles as it does after any restart).
//!
//! # Which nodes
//!
//! `backup` takes the nodes of the cluster file whose `host` is one of
//! this machine's addresses (as `convene check` decides it), or the one
//! named by `--id`; run it on each machine. The cluster database is taken
//! by every run unless `--no-database` (one machine's timer is enough for
//! a server database). `restore` brings back every node of the backup, or
//! the one named by `--id`, into the data directory (and shared folder)
//! the cluster file given to it names, and the database into its
//! `database_url`, which may differ from the backup's: that is how a
//! cluster moves to another machine.
//!
//! # Refusals
//!
//! `restore` writes nothing until it has checked everything: the manifest
//! is there and of this format, every file matches its size and checksum,
//! the nodes are in the cluster file and not running (their peer port is
//! free), and every target is empty: a data directory or shared folder
//! that does not exist or holds nothing, a SQLite database file that does
//! not exist, server tables without rows. `--force` empties the targets
//! instead (the old state is gone). The database engine must be the
//! backup's: a SQLite backup restores into SQLite, a PostgreSQL one into
//! PostgreSQL.
//!
//! # Layout
//!
//! - [`manifest`]: the manifest and its codec.
//! - [`copy`]: copying one file (SQLite's online backup, or as it is).
//! - [`take`]: making a backup.
//! - [`server_db`]: a server database as JSON lines, out and back in.
//! - [`restore`](mod@restore): restoring one.
//! - [`error`]: [`BackupError`], [`RestoreError`].

pub mod copy;
pub mod error;
pub mod manifest;
pub mod restore;
pub mod server_db;
pub mod take;

pub use error::{BackupError, RestoreError};
pub use manifest::Manifest;
pub use restore::{RestoreOptions, Restored, restore};
pub use take::{BackupOptions, backup};

/// Where in a backup node `id`'s data directory goes.
pub fn data_prefix(id: &str) -> String {
    format!("nodes/{id}/data")
}

/// Where in a backup node `id`'s shared folder goes.
pub fn folder_prefix(id: &str) -> String {
    format!("nodes/{id}/folder")
}

/// Where in a backup the cluster database goes.
pub const DATABASE_DIR: &str = "database";
