//! The deadlines of the events a node leads: a timer per event, and the
//! leader's work when it fires, driven through [`Finish`].
//!
//! The timer sleeps to the event's wall-clock deadline; then the leader
//! freezes the event on every live server, collects their partials and
//! stores the result once ([`Finish`] decides whom, who is silent and when
//! to store; this file only carries it out). A failed attempt is tried
//! again a second later until the event is final or led by another server.

use std::sync::Arc;
use std::time::Duration;

use convene_cluster::Unordered;
use convene_cluster::retry::{Attempt, Backoff, retry_until};

use crate::error::EventsError;
use crate::peer_msg::{Reply, Request};
use crate::plan::{Finish, FinishStep, Stored, leads};

use super::events_node::EventsNode;

/// How long a leader waits before trying again to finish an event whose
/// last attempt failed (the database was unreachable, say).
const RETRY: Duration = Duration::from_secs(1);

impl EventsNode {
    /// Takes the lead of `event`: arms its deadline if this node leads it.
    pub(crate) async fn lead(self: &Arc<Self>, event: &str) -> Result<(), EventsError> {
        let stored = self
            .db
            .event(event)
            .await?
            .ok_or_else(|| EventsError::UnknownEvent(event.to_string()))?;
        if leads(self.my_id(), stored.state, &stored.leader) {
            self.arm(event, stored.deadline);
        }
        Ok(())
    }

    /// Starts a timer that finishes `event` at `deadline` (once per event).
    pub(crate) fn arm(self: &Arc<Self>, event: &str, deadline: i64) {
        if !self.lock_armed().insert(event.to_string()) {
            return;
        }
        let node = self.clone();
        let event = event.to_string();
        let mut timers = self.timers.lock().unwrap_or_else(|e| e.into_inner());
        // Reap the timers that have finished, so the set stays small.
        while timers.try_join_next().is_some() {}
        timers.spawn(async move {
            let shutdown = node.shutdown.clone();
            // Sleep to the wall-clock deadline (re-checked, since a sleep
            // follows the monotonic clock and the deadline is wall time):
            // from then on no server accepts a constraint for the event.
            while let Some(wait) = node.clock.until(deadline) {
                tokio::select! {
                    _ = shutdown.wait() => return,
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            // An attempt under way is awaited even if the node stops
            // meanwhile (it may be storing the result); only the wait
            // between attempts ends at the shutdown.
            let finished = retry_until(&shutdown, Backoff::fixed(RETRY), || async {
                match node.finish(&event).await {
                    Ok(()) => Attempt::Done(()),
                    Err(error) => {
                        tracing::warn!(%event, %error, "finishing the event failed; retrying");
                        Attempt::Retry
                    }
                }
            })
            .await;
            if finished.is_some() {
                node.lock_armed().remove(&event);
            }
        });
    }

    /// Waits for every deadline timer to end (after shutdown).
    pub(crate) async fn join_timers(&self) {
        let mut timers =
            std::mem::take(&mut *self.timers.lock().unwrap_or_else(|e| e.into_inner()));
        while timers.join_next().await.is_some() {}
    }

    fn lock_armed(&self) -> std::sync::MutexGuard<'_, std::collections::HashSet<String>> {
        self.armed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The leader's work at the deadline: freeze, collect, store once, and
    /// clear, as [`Finish`] says.
    pub(crate) async fn finish(self: &Arc<Self>, event: &str) -> Result<(), EventsError> {
        let stored = self.db.event(event).await?;
        let stored = stored.as_ref().map(|e| Stored {
            state: e.state,
            leader: &e.leader,
        });
        let now = tokio::time::Instant::now().into_std();
        let Some(finish) = Finish::start(self.my_id(), stored, &self.live_server_ids(), now) else {
            // Unknown, done already, or the coordinator gave it to
            // another server.
            return Ok(());
        };
        let mut finish = match self.faults.pause_before_store {
            Some(pause) => {
                tracing::warn!(%event, ?pause, "fault injection: pausing between freezing and storing");
                finish.with_pause_before_store(pause)
            }
            None => finish,
        };
        // A server lets its submissions under way finish before it answers.
        let mut freezes = Unordered::new(finish.servers().to_vec().into_iter().map(|server| {
            let request = Request::Freeze {
                event: event.to_string(),
            };
            async move {
                let reply = self.call_id(&server, request).await;
                (server, reply)
            }
        }));
        loop {
            let until = match finish.next(tokio::time::Instant::now().into_std()) {
                FinishStep::Store => break,
                FinishStep::Wait(until) => tokio::time::Instant::from_std(until),
            };
            tokio::select! {
                Some((server, reply)) = freezes.next() => {
                    let now = tokio::time::Instant::now().into_std();
                    match reply {
                        Ok(Reply::Partial(partial)) => finish.partial(&server, &partial, now),
                        other => {
                            tracing::info!(%event, %server, reply = ?other, "no partial; reading its share from the database");
                            finish.no_partial(&server, now);
                        }
                    }
                }
                _ = tokio::time::sleep_until(until) => {}
            }
        }
        drop(freezes);
        let collected = finish.into_result();
        // What the silent servers accepted is read in the transaction that
        // stores the result, so no acknowledged constraint can slip between.
        match self
            .db
            .finish(event, &collected.partial, &collected.answered)
            .await?
        {
            Some(result) => {
                tracing::info!(%event, intervals = result.as_slice().len(), silent = ?collected.silent, "event finished")
            }
            None => tracing::info!(%event, "event already finished by another leader"),
        }
        // Clearing is tidying up: a server that misses it drops the entry
        // on its next sweep.
        let mut clears = Unordered::new(self.live_servers().into_iter().map(|node| {
            let request = Request::Clear {
                event: event.to_string(),
            };
            async move { self.call(node, request).await }
        }));
        while clears.next().await.is_some() {}
        Ok(())
    }
}
