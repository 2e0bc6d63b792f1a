//! [`LockRole`]: who holds the file locks, and this node's [`LockDesk`]
//! while it is the one.
//!
//! The role belongs to the configured `lock_holder` while it is live, else
//! to the next live files node in a fixed order ([`holder_order`]): the
//! configured holder (or the highest priority), then the others by
//! priority, first in the file among equals. It is written in the shared
//! [`LockBook`]:
//!
//! - an empty book is claimed by the first holder in that order (there is
//!   nothing to fence yet), or by the coordinator for the first live one;
//! - after that only the coordinator moves it, and only while it holds a
//!   majority's leases ([`Membership::authority`]), with its term: a
//!   compare-and-set on the fencing token and the term, so a coordinator
//!   of an older term cannot undo a newer one's choice;
//! - every files node reads the book every [`LOOK_EVERY`]: the node it
//!   names builds a desk from the book with the current token (its locks,
//!   its held updates, their content put back in this node's folder); a
//!   node it no longer names drops its desk. A desk that is not dropped in
//!   time (a node cut off from the book) is still fenced: its writes carry
//!   the old token and are refused.
//!
//! Without a shared SQLite file (`database_url` names MySQL or
//! PostgreSQL, not yet supported here, or the nodes are on several
//! machines, which cannot share one SQLite file) the book is a file of the
//! configured holder's own, and the role stays with that node, as before.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use convene_cluster::membership::Membership;
use convene_cluster::{ClusterConfig, NodeConfig};

use super::lock_book::{BookError, HolderRow, LockBook, LockBookDb};
use super::lock_desk::{DeskLimits, LockDesk};
use crate::config::{DEFAULT_LEASE, FilesSection, files_nodes, lock_holder};

/// How often every node reads who holds the locks, and the coordinator
/// checks that the right node does.
pub(crate) const LOOK_EVERY: Duration = Duration::from_millis(250);

/// The file a node's own book lives in, in its data folder, when the
/// cluster has no shared SQLite file.
const LOCAL_BOOK: &str = "files-locks.db";

/// What changed at a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Nothing.
    None,
    /// This node took the locks (a new desk).
    Took,
    /// This node gave them up.
    Left,
}

/// Who holds the locks, and this node's desk while it does.
pub(crate) struct LockRole {
    me: String,
    book: Arc<dyn LockBookDb>,
    /// The book is shared by every node (the role can move).
    shared: bool,
    /// This node shares a folder (only such a node holds locks).
    has_folder: bool,
    desk: RwLock<Option<Arc<LockDesk>>>,
    /// The holder as last read from the book.
    holder: RwLock<Option<String>>,
}

impl LockRole {
    /// The role as node `me` of `cluster` sees it: over `server_book` (the
    /// book in a MySQL or PostgreSQL `database_url`) if given, else over
    /// the shared SQLite file of `database_url` if it names one, else over
    /// a book in the node's `data_dir`.
    pub fn open(
        cluster: &ClusterConfig,
        me: &NodeConfig,
        has_folder: bool,
        server_book: Option<Arc<dyn LockBookDb>>,
    ) -> LockRole {
        if let Some(book) = server_book {
            return LockRole::over(me, book, true, has_folder);
        }
        // One SQLite file is shared only by nodes of one machine: across
        // machines each would open its own copy.
        let hosts: std::collections::HashSet<_> = cluster.nodes.iter().map(|n| n.host).collect();
        let one_machine = hosts.len() <= 1 || hosts.iter().all(|h| h.is_loopback());
        let shared_file =
            LockBook::sqlite_file(&cluster.events.database_url).filter(|_| one_machine);
        let (file, shared) = match shared_file {
            Some(file) => (file, true),
            None => (me.data_dir.join(LOCAL_BOOK), false),
        };
        let book = match LockBook::open(&file) {
            Ok(book) => Some(book),
            Err(e) => {
                tracing::warn!(file = %file.display(), "cannot open the lock book: {e}; locks stay in the data folder");
                None
            }
        };
        let (book, shared) = match book {
            Some(book) => (book, shared),
            None => (
                // The data folder is the node's own; if even that fails,
                // every lock request will say so.
                LockBook::open(&me.data_dir.join(LOCAL_BOOK))
                    .unwrap_or_else(|_| LockBook::open(Path::new(":memory:")).expect("memory")),
                false,
            ),
        };
        LockRole::over(me, Arc::new(book), shared, has_folder)
    }

    fn over(
        me: &NodeConfig,
        book: Arc<dyn LockBookDb>,
        shared: bool,
        has_folder: bool,
    ) -> LockRole {
        LockRole {
            me: me.id.clone(),
            book,
            shared,
            has_folder,
            desk: RwLock::new(None),
            holder: RwLock::new(None),
        }
    }

    /// This node's desk, while it holds the locks.
    pub fn desk(&self) -> Option<Arc<LockDesk>> {
        self.desk.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The node that holds the locks, as the book says now (as last read
    /// if it cannot be read; the configured one while the book is this
    /// node's own).
    pub fn holder<'c>(&self, cluster: &'c ClusterConfig) -> Option<&'c NodeConfig> {
        if !self.shared {
            return lock_holder(cluster);
        }
        let mut last = self.holder.write().unwrap_or_else(|e| e.into_inner());
        if let Ok(now) = self.book.holder() {
            *last = now.map(|row| row.node);
        }
        last.as_ref().and_then(|id| cluster.node(id).ok())
    }

    /// Reads the book, moves the role if this node coordinates with
    /// authority and the wrong node holds it, and takes or leaves the desk
    /// to match. `root` is this node's folder, where held updates' content
    /// is put back.
    pub fn look(
        &self,
        cluster: &ClusterConfig,
        membership: Option<&Membership>,
        materialize: &mut dyn FnMut(&super::held::Held, &[u8]),
    ) -> Change {
        match self.decide(cluster, membership) {
            Ok(row) => {
                *self.holder.write().unwrap_or_else(|e| e.into_inner()) =
                    row.as_ref().map(|r| r.node.clone());
                self.adopt(cluster, row, materialize)
            }
            Err(e) => {
                tracing::debug!("cannot read who holds the locks: {e}");
                Change::None
            }
        }
    }

    /// The holder after this look: read, claimed or handed over.
    fn decide(
        &self,
        cluster: &ClusterConfig,
        membership: Option<&Membership>,
    ) -> Result<Option<HolderRow>, BookError> {
        let order = holder_order(cluster);
        let row = self.book.holder()?;
        if !self.shared {
            // The role does not move: the configured holder claims it.
            return match row {
                None if order.first().is_some_and(|n| n.id == self.me) => {
                    Ok(Some(self.book.claim_first(&self.me)?))
                }
                row => Ok(row),
            };
        }
        let authority = membership.and_then(|m| m.authority().ok().map(|t| (m, t)));
        let Some((membership, term)) = authority else {
            // Not the coordinator with a majority: only the first claim.
            return match row {
                None if order.first().is_some_and(|n| n.id == self.me) && self.has_folder => {
                    Ok(Some(self.book.claim_first(&self.me)?))
                }
                row => Ok(row),
            };
        };
        let live = membership.live().borrow().clone();
        let wanted = order
            .iter()
            .find(|n| cluster.index_of(&n.id).is_some_and(|i| live.contains(&i)));
        let Some(wanted) = wanted else {
            return Ok(row);
        };
        match row {
            None => Ok(Some(self.book.claim_first(&wanted.id)?)),
            Some(row) if row.node == wanted.id => Ok(Some(row)),
            Some(row) => match self.book.hand_over(row.token, &wanted.id, term.0)? {
                Some(new) => {
                    tracing::info!(from = %row.node, to = %new.node, token = new.token, term = term.0, "the file locks move");
                    Ok(Some(new))
                }
                None => self.book.holder(),
            },
        }
    }

    /// Takes a desk if the book names this node (a fresh one if the token
    /// changed or the last one went stale), or leaves it if not.
    fn adopt(
        &self,
        cluster: &ClusterConfig,
        row: Option<HolderRow>,
        materialize: &mut dyn FnMut(&super::held::Held, &[u8]),
    ) -> Change {
        let mine = row.filter(|r| r.node == self.me && self.has_folder);
        let current = self.desk();
        match (mine, current) {
            (Some(row), Some(desk)) if desk.token() == row.token && !desk.is_stale() => {
                Change::None
            }
            (Some(row), _) => {
                let limits = limits(cluster, &self.me);
                match LockDesk::restore(
                    self.book.clone(),
                    row.token,
                    limits,
                    Instant::now(),
                    materialize,
                ) {
                    Ok(desk) => {
                        *self.desk.write().unwrap_or_else(|e| e.into_inner()) =
                            Some(Arc::new(desk));
                        Change::Took
                    }
                    Err(e) => {
                        tracing::warn!("cannot read the locks from the book: {e}");
                        Change::None
                    }
                }
            }
            (None, Some(_)) => {
                *self.desk.write().unwrap_or_else(|e| e.into_inner()) = None;
                Change::Left
            }
            (None, None) => Change::None,
        }
    }
}

/// A desk's limits for node `me` of `cluster`.
fn limits(cluster: &ClusterConfig, me: &str) -> DeskLimits {
    let lease = cluster
        .node(me)
        .ok()
        .and_then(FilesSection::of)
        .map_or(DEFAULT_LEASE, |f| f.lease);
    DeskLimits {
        lease,
        per_account: cluster.limits.locks_per_account,
        admins: cluster.admins.clone(),
    }
}

/// The files nodes in the order the role goes to them: the configured
/// holder (or the highest priority), then the others by priority, the
/// first in the file among equals.
pub(crate) fn holder_order(cluster: &ClusterConfig) -> Vec<&NodeConfig> {
    let first = lock_holder(cluster);
    let mut rest: Vec<(usize, &NodeConfig)> = files_nodes(cluster)
        .filter(|(_, n)| first.is_none_or(|f| f.id != n.id))
        .collect();
    rest.sort_by(|(i, a), (j, b)| b.priority.cmp(&a.priority).then(i.cmp(j)));
    first
        .into_iter()
        .chain(rest.into_iter().map(|(_, n)| n))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_cluster::Section;

    fn cluster(nodes: &[(&str, Option<&str>)]) -> ClusterConfig {
        let mut text = String::new();
        for (i, (id, files)) in nodes.iter().enumerate() {
            text.push_str(&format!(
                "[[node]]\nid = \"{id}\"\nhost = \"127.0.0.1\"\npeer_port = {}\n",
                i + 1
            ));
            if let Some(files) = files {
                text.push_str(&format!("[node.files]\ndir = \"dir_{id}\"\n{files}\n"));
            }
        }
        ClusterConfig::from_toml(
            &text,
            Path::new("/etc/convene/cluster.toml"),
            &[FilesSection::READER],
        )
        .unwrap()
    }

    fn ids(order: Vec<&NodeConfig>) -> Vec<&str> {
        order.into_iter().map(|n| n.id.as_str()).collect()
    }

    #[test]
    fn the_role_goes_to_the_marked_holder_then_by_priority() {
        // Priority defaults to the place in the file: the last is highest.
        let plain = cluster(&[
            ("A", Some("")),
            ("M", None),
            ("B", Some("")),
            ("C", Some("")),
        ]);
        assert_eq!(ids(holder_order(&plain)), ["C", "B", "A"]);
        let marked = cluster(&[
            ("A", Some("lock_holder = true")),
            ("B", Some("")),
            ("C", Some("")),
        ]);
        assert_eq!(ids(holder_order(&marked)), ["A", "C", "B"]);
        assert!(holder_order(&cluster(&[("M", None)])).is_empty());
    }
}
