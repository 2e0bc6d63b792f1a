//! Keeping every open event led, and every constraint held, by a live
//! server: the drivers of the hand-over and the sweep.
//!
//! Two loops run on every node. Each reads what its decision needs (the
//! live set, the open events, the time), asks [`crate::plan`] what to do,
//! and carries the steps out:
//!
//! - **Hand-over** ([`plan_hand_over`]), acting only on the node that is
//!   the cluster's elected coordinator: whenever the live set or the
//!   coordinator changes, and every [`SWEEP_PERIOD`] besides (in case a
//!   step failed).
//! - **Sweep** ([`plan_sweep`]), on every event server, every
//!   [`SWEEP_PERIOD`].
//!
//! Each step is carried out even if an earlier one failed (they are
//! independent: an event needs a live leader whether or not a dead
//! server's backups could be moved); the first failure is reported, and the
//! next pass tries again.
//!
//! Leadership changes by compare-and-set in the database, so two
//! coordinators for a moment (during an election) cannot give one event two
//! leaders; and finishing stores a result only once, so even a leader that
//! was wrongly declared dead and a new one racing are harmless.

use std::sync::Arc;

use crate::error::EventsError;
use crate::peer_msg::Request;
use crate::plan::{HandOverStep, SWEEP_PERIOD, SweepStep, plan_hand_over, plan_sweep};

use super::events_node::EventsNode;

/// The coordinator's hand-over loop.
pub(crate) async fn hand_over(node: Arc<EventsNode>) {
    let mut coordinator = node.coordinator.clone();
    let mut live = node.watch_live();
    loop {
        tokio::select! {
            _ = node.shutdown.wait() => return,
            _ = coordinator.changed() => {}
            _ = live.changed() => {}
            _ = tokio::time::sleep(SWEEP_PERIOD) => {}
        }
        if *coordinator.borrow() != Some(node.me) || node.faults.no_hand_over {
            continue;
        }
        if let Err(error) = hand_over_once(&node).await {
            tracing::warn!(%error, "handing over dead servers' events failed; will retry");
        }
    }
}

async fn hand_over_once(node: &Arc<EventsNode>) -> Result<(), EventsError> {
    let live = node.live_server_ids();
    let open = node.db.open_events().await?;
    let mut first_error = None;
    for step in plan_hand_over(&live, &node.server_ids(), &open) {
        if let Err(error) = carry_out_hand_over(node, step).await {
            first_error.get_or_insert(error);
        }
    }
    first_error.map_or(Ok(()), Err)
}

async fn carry_out_hand_over(
    node: &Arc<EventsNode>,
    step: HandOverStep,
) -> Result<(), EventsError> {
    match step {
        HandOverStep::Backups { dead, heir } => {
            for event in node.db.move_constraints(&dead, &heir).await? {
                tracing::info!(%event, from = %dead, to = %heir, "constraints handed over");
                let _ = node.call_id(&heir, Request::Adopt { event }).await;
            }
        }
        HandOverStep::Lead { event, dead, heir } => {
            if node.db.set_leader(&event, &dead, &heir).await? {
                tracing::info!(%event, from = %dead, to = %heir, "event handed over");
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
