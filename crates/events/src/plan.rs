//! What the events service decides, without I/O.
//!
//! Three pieces of the service's work are decisions about other servers:
//! the coordinator's **hand-over** of dead servers' shares, each server's
//! periodic **sweep**, and the leader's **finish** at an event's deadline.
//! They are made here, by plain functions and one small state machine, from
//! what the service read (the live set, the open events, the time) and
//! passed in. Nothing in this module reads a clock, a socket or the
//! database: the service (`service/`) is the driver that reads them, calls
//! these, and carries out the steps they return.
//!
//! So each decision is tested on its own, with any input (`plan/tests.rs`:
//! examples and properties such as "every dead server's backups go to
//! exactly one live server" or "the sweep never takes over before the grace
//! period"), and the driver is tested whole under simulated time
//! (`service/sim.rs`).
//!
//! - [`hand_over`]: [`plan_hand_over`], the coordinator's steps.
//! - [`sweep`]: [`plan_sweep`], an event server's steps every
//!   [`SWEEP_PERIOD`].
//! - [`finish`]: [`Finish`], the leader's freeze, collect and store, over a
//!   clock the driver reads.

pub mod finish;
pub mod hand_over;
pub mod sweep;

#[cfg(test)]
mod tests;

pub use finish::{Collected, FREEZE_WAIT, Finish, FinishStep, Stored};
pub use hand_over::{HandOverStep, plan_hand_over};
pub use sweep::{Held, SWEEP_PERIOD, SweepStep, TAKE_OVER_AFTER, plan_sweep};

use crate::db::EventState;

/// Whether server `me` leads an event that is in `state` and led by
/// `leader`: only then does it arm the event's deadline, or finish it.
/// (A final event needs no leader; one led by another server, perhaps
/// handed over meanwhile, is that server's to finish.)
pub fn leads(me: &str, state: EventState, leader: &str) -> bool {
    state == EventState::Open && leader == me
}
