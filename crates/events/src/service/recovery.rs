//! Keeping every open event led, and every constraint held, by a live
//! server.
//!
//! Two loops run on every node:
//!
//! - **Hand-over**, acting only on the node that is the cluster's elected
//!   coordinator: whenever the live set or the coordinator changes (and
//!   every few seconds besides, in case a step failed), it hands each dead
//!   event server's constraints to a live one, which rebuilds its partials
//!   from the database (`Adopt`), and gives each open event whose leader is
//!   dead to a live server, which arms its deadline (`Lead`). An event whose
//!   deadline passed while its leader was dead is finished at once.
//! - **Sweep**, on every event server, every few seconds: arm the deadline
//!   of every open event it leads (this is also how deadlines come back
//!   after a restart), and drop working state of events that became final
//!   while a `Clear` was lost. And a safety net under the hand-over: an
//!   open event whose leader this server sees dead, [`TAKE_OVER_AFTER`]
//!   past its deadline, is taken over by this server itself (the same
//!   compare-and-set), so a result comes even if no coordinator acted
//!   (during a long election, or while views of who is live disagree).
//!
//! Leadership changes by compare-and-set in the database, so two
//! coordinators for a moment (during an election) cannot give one event two
//! leaders; and finishing stores a result only once, so even a leader that
//! was wrongly declared dead and a new one racing are harmless.

use std::sync::Arc;
use std::time::Duration;

use crate::db::EventState;
use crate::msg::Request;

use super::node::Node;

/// How often both loops run when nothing changes.
pub(crate) const PERIOD: Duration = Duration::from_secs(2);

/// How long past its deadline an event whose leader is dead waits for the
/// coordinator's hand-over before any live server takes it over.
pub(crate) const TAKE_OVER_AFTER: Duration = Duration::from_secs(2);

/// The coordinator's hand-over loop.
pub(crate) async fn hand_over(node: Arc<Node>) {
    let mut coordinator = node.membership.coordinator();
    let mut live = node.membership.live();
    loop {
        tokio::select! {
            _ = node.shutdown.wait() => return,
            _ = coordinator.changed() => {}
            _ = live.changed() => {}
            _ = tokio::time::sleep(PERIOD) => {}
        }
        if *coordinator.borrow() != Some(node.me) || fault_no_hand_over() {
            continue;
        }
        if let Err(error) = hand_over_once(&node).await {
            tracing::warn!(%error, "handing over dead servers' events failed; will retry");
        }
    }
}

async fn hand_over_once(node: &Arc<Node>) -> Result<(), crate::EventsError> {
    let live = node.live_servers();
    if live.is_empty() {
        return Ok(());
    }
    let live_ids: Vec<String> = live.iter().map(|&n| node.id_of(n).to_string()).collect();
    let dead: Vec<String> = node
        .peers
        .cluster()
        .event_servers()
        .map(|(_, n)| n.id.clone())
        .filter(|id| !live_ids.contains(id))
        .collect();
    let mut turn = 0usize;
    let mut next_live = || {
        turn += 1;
        live[(turn - 1) % live.len()]
    };

    for dead_id in &dead {
        let heir = next_live();
        let events = node.db.move_constraints(dead_id, node.id_of(heir)).await?;
        for event in events {
            tracing::info!(%event, from = %dead_id, to = node.id_of(heir), "constraints handed over");
            let _ = node.call(heir, Request::Adopt { event }).await;
        }
    }
    for open in node.db.open_events().await? {
        if live_ids.contains(&open.leader) {
            continue;
        }
        let heir = next_live();
        if node
            .db
            .set_leader(&open.id, &open.leader, node.id_of(heir))
            .await?
        {
            tracing::info!(event = %open.id, from = %open.leader, to = node.id_of(heir), "event handed over");
            let _ = node.call(heir, Request::Lead { event: open.id }).await;
        }
    }
    Ok(())
}

/// An event server's sweep.
pub(crate) async fn sweep(node: Arc<Node>) {
    loop {
        if let Err(error) = sweep_once(&node).await {
            tracing::warn!(%error, "events sweep failed; will retry");
        }
        tokio::select! {
            _ = node.shutdown.wait() => return,
            _ = tokio::time::sleep(PERIOD) => {}
        }
    }
}

async fn sweep_once(node: &Arc<Node>) -> Result<(), crate::EventsError> {
    let Some(server) = &node.server else {
        return Ok(());
    };
    let live: Vec<String> = node
        .live_servers()
        .into_iter()
        .map(|n| node.id_of(n).to_string())
        .collect();
    let overdue = super::now_seconds() - TAKE_OVER_AFTER.as_secs() as i64;
    for open in node.db.open_events().await? {
        if open.leader == node.my_id() {
            node.arm(&open.id, open.deadline);
        } else if open.deadline <= overdue
            && !live.contains(&open.leader)
            && node
                .db
                .set_leader(&open.id, &open.leader, node.my_id())
                .await?
        {
            tracing::warn!(event = %open.id, from = %open.leader, "took over an event its dead leader left past its deadline");
            node.arm(&open.id, open.deadline);
        }
    }
    for event in server.past_deadline() {
        let stored = node.db.event(&event).await?;
        // Final (a `Clear` was lost), or unknown to the database: nothing
        // to keep.
        if stored.is_none_or(|e| e.state == EventState::Final) {
            server.clear(&event).await?;
        }
    }
    Ok(())
}

/// Fault injection for the test of the sweep's safety net:
/// `CONVENE_FAULT_NO_HAND_OVER=1` stops the coordinator from handing over.
/// Unset (always, outside that test), it costs one read of a cached value.
fn fault_no_hand_over() -> bool {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OFF.get_or_init(|| std::env::var("CONVENE_FAULT_NO_HAND_OVER").is_ok_and(|v| v == "1"))
}
