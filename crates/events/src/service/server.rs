//! One event server: its share of the constraints, folded into partial
//! solutions, one event at a time.
//!
//! Each event has a gate, a read-write lock. Submissions pass it shared, so
//! many back up their constraints at once (the database's commit is the
//! slow step, and concurrent commits share its cost); the fold into the
//! working set, a quick read-modify-write, takes the event's fold lock.
//! A freeze, an adoption or a clear takes the gate exclusively: it waits
//! for the submissions already under way (the seed's "wait until the queue
//! clears"), so a constraint is either in the partial the leader collects
//! or refused.
//!
//! The order inside a submission is what makes recovery work: the
//! constraint is **backed up in the database first**, then folded into the
//! working set, then acknowledged. A server that dies at any point has lost
//! nothing that was acknowledged; whoever takes its share over rebuilds it
//! from the backups.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::RwLock;

use crate::db::{Constraint, EventDb, EventState};
use crate::error::EventsError;
use crate::interval::{Availability, Partial};
use crate::plan::Held;
use crate::working::{Entry, WorkingSet};

use super::clock::Clock;

/// What a server remembers of an event it has seen: enough to validate a
/// submission without asking the database each time. None of it changes
/// while the event is open (the deadline and the participants are fixed at
/// creation), so the cache needs no invalidation but "it became final".
struct Known {
    deadline: i64,
    participants: HashSet<String>,
    final_: AtomicBool,
}

/// One event's state on this server.
#[derive(Default)]
struct Slot {
    /// Shared by submissions, exclusive for freeze, adopt and clear.
    gate: RwLock<()>,
    /// Serialises the working set's read-fold-write.
    fold: tokio::sync::Mutex<()>,
    known: Mutex<Option<Arc<Known>>>,
    /// Whether the working-set entry has been rebuilt from the database by
    /// this process (after a start or an adoption it must be). Changes only
    /// under the exclusive gate, except when a failed write clears it.
    loaded: AtomicBool,
    /// The entry's frozen flag, mirrored so a submission need not read the
    /// working set to check it. Changes only under the exclusive gate.
    frozen: AtomicBool,
}

/// An event server's share: the events it holds constraints of.
pub(crate) struct EventServer {
    me: String,
    db: Arc<dyn EventDb>,
    working: Arc<dyn WorkingSet>,
    clock: Clock,
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

impl EventServer {
    pub(crate) fn new(
        me: String,
        db: Arc<dyn EventDb>,
        working: Arc<dyn WorkingSet>,
        clock: Clock,
    ) -> Self {
        EventServer {
            me,
            db,
            working,
            clock,
            slots: Mutex::new(HashMap::new()),
        }
    }

    fn slot(&self, event: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(event.to_string()).or_default().clone()
    }

    /// Validates, backs up and folds in one constraint.
    pub(crate) async fn submit(
        &self,
        event: &str,
        user: &str,
        availability: &Availability,
    ) -> Result<(), EventsError> {
        let slot = self.slot(event);
        let known = match self.known(&slot, event).await {
            Ok(known) => known,
            Err(e) => {
                // Keep no state for an id the database does not know: a
                // stream of made-up ids must not grow the map.
                if matches!(e, EventsError::UnknownEvent(_)) {
                    self.forget(event);
                }
                return Err(e);
            }
        };
        if known.final_.load(Ordering::Relaxed) || self.clock.seconds() >= known.deadline {
            return Err(EventsError::DeadlinePassed);
        }
        if !known.participants.contains(user) {
            return Err(EventsError::NotInvited {
                user: user.to_string(),
            });
        }
        let _shared = loop {
            let shared = slot.gate.read().await;
            if slot.loaded.load(Ordering::Acquire) {
                break shared;
            }
            drop(shared);
            let _exclusive = slot.gate.write().await;
            self.load(&slot, event).await?;
        };
        if slot.frozen.load(Ordering::Acquire) {
            return Err(EventsError::DeadlinePassed);
        }
        let backup = Constraint {
            event: event.to_string(),
            user: user.to_string(),
            server: self.me.clone(),
            availability: availability.clone(),
            submitted_at: self.clock.seconds(),
        };
        if !self.db.add_constraint(&backup).await? {
            known.final_.store(true, Ordering::Relaxed);
            return Err(EventsError::DeadlinePassed);
        }
        let _fold = slot.fold.lock().await;
        let folded = async {
            let mut entry = self.working.get(&self.me, event).await?.unwrap_or_default();
            entry.partial.fold(availability);
            self.working.put(&self.me, event, &entry).await
        };
        if let Err(e) = folded.await {
            // The backup is stored; the working set missed it. Rebuild from
            // the backups before the next request rather than acknowledge a
            // partial that lacks it.
            slot.loaded.store(false, Ordering::Release);
            return Err(e.into());
        }
        Ok(())
    }

    /// Stops taking constraints for `event` and returns the partial.
    pub(crate) async fn freeze(&self, event: &str) -> Result<Partial, EventsError> {
        let slot = self.slot(event);
        let _exclusive = slot.gate.write().await;
        let mut entry = self.load(&slot, event).await?;
        if !entry.frozen {
            entry.frozen = true;
            self.working.put(&self.me, event, &entry).await?;
            slot.frozen.store(true, Ordering::Release);
        }
        Ok(entry.partial)
    }

    /// Rebuilds the partial of `event` from the database (constraints were
    /// handed to this server).
    pub(crate) async fn adopt(&self, event: &str) -> Result<(), EventsError> {
        let slot = self.slot(event);
        let _exclusive = slot.gate.write().await;
        slot.loaded.store(false, Ordering::Release);
        self.load(&slot, event).await.map(drop)
    }

    /// Forgets `event` (its result is stored).
    pub(crate) async fn clear(&self, event: &str) -> Result<(), EventsError> {
        let slot = self.slot(event);
        let _exclusive = slot.gate.write().await;
        self.working.remove(&self.me, event).await?;
        self.forget(event);
        Ok(())
    }

    fn forget(&self, event: &str) {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.remove(event);
    }

    /// The events this server holds state for, with their deadlines where
    /// known: what the sweep checks for events no longer open.
    pub(crate) fn held(&self) -> Vec<Held> {
        let slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots
            .iter()
            .map(|(event, slot)| {
                let known = slot.known.lock().unwrap_or_else(|e| e.into_inner());
                Held {
                    event: event.clone(),
                    deadline: known.as_ref().map(|k| k.deadline),
                }
            })
            .collect()
    }

    /// The event's fixed facts, read from the database the first time.
    async fn known(&self, slot: &Slot, event: &str) -> Result<Arc<Known>, EventsError> {
        if let Some(known) = slot.known.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(known);
        }
        let stored = self
            .db
            .event(event)
            .await?
            .ok_or_else(|| EventsError::UnknownEvent(event.to_string()))?;
        let known = Arc::new(Known {
            deadline: stored.deadline,
            participants: stored.participants.into_iter().map(|p| p.name).collect(),
            final_: AtomicBool::new(stored.state == EventState::Final),
        });
        *slot.known.lock().unwrap_or_else(|e| e.into_inner()) = Some(known.clone());
        Ok(known)
    }

    /// The working-set entry, rebuilt from the backups the first time this
    /// process touches the event (or after an adoption). Called with the
    /// gate held exclusively.
    async fn load(&self, slot: &Slot, event: &str) -> Result<Entry, EventsError> {
        let stored = self.working.get(&self.me, event).await?;
        if slot.loaded.load(Ordering::Acquire) {
            return Ok(stored.unwrap_or_default());
        }
        let mut partial = Partial::none();
        for constraint in self.db.constraints(event, &self.me).await? {
            partial.fold(&constraint);
        }
        let entry = Entry {
            partial,
            frozen: stored.is_some_and(|e| e.frozen),
        };
        self.working.put(&self.me, event, &entry).await?;
        slot.frozen.store(entry.frozen, Ordering::Release);
        slot.loaded.store(true, Ordering::Release);
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{
        AccountBooking, DbFuture, Event, EventSummary, NewEvent, OpenEvent, PageOf, Session, User,
    };
    use crate::interval::Interval;
    use crate::working::MemoryWorkingSet;

    /// A database that knows no event; a test that reaches anything else
    /// has gone wrong.
    struct NoEvents;

    impl EventDb for NoEvents {
        fn backend(&self) -> &'static str {
            "none"
        }
        fn create_user<'a>(&'a self, _: &'a User) -> DbFuture<'a, ()> {
            unreachable!()
        }
        fn user<'a>(&'a self, _: &'a str) -> DbFuture<'a, Option<User>> {
            unreachable!()
        }
        fn unknown_users<'a>(&'a self, _: &'a [String]) -> DbFuture<'a, Vec<String>> {
            unreachable!()
        }
        fn create_session<'a>(&'a self, _: &'a Session) -> DbFuture<'a, ()> {
            unreachable!()
        }
        fn session<'a>(&'a self, _: &'a str) -> DbFuture<'a, Option<Session>> {
            unreachable!()
        }
        fn delete_session<'a>(&'a self, _: &'a str) -> DbFuture<'a, ()> {
            unreachable!()
        }
        fn create_event<'a>(&'a self, _: &'a NewEvent) -> DbFuture<'a, ()> {
            unreachable!()
        }
        fn event<'a>(&'a self, _: &'a str) -> DbFuture<'a, Option<Event>> {
            Box::pin(async { Ok(None) })
        }
        fn events_page<'a>(
            &'a self,
            _: &'a str,
            _: &'a PageOf,
            _: usize,
        ) -> DbFuture<'a, Vec<EventSummary>> {
            unreachable!()
        }
        fn open_events_created<'a>(&'a self, _: &'a str, _: i64) -> DbFuture<'a, u64> {
            unreachable!()
        }
        fn add_constraint<'a>(&'a self, _: &'a Constraint) -> DbFuture<'a, bool> {
            unreachable!()
        }
        fn constraints<'a>(&'a self, _: &'a str, _: &'a str) -> DbFuture<'a, Vec<Availability>> {
            unreachable!()
        }
        fn open_events(&self) -> DbFuture<'_, Vec<OpenEvent>> {
            unreachable!()
        }
        fn set_leader<'a>(&'a self, _: &'a str, _: &'a str, _: &'a str) -> DbFuture<'a, bool> {
            unreachable!()
        }
        fn move_constraints<'a>(&'a self, _: &'a str, _: &'a str) -> DbFuture<'a, Vec<String>> {
            unreachable!()
        }
        fn finish<'a>(
            &'a self,
            _: &'a str,
            _: &'a Partial,
            _: &'a [String],
        ) -> DbFuture<'a, Option<Availability>> {
            unreachable!()
        }
        fn save_account_booking<'a>(&'a self, _: &'a AccountBooking) -> DbFuture<'a, ()> {
            unreachable!()
        }
        fn account_booking<'a>(&'a self, _: &'a str) -> DbFuture<'a, Option<AccountBooking>> {
            unreachable!()
        }
        fn account_bookings<'a>(&'a self, _: &'a str) -> DbFuture<'a, Vec<AccountBooking>> {
            unreachable!()
        }
        fn delete_account_booking<'a>(&'a self, _: &'a str) -> DbFuture<'a, ()> {
            unreachable!()
        }
    }

    #[tokio::test]
    async fn made_up_event_ids_are_refused_and_leave_no_state() {
        let server = EventServer::new(
            "A".into(),
            Arc::new(NoEvents),
            Arc::new(MemoryWorkingSet::new()),
            Clock::system(),
        );
        let availability = Availability::from_iter([Interval::new(1, 2).unwrap()]);
        for i in 0..1000 {
            let made_up = format!("{i:010}");
            let refused = server.submit(&made_up, "ada", &availability).await;
            assert_eq!(refused, Err(EventsError::UnknownEvent(made_up)));
        }
        assert!(server.slots.lock().unwrap().is_empty());
        assert!(server.held().is_empty());
    }
}
