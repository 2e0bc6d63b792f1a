//! The coordinator's hand-over: who takes a dead server's share.
//!
//! A dead event server leaves two things behind: the constraint backups it
//! holds in the database (its share of every open event), and the open
//! events it leads. The coordinator gives each to a live server. Heirs are
//! taken round-robin over the live servers, backups first and then events,
//! so the work of several dead servers spreads.
//!
//! The plan is carried out step by step, each in its own database
//! transaction; the leadership step is a compare-and-set, so two
//! coordinators for a moment (during an election) cannot give one event
//! two leaders, and a plan made from a view that is already stale changes
//! nothing it should not.

use crate::db::OpenEvent;

/// One step of a hand-over, in the order the driver carries them out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandOverStep {
    /// Hand every constraint backup `dead` holds to `heir`
    /// ([`EventDb::move_constraints`](crate::EventDb::move_constraints)),
    /// then ask the heir to rebuild each event concerned from the database
    /// (`Request::Adopt`).
    Backups {
        /// The dead server.
        dead: String,
        /// The live server that takes its backups.
        heir: String,
    },
    /// Make `heir` the leader of `event` if `dead` still leads it
    /// ([`EventDb::set_leader`](crate::EventDb::set_leader), a
    /// compare-and-set) and, if it did, tell the heir (`Request::Lead`),
    /// which arms the deadline, or finishes at once if it has passed.
    Lead {
        /// The open event.
        event: String,
        /// Its leader, not live.
        dead: String,
        /// The live server that takes the lead.
        heir: String,
    },
}

/// The coordinator's plan: every event server of `servers` (the cluster's,
/// in file order) that is not in `live` gives its backups to a live server,
/// and every event of `open` whose leader is not in `live` gets a live
/// leader. `live` holds the live event servers, in file order.
///
/// Nothing is planned when no server is live (there is no one to give to)
/// or when every leader and every server is live.
pub fn plan_hand_over(
    live: &[String],
    servers: &[String],
    open: &[OpenEvent],
) -> Vec<HandOverStep> {
    if live.is_empty() {
        return Vec::new();
    }
    let is_live = |id: &str| live.iter().any(|l| l == id);
    let mut heirs = live.iter().cycle();
    let mut next_heir = || heirs.next().expect("live is not empty").clone();

    let backups = servers
        .iter()
        .filter(|id| !is_live(id))
        .map(|dead| HandOverStep::Backups {
            dead: dead.clone(),
            heir: next_heir(),
        })
        .collect::<Vec<_>>();
    // An event's leader may also be a server the cluster file no longer
    // lists: it is not live either, and its events need a leader all the
    // same.
    let leads = open
        .iter()
        .filter(|event| !is_live(&event.leader))
        .map(|event| HandOverStep::Lead {
            event: event.id.clone(),
            dead: event.leader.clone(),
            heir: next_heir(),
        })
        .collect::<Vec<_>>();
    backups.into_iter().chain(leads).collect()
}
