//! The leader's work at an event's deadline, as a state machine.
//!
//! At the deadline the leader freezes the event on every live event server
//! and collects their partials. A server that answers with its partial is
//! **answered**; one that refuses, fails, or has not answered within
//! [`FREEZE_WAIT`] is **silent**, and its share is read from the database
//! instead, inside the transaction that stores the result
//! ([`EventDb::finish`](crate::EventDb::finish)), so no constraint it
//! acknowledged can be missed. The result is stored once every server has
//! answered or been given up on.
//!
//! The machine holds no clock: the driver passes `now` to every call and
//! sleeps until the instant [`Finish::next`] names.

use std::time::{Duration, Instant};

use crate::db::EventState;
use crate::interval::Partial;

use super::leads;

/// How long a leader waits for the servers to freeze an event and send
/// their partials (each first lets its submissions under way finish).
pub const FREEZE_WAIT: Duration = Duration::from_secs(5);

/// What the database holds of the event when the leader starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stored<'a> {
    /// Open or final.
    pub state: EventState,
    /// Its leader now.
    pub leader: &'a str,
}

/// What the driver does next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FinishStep {
    /// Wait for answers until this instant, then ask again.
    Wait(Instant),
    /// Store the result: [`Finish::into_result`].
    Store,
}

/// One leader finishing one event: whom it froze, what they sent, and when
/// it stores.
#[derive(Clone, Debug)]
pub struct Finish {
    /// The servers frozen, in the order given.
    asked: Vec<String>,
    /// For each of `asked`: `Some(true)` answered with its partial,
    /// `Some(false)` failed, `None` not yet heard from.
    heard: Vec<Option<bool>>,
    collected: Partial,
    give_up_at: Instant,
    /// When the last server was heard from, if all have been.
    all_heard_at: Option<Instant>,
    /// A fault for tests: the wait between collecting and storing.
    pause_before_store: Duration,
}

/// What the leader stores, once [`Finish::next`] says so.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Collected {
    /// The answered servers' partials, merged.
    pub partial: Partial,
    /// The servers that sent their partial: the database adds the backups
    /// of every other server.
    pub answered: Vec<String>,
    /// The servers that did not.
    pub silent: Vec<String>,
}

impl Finish {
    /// Server `me` starts finishing an event at `now`. `stored` is the
    /// event as the database holds it (`None`: unknown), `live` the live
    /// event servers, to be frozen. `None` when there is nothing for `me`
    /// to do: the event is unknown, final already, or led by another server
    /// (the coordinator handed it on).
    pub fn start(
        me: &str,
        stored: Option<Stored<'_>>,
        live: &[String],
        now: Instant,
    ) -> Option<Self> {
        let stored = stored?;
        if !leads(me, stored.state, stored.leader) {
            return None;
        }
        let mut finish = Finish {
            asked: live.to_vec(),
            heard: vec![None; live.len()],
            collected: Partial::none(),
            give_up_at: now + FREEZE_WAIT,
            all_heard_at: None,
            pause_before_store: Duration::ZERO,
        };
        finish.check_all_heard(now);
        Some(finish)
    }

    /// Makes the leader wait `pause` between collecting and storing (a
    /// fault, for the tests that kill a leader in the middle).
    pub fn with_pause_before_store(mut self, pause: Duration) -> Self {
        self.pause_before_store = pause;
        self
    }

    /// The servers to freeze.
    pub fn servers(&self) -> &[String] {
        &self.asked
    }

    /// `server` sent its partial at `now`.
    pub fn partial(&mut self, server: &str, partial: &Partial, now: Instant) {
        if self.hear(server, true, now) {
            self.collected.merge(partial);
        }
    }

    /// `server` answered with anything but its partial (a refusal, a
    /// transport error) at `now`: it counts as silent.
    pub fn no_partial(&mut self, server: &str, now: Instant) {
        self.hear(server, false, now);
    }

    /// What to do at `now`: wait (for answers, or for the fault's pause),
    /// or store. Storing comes once every server has been heard from, or
    /// [`FREEZE_WAIT`] after the start, whichever is first (plus the
    /// pause, if a test set one).
    pub fn next(&self, now: Instant) -> FinishStep {
        let collected_at = match self.all_heard_at {
            Some(at) => at.min(self.give_up_at),
            None if now >= self.give_up_at => self.give_up_at,
            None => return FinishStep::Wait(self.give_up_at),
        };
        let store_at = collected_at + self.pause_before_store;
        if now >= store_at {
            FinishStep::Store
        } else {
            FinishStep::Wait(store_at)
        }
    }

    /// What to store: the merged partials and who answered. A server not
    /// heard from by now is silent.
    pub fn into_result(self) -> Collected {
        let mut answered = Vec::new();
        let mut silent = Vec::new();
        for (server, heard) in self.asked.into_iter().zip(self.heard) {
            if heard == Some(true) {
                answered.push(server);
            } else {
                silent.push(server);
            }
        }
        Collected {
            partial: self.collected,
            answered,
            silent,
        }
    }

    /// Records the first answer of `server`; whether it counts (a server
    /// not asked, a second answer, or one after the wait is ignored).
    fn hear(&mut self, server: &str, sent_partial: bool, now: Instant) -> bool {
        if now > self.give_up_at {
            return false;
        }
        let Some(i) = self.asked.iter().position(|s| s == server) else {
            return false;
        };
        if self.heard[i].is_some() {
            return false;
        }
        self.heard[i] = Some(sent_partial);
        self.check_all_heard(now);
        true
    }

    fn check_all_heard(&mut self, now: Instant) {
        if self.all_heard_at.is_none() && self.heard.iter().all(Option::is_some) {
            self.all_heard_at = Some(now);
        }
    }
}
