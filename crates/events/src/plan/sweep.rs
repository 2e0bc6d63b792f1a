//! An event server's sweep: what it re-checks every few seconds.
//!
//! - It arms the deadline of every open event it leads. Arming is
//!   idempotent, so this costs nothing when the timer runs already, and it
//!   is how deadlines come back after a restart.
//! - It is the safety net under the coordinator's hand-over: an open event
//!   whose leader this server sees dead, [`TAKE_OVER_AFTER`] past its
//!   deadline, is taken over by this server itself (by the same
//!   compare-and-set, so of several servers doing so one wins). A long
//!   election, or views of who is live that disagree, then delay a result
//!   by a few seconds but never leave it unfinished.
//! - It drops the working state of events that are no longer open (a
//!   `Clear` was lost): only those whose deadline has passed, or is not
//!   known yet, can be.

use std::collections::HashSet;
use std::time::Duration;

use crate::db::{EventState, OpenEvent};

use super::leads;

/// How often each server sweeps, and how often the coordinator's hand-over
/// runs when nothing changes.
pub const SWEEP_PERIOD: Duration = Duration::from_secs(2);

/// How long past its deadline an event whose leader is dead waits for the
/// coordinator's hand-over before a live server takes it over.
pub const TAKE_OVER_AFTER: Duration = Duration::from_secs(2);

/// An event this server keeps working state for, as the sweep sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Held {
    /// The event.
    pub event: String,
    /// Its deadline (Unix seconds), if the server has read it.
    pub deadline: Option<i64>,
}

/// One step of a sweep.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SweepStep {
    /// Arm the deadline timer of an event this server leads (if it is not
    /// armed already).
    Arm {
        /// The event.
        event: String,
        /// Its deadline (Unix seconds).
        deadline: i64,
    },
    /// Make this server the leader of `event` if `dead` still leads it
    /// (compare-and-set) and, if it did, arm its deadline, which has passed:
    /// the event is finished at once.
    TakeOver {
        /// The event.
        event: String,
        /// Its leader, not live.
        dead: String,
        /// Its deadline (Unix seconds).
        deadline: i64,
    },
    /// Drop this server's working state of `event`: it is final, or unknown.
    Clear {
        /// The event.
        event: String,
    },
}

/// The sweep of server `me` at `now` (Unix seconds): `live` holds the live
/// event servers, `open` every open event, and `held` the events this
/// server keeps state for, **read before `open`** (an event is never opened
/// again, so one held then and not open now is final or unknown, never new).
pub fn plan_sweep(
    now: i64,
    me: &str,
    live: &[String],
    open: &[OpenEvent],
    held: &[Held],
) -> Vec<SweepStep> {
    let overdue = now - TAKE_OVER_AFTER.as_secs() as i64;
    let is_live = |id: &str| live.iter().any(|l| l == id);
    let mut steps = Vec::new();
    for event in open {
        if leads(me, EventState::Open, &event.leader) {
            steps.push(SweepStep::Arm {
                event: event.id.clone(),
                deadline: event.deadline,
            });
        } else if event.deadline <= overdue && !is_live(&event.leader) {
            steps.push(SweepStep::TakeOver {
                event: event.id.clone(),
                dead: event.leader.clone(),
                deadline: event.deadline,
            });
        }
    }
    let open: HashSet<&str> = open.iter().map(|event| event.id.as_str()).collect();
    for held in held {
        let past_deadline = held.deadline.is_none_or(|deadline| deadline <= now);
        if past_deadline && !open.contains(held.event.as_str()) {
            steps.push(SweepStep::Clear {
                event: held.event.clone(),
            });
        }
    }
    steps
}
