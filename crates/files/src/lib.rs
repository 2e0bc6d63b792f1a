//! The files service (seed 004, the CSE 5306 labs): a composite listing of
//! every node's shared folder, live two-way sync of the folders, and locks
//! that hold a file's incoming updates in a first-in first-out queue.
//!
//! Two layers. The cores decide, each a plain data structure or function
//! with no I/O (but where the folder itself is read or written, in
//! `path`, `beneath` and `inventory`), tested alone:
//!
//! - [`path`]: [`SharedPath`](path::SharedPath), a name inside a shared
//!   folder that cannot leave it (no `..`, no absolute paths, no NUL), the
//!   name of a conflict copy, and the check that no symbolic link on the way
//!   leads out.
//! - [`beneath`]: writing, reading and removing files beneath the shared
//!   folder through open directory handles, one name at a time, never
//!   following a link (even one swapped in mid-transfer).
//! - [`version`]: [`VersionVector`](version::VersionVector), which tells a
//!   newer copy of a file from a concurrent one.
//! - [`index`]: a node's records of its folder, and how a look at the disk
//!   turns into local changes (versions bumped, tombstones kept).
//! - [`inventory`]: walking a shared folder (subfolders included, links
//!   and reserved names skipped), reusing known checksums.
//! - [`plan`]: what a node does with a peer's record of a file: take it,
//!   keep its own, or keep both (a conflict copy), deletions included.
//! - [`listing`]: the composite listing: one entry per name (the newest
//!   copy's size and time), sorted, numbered, rendered one line per file.
//! - [`locks`]: locks as leases, and the FIFO queue of held updates.
//! - [`record_codec`]: a record on the wire, refused if ambiguous.
//! - [`peer_msg`]: requests and replies over the peer transport, and the
//!   service's [`TAG`] on it.
//! - [`config`]: `[node.files]`, this service's section of the cluster
//!   file, and which node holds the locks.
//! - [`transfer`]: checksums, and the receiving side of a transfer, which
//!   never lets a torn or damaged file be applied.
//!
//! The running service, [`service`], drives them: it answers peers and the
//! web front, gathers the composite listing, watches the folder, reconciles
//! it with the other files nodes and moves files' bytes, and at the lock
//! holder keeps the locks and their held updates. Its module docs say which
//! type owns what.

#![deny(missing_docs)]

pub mod beneath;
mod civil;
pub mod config;
pub mod index;
pub mod inventory;
pub mod listing;
pub mod locks;
pub mod path;
pub mod peer_msg;
pub mod plan;
pub mod record_codec;
pub mod service;
pub mod transfer;
pub mod version;

pub use config::FilesSection;
pub use peer_msg::TAG;
