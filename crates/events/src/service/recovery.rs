//! Keeping every open event led, and every constraint held, by a live
//! server: the drivers of the hand-over and the sweep.
//!
//! Two loops run on every node. Each reads what its decision needs (the
//! live set, the open events, the time), asks [`crate::plan`] what to do,
//! and carries the steps out:
//!
//! - **Hand-over** ([`plan_hand_over`]), acting only on the node that is
//!   the cluster's elected coordinator, and only while it holds authority
//!   (a majority's leases, under a term logged with every step): whenever
//!   the live set or the coordinator changes, and every [`SWEEP_PERIOD`]
//!   besides (in case a step failed).
//! - **Sweep** ([`plan_sweep`]), on every event server, every
//!   [`SWEEP_PERIOD`].
//!
//! Each step is carried out even if an earlier one failed (they are
//! independent: an event needs a live leader whether or not a dead
//! server's backups could be moved); the first failure is reported, and the
//! next pass tries again.
//!
//! Leadership changes by compare-and-set in the database, so two
//! coordinators (a stale one whose step was under way as its authority
//! ended) cannot give one event two leaders; and finishing stores a result only once, so even a leader that
//! was wrongly declared dead and a new one racing are harmless.

use std::sync::Arc;
use std::time::Duration;

use convene_cluster::quorum::Term;

use crate::error::EventsError;
use crate::peer_msg::Request;
use crate::plan::{HandOverStep, SWEEP_PERIOD, SweepStep, plan_hand_over, plan_sweep};

use super::events_node::EventsNode;

/// How soon a coordinator without authority looks again: a new
/// coordinator gets it within a lease (2 s), and should hand over at once.
const AUTHORITY_RETRY: Duration = Duration::from_millis(100);

/// The coordinator's hand-over loop.
///
/// Hand-overs are decided only under authority (the coordinator holds a
/// majority's leases, see [`Membership::authority`]), so a coordinator cut
/// off in a minority stops moving events while the majority's one moves
/// them; the database's compare-and-set on the leader
/// ([`EventDb::set_leader`](crate::db::EventDb::set_leader)) remains the
/// fence against a stale one whose steps were already under way.
///
/// [`Membership::authority`]: convene_cluster::membership::Membership::authority
pub(crate) async fn hand_over(node: Arc<EventsNode>) {
    let mut coordinator = node.coordinator.clone();
    let mut live = node.watch_live();
    let mut wait = Duration::ZERO;
    loop {
        tokio::select! {
            _ = node.shutdown.wait() => return,
            _ = coordinator.changed() => {}
            _ = live.changed() => {}
            _ = tokio::time::sleep(if wait.is_zero() { SWEEP_PERIOD } else { wait }) => {}
        }
        wait = Duration::ZERO;
        if *coordinator.borrow() != Some(node.me) || node.faults.no_hand_over {
            continue;
        }
        let term = match (node.authority)() {
            Ok(term) => term,
            Err(refusal) => {
                tracing::debug!(%refusal, "no hand-over without authority; looking again soon");
                wait = AUTHORITY_RETRY;
                continue;
            }
        };
        match hand_over_once(&node, term).await {
            Ok(true) => {}
            // Authority ended part-way: pick up as soon as it returns.
            Ok(false) => wait = AUTHORITY_RETRY,
            Err(error) => {
                tracing::warn!(%error, %term, "handing over dead servers' events failed; will retry");
            }
        }
    }
}

/// One pass of the hand-over under `term`: `Ok(false)` if authority (of that
/// term) ended before every step was taken; each step checks it first.
async fn hand_over_once(node: &Arc<EventsNode>, term: Term) -> Result<bool, EventsError> {
    let live = node.live_server_ids();
    let open = node.db.open_events().await?;
    let mut first_error = None;
    for step in plan_hand_over(&live, &node.server_ids(), &open) {
        if (node.authority)() != Ok(term) {
            tracing::info!(%term, "authority ended during a hand-over; the rest waits");
            return first_error.map_or(Ok(false), Err);
        }
        if let Err(error) = carry_out_hand_over(node, step, term).await {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(true), Err)
}

async fn carry_out_hand_over(
    node: &Arc<EventsNode>,
    step: HandOverStep,
    term: Term,
) -> Result<(), EventsError> {
    match step {
        HandOverStep::Backups { dead, heir } => {
            for event in node.db.move_constraints(&dead, &heir).await? {
                tracing::info!(%event, from = %dead, to = %heir, %term, "constraints handed over");
                let _ = node.call_id(&heir, Request::Adopt { event }).await;
            }
        }
        HandOverStep::Lead { event, dead, heir } => {
            if node.db.set_leader(&event, &dead, &heir).await? {
                tracing::info!(%event, from = %dead, to = %heir, %term, "event handed over");
                let _ = node.call_id(&heir, Request::Lead { event }).await;
            }
        }
    }
    Ok(())
}

/// An event server's sweep.
pub(crate) async fn sweep(node: Arc<EventsNode>) {
    loop {
        if let Err(error) = sweep_once(&node).await {
            tracing::warn!(%error, "events sweep failed; will retry");
        }
        tokio::select! {
            _ = node.shutdown.wait() => return,
            _ = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
    }
}

async fn sweep_once(node: &Arc<EventsNode>) -> Result<(), EventsError> {
    let Some(server) = &node.server else {
        return Ok(());
    };
    // What this server holds is read before the open events (see
    // `plan_sweep`).
    let held = server.held();
    let live = node.live_server_ids();
    let open = node.db.open_events().await?;
    let now = node.clock.seconds();
    let mut first_error = None;
    for step in plan_sweep(now, node.my_id(), &live, &open, &held) {
        let done = match step {
            SweepStep::Arm { event, deadline } => {
                node.arm(&event, deadline);
                Ok(())
            }
            SweepStep::TakeOver {
                event,
                dead,
                deadline,
            } => match node.db.set_leader(&event, &dead, node.my_id()).await {
                Ok(true) => {
                    tracing::warn!(%event, from = %dead, "took over an event its dead leader left past its deadline");
                    node.arm(&event, deadline);
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(error) => Err(error.into()),
            },
            SweepStep::Clear { event } => server.clear(&event).await,
        };
        if let Err(error) = done {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}
