//! Who serves each facility, and moving a facility off a dead node.
//!
//! The database's owners table is the one answer (see [`crate::db`]). Every
//! booking node reads it every [`LOOK_EVERY`]: its front door routes by it,
//! and its owner takes on the facilities the table gives it and lets go of
//! those it no longer names.
//!
//! The table changes in two ways:
//!
//! - **A first claim.** At start a node claims each facility its
//!   `[node.booking]` lists that nobody ever owned (a fresh cluster serves
//!   at once, without waiting for a coordinator).
//! - **An assignment by the coordinator.** Who owns a facility is a decision
//!   that must be unique, so it is taken only by the coordinator while it
//!   holds a majority's leases ([`Membership::authority`]), and carries its
//!   term (the database refuses it if a later term has decided): each facility
//!   goes to the node that lists it while that node is live, and otherwise
//!   to the next live booking node after it in the cluster file. Even a
//!   wrong or late assignment cannot let two nodes write: the token grows
//!   with it and the database refuses the old owner's writes.
//!
//! Without a shared database (a cluster on a server database this build
//! keeps no booking tables in) each node keeps its facilities in its own
//! file and nothing moves: `failover` is off.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convene_cluster::config::ClusterConfig;
use convene_cluster::membership::Membership;

use crate::config::{BookingSection, facility_owner};
use crate::db::{BookingDb, OwnerRow};

use super::owner::{Owner, blocking};

/// How often each node reads the owners table.
pub const LOOK_EVERY: Duration = Duration::from_millis(250);

/// The owners table as this node last read it.
#[derive(Default)]
pub struct OwnerView {
    rows: Mutex<HashMap<String, OwnerRow>>,
}

impl OwnerView {
    /// The node (position in the cluster file) serving `facility`: the
    /// table's answer, or the node that lists it if the table has none yet.
    pub fn owner_of(&self, cluster: &ClusterConfig, facility: &str) -> Option<usize> {
        let table = self
            .rows
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(facility)
            .map(|row| row.node as usize);
        table
            .filter(|&n| n < cluster.nodes.len())
            .or_else(|| facility_owner(cluster, facility))
    }

    /// Replaces the view; returns the facilities whose owner changed.
    fn replace(&self, rows: Vec<OwnerRow>) -> Vec<String> {
        let fresh: HashMap<String, OwnerRow> =
            rows.into_iter().map(|r| (r.facility.clone(), r)).collect();
        let mut view = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        let moved = fresh
            .iter()
            .filter(|(f, row)| view.get(*f).is_none_or(|old| old.node != row.node))
            .map(|(f, _)| f.clone())
            .collect();
        *view = fresh;
        moved
    }
}

/// Every facility of the cluster file, with the node that lists it.
pub fn listed_facilities(cluster: &ClusterConfig) -> Vec<(String, usize)> {
    cluster
        .nodes
        .iter()
        .enumerate()
        .flat_map(|(i, n)| {
            BookingSection::facilities_of(n)
                .iter()
                .map(move |f| (f.clone(), i))
        })
        .collect()
}

/// Nodes that run the booking service (a booking port or facilities): the
/// ones a facility may move to.
fn booking_nodes(cluster: &ClusterConfig) -> Vec<usize> {
    (0..cluster.nodes.len())
        .filter(|&i| {
            let n = &cluster.nodes[i];
            n.booking_port.is_some() || !BookingSection::facilities_of(n).is_empty()
        })
        .collect()
}

/// Where the coordinator wants `facility` (listed by `preferred`) given the
/// live nodes: `preferred` while live, else the next live booking node
/// after it in the file; `None` if no booking node is live.
pub fn desired_owner(preferred: usize, candidates: &[usize], live: &[bool]) -> Option<usize> {
    if live.get(preferred).copied().unwrap_or(false) {
        return Some(preferred);
    }
    let after = candidates.iter().filter(|&&c| c > preferred);
    let before = candidates.iter().filter(|&&c| c < preferred);
    after
        .chain(before)
        .copied()
        .find(|&c| live.get(c).copied().unwrap_or(false))
}

/// What the ownership loop needs.
pub struct Watch {
    /// The booking database.
    pub db: Arc<dyn BookingDb>,
    /// The cluster file.
    pub cluster: Arc<ClusterConfig>,
    /// This node's position in it.
    pub me: usize,
    /// Who is live, and whether this node may assign.
    pub membership: Option<Membership>,
    /// Whether facilities move (the database is shared).
    pub failover: bool,
}

impl Watch {
    /// Claims this node's listed facilities that nobody ever owned.
    pub async fn claim_listed(&self) {
        let mine: Vec<String> =
            BookingSection::facilities_of(&self.cluster.nodes[self.me]).to_vec();
        for facility in mine {
            let (db, me, name) = (self.db.clone(), self.me as u32, facility.clone());
            if let Err(e) = blocking(move || db.claim_unowned(&name, me)).await {
                tracing::warn!("cannot claim booking facility {facility}: {e}");
            }
        }
    }

    /// One look: assign (if this node may), read the table, adopt and
    /// release. Returns the facilities whose owner changed in the view.
    pub async fn look(&self, view: &OwnerView, owner: Option<&Owner>) -> Vec<String> {
        let db = self.db.clone();
        let mut rows = match blocking(move || db.owners()).await {
            Ok(rows) => rows,
            Err(e) => {
                tracing::warn!("cannot read the booking owners table: {e}");
                return Vec::new();
            }
        };
        if let Some(changed) = self.assign(&rows).await {
            rows = changed;
        }
        let moved = view.replace(rows.clone());
        if let Some(owner) = owner {
            self.follow(owner, &rows).await;
        }
        moved
    }

    /// On the coordinator with authority: moves each facility where it
    /// should be. Returns the table afterwards if anything moved.
    async fn assign(&self, rows: &[OwnerRow]) -> Option<Vec<OwnerRow>> {
        let membership = self.membership.as_ref().filter(|_| self.failover)?;
        membership.authority().ok()?;
        let mut live = vec![false; self.cluster.nodes.len()];
        for &node in membership.live().borrow().iter() {
            if let Some(flag) = live.get_mut(node) {
                *flag = true;
            }
        }
        let candidates = booking_nodes(&self.cluster);
        let mut changed = false;
        for (facility, preferred) in listed_facilities(&self.cluster) {
            let Some(want) = desired_owner(preferred, &candidates, &live) else {
                continue;
            };
            let now = rows.iter().find(|r| r.facility == facility).map(|r| r.node);
            if now == Some(want as u32) {
                continue;
            }
            // Checked again right before writing: authority may have
            // lapsed. The decision carries the term, and the database
            // refuses it if a later term has decided since.
            let Ok(term) = membership.authority() else {
                break;
            };
            let (db, name) = (self.db.clone(), facility.clone());
            match blocking(move || db.assign(&name, want as u32, term.0)).await {
                Ok(row) if row.node == want as u32 => {
                    changed = true;
                    tracing::info!(
                        facility,
                        from = ?now,
                        to = want,
                        token = row.token,
                        term = row.term,
                        "booking facility assigned"
                    );
                }
                Ok(row) => tracing::info!(
                    facility,
                    term = term.0,
                    newer = row.term,
                    "a later term assigned this facility; leaving it"
                ),
                Err(e) => tracing::warn!("cannot assign booking facility {facility}: {e}"),
            }
        }
        if !changed {
            return None;
        }
        let db = self.db.clone();
        blocking(move || db.owners()).await.ok()
    }

    /// Makes the owner hold exactly what the table gives this node.
    async fn follow(&self, owner: &Owner, rows: &[OwnerRow]) {
        let held = owner.tokens();
        for (facility, token) in &held {
            let still = rows.iter().any(|r| {
                r.facility == *facility && r.node as usize == self.me && r.token == *token
            });
            if !still {
                owner.release(facility);
            }
        }
        for row in rows.iter().filter(|r| r.node as usize == self.me) {
            if let Err(e) = owner.adopt(&row.facility, row.token).await {
                tracing::warn!("cannot take on booking facility {}: {e}", row.facility);
            }
        }
    }
}

/// When a front door last renewed its monitors' subscriptions everywhere.
pub struct Renewal {
    last: Option<Instant>,
}

/// Subscriptions are renewed at least this often (an owner that restarted
/// has forgotten them), and at once where a facility's owner changed.
pub const RENEW_EVERY: Duration = Duration::from_secs(5);

impl Default for Renewal {
    fn default() -> Self {
        Self::new()
    }
}

impl Renewal {
    /// Nothing renewed yet: the first call to [`due`](Self::due) says yes.
    pub fn new() -> Self {
        Renewal { last: None }
    }

    /// Whether every subscription is due now.
    pub fn due(&mut self, now: Instant) -> bool {
        if self
            .last
            .is_none_or(|at| now.duration_since(at) >= RENEW_EVERY)
        {
            self.last = Some(now);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_facility_stays_with_its_listed_node_while_it_lives_and_moves_to_the_next() {
        let candidates = [0, 1, 3];
        let all = [true, true, true, true];
        assert_eq!(desired_owner(1, &candidates, &all), Some(1));
        // Node 1 down: the next booking node after it (2 runs no booking).
        assert_eq!(
            desired_owner(1, &candidates, &[true, false, true, true]),
            Some(3)
        );
        // And around the end of the file.
        assert_eq!(
            desired_owner(3, &candidates, &[true, true, true, false]),
            Some(0)
        );
        assert_eq!(
            desired_owner(1, &candidates, &[false, false, true, false]),
            None
        );
        // Back from the dead: it returns to its listed node.
        assert_eq!(desired_owner(1, &candidates, &all), Some(1));
    }

    #[test]
    fn the_view_names_who_moved() {
        let view = OwnerView::default();
        let row = |f: &str, node, token| OwnerRow {
            facility: f.into(),
            node,
            token,
            term: 0,
        };
        let mut moved = view.replace(vec![row("A", 0, 1), row("B", 1, 1)]);
        moved.sort();
        assert_eq!(moved, vec!["A", "B"]);
        assert_eq!(
            view.replace(vec![row("A", 0, 1), row("B", 2, 2)]),
            vec!["B"]
        );
        assert!(
            view.replace(vec![row("A", 0, 1), row("B", 2, 2)])
                .is_empty()
        );
    }
}
