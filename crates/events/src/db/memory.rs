//! An in-memory [`EventDb`]: the shared database's behaviour, without an
//! engine, for tests (the web front's router tests, the service's
//! simulation). Every method is one step under one lock, so each is atomic
//! as the real backends' transactions are.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{
    AccountBooking, Constraint, DbError, DbFuture, Event, EventDb, EventState, EventSummary,
    NewEvent, OpenEvent, PageOf, Participant, Session, User,
};
use crate::interval::{Availability, Partial};

#[derive(Default)]
struct State {
    users: HashMap<String, User>,
    sessions: HashMap<String, Session>,
    bookings: HashMap<String, AccountBooking>,
    events: HashMap<String, Event>,
    /// Each constraint and the server holding it now.
    constraints: Vec<(Constraint, String)>,
}

/// The database, in a mutex. Nothing is kept when it is dropped.
#[derive(Default)]
pub struct MemoryDb {
    state: Mutex<State>,
}

impl MemoryDb {
    /// How many sessions are stored (logout tests).
    pub fn session_count(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sessions
            .len()
    }

    /// Every stored session (to check what is stored in place of tokens).
    pub fn sessions(&self) -> Vec<Session> {
        self.state
            .lock()
            .unwrap()
            .sessions
            .values()
            .cloned()
            .collect()
    }

    /// The stored account.
    pub fn stored_user(&self, name: &str) -> Option<User> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .get(name)
            .cloned()
    }
}

fn ready<'a, T: Send + 'a>(value: Result<T, DbError>) -> DbFuture<'a, T> {
    Box::pin(async move { value })
}

impl EventDb for MemoryDb {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn create_user<'a>(&'a self, user: &'a User) -> DbFuture<'a, ()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.users.contains_key(&user.name) {
            return ready(Err(DbError::Duplicate));
        }
        s.users.insert(user.name.clone(), user.clone());
        ready(Ok(()))
    }

    fn user<'a>(&'a self, name: &'a str) -> DbFuture<'a, Option<User>> {
        ready(Ok(self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .users
            .get(name)
            .cloned()))
    }

    fn unknown_users<'a>(&'a self, names: &'a [String]) -> DbFuture<'a, Vec<String>> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        ready(Ok(names
            .iter()
            .filter(|n| !s.users.contains_key(*n))
            .cloned()
            .collect()))
    }

    fn create_session<'a>(&'a self, session: &'a Session) -> DbFuture<'a, ()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.sessions
            .insert(session.token_hash.clone(), session.clone());
        ready(Ok(()))
    }

    fn session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, Option<Session>> {
        ready(Ok(self
            .state
            .lock()
            .unwrap()
            .sessions
            .get(token_hash)
            .cloned()))
    }

    fn delete_session<'a>(&'a self, token_hash: &'a str) -> DbFuture<'a, ()> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .sessions
            .remove(token_hash);
        ready(Ok(()))
    }

    fn save_account_booking<'a>(&'a self, booking: &'a AccountBooking) -> DbFuture<'a, ()> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bookings
            .insert(booking.id.clone(), booking.clone());
        ready(Ok(()))
    }

    fn account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<AccountBooking>> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        ready(Ok(s.bookings.get(id).cloned()))
    }

    fn account_bookings<'a>(&'a self, account: &'a str) -> DbFuture<'a, Vec<AccountBooking>> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut mine: Vec<AccountBooking> = s
            .bookings
            .values()
            .filter(|b| b.account == account)
            .cloned()
            .collect();
        mine.sort_by(|a, b| (&a.facility, a.start).cmp(&(&b.facility, b.start)));
        ready(Ok(mine))
    }

    fn delete_account_booking<'a>(&'a self, id: &'a str) -> DbFuture<'a, ()> {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .bookings
            .remove(id);
        ready(Ok(()))
    }

    fn create_event<'a>(&'a self, event: &'a NewEvent) -> DbFuture<'a, ()> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.events.contains_key(&event.id) {
            return ready(Err(DbError::Duplicate));
        }
        s.events.insert(
            event.id.clone(),
            Event {
                id: event.id.clone(),
                name: event.name.clone(),
                description: event.description.clone(),
                creator: event.creator.clone(),
                deadline: event.deadline,
                leader: event.leader.clone(),
                state: EventState::Open,
                result: None,
                created_at: event.created_at,
                participants: event
                    .participants
                    .iter()
                    .map(|name| Participant {
                        name: name.clone(),
                        answered: false,
                    })
                    .collect(),
            },
        );
        ready(Ok(()))
    }

    fn event<'a>(&'a self, id: &'a str) -> DbFuture<'a, Option<Event>> {
        ready(Ok(self
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .events
            .get(id)
            .cloned()))
    }

    fn events_page<'a>(
        &'a self,
        user: &'a str,
        page: &'a PageOf,
        limit: usize,
    ) -> DbFuture<'a, Vec<EventSummary>> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<EventSummary> = s
            .events
            .values()
            .filter(|e| e.creator == user || e.participants.iter().any(|p| p.name == user))
            .map(|e| EventSummary {
                id: e.id.clone(),
                name: e.name.clone(),
                creator: e.creator.clone(),
                deadline: e.deadline,
                state: e.state,
                result: e.result.clone(),
                answered: e.participants.iter().any(|p| p.name == user && p.answered),
            })
            .collect();
        // The list's order: latest deadline first, then by id.
        let key = |deadline: i64, id: &str| (std::cmp::Reverse(deadline), id.to_string());
        out.sort_by_key(|e| key(e.deadline, &e.id));
        let page = match page {
            PageOf::First => out.into_iter().take(limit).collect(),
            PageOf::After(c) => out
                .into_iter()
                .filter(|e| key(e.deadline, &e.id) > key(c.deadline, &c.id))
                .take(limit)
                .collect(),
            PageOf::Before(c) => {
                let before: Vec<EventSummary> = out
                    .into_iter()
                    .filter(|e| key(e.deadline, &e.id) < key(c.deadline, &c.id))
                    .collect();
                let skip = before.len().saturating_sub(limit);
                before.into_iter().skip(skip).collect()
            }
        };
        ready(Ok(page))
    }

    fn open_events_created<'a>(&'a self, creator: &'a str, now: i64) -> DbFuture<'a, u64> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let count = s
            .events
            .values()
            .filter(|e| e.creator == creator && e.deadline > now)
            .count();
        ready(Ok(count as u64))
    }

    fn add_constraint<'a>(&'a self, constraint: &'a Constraint) -> DbFuture<'a, bool> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(event) = s.events.get_mut(&constraint.event) else {
            return ready(Ok(false));
        };
        if event.state != EventState::Open {
            return ready(Ok(false));
        }
        for p in &mut event.participants {
            if p.name == constraint.user {
                p.answered = true;
            }
        }
        s.constraints
            .push((constraint.clone(), constraint.server.clone()));
        ready(Ok(true))
    }

    fn constraints<'a>(
        &'a self,
        event: &'a str,
        server: &'a str,
    ) -> DbFuture<'a, Vec<Availability>> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        ready(Ok(s
            .constraints
            .iter()
            .filter(|(c, holder)| c.event == event && (holder == server || c.server == server))
            .map(|(c, _)| c.availability.clone())
            .collect()))
    }

    fn open_events(&self) -> DbFuture<'_, Vec<OpenEvent>> {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<OpenEvent> = s
            .events
            .values()
            .filter(|e| e.state == EventState::Open)
            .map(|e| OpenEvent {
                id: e.id.clone(),
                leader: e.leader.clone(),
                deadline: e.deadline,
            })
            .collect();
        out.sort_by(|a, b| (a.deadline, &a.id).cmp(&(b.deadline, &b.id)));
        ready(Ok(out))
    }

    fn set_leader<'a>(&'a self, event: &'a str, from: &'a str, to: &'a str) -> DbFuture<'a, bool> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match s.events.get_mut(event) {
            Some(e) if e.state == EventState::Open && e.leader == from => {
                e.leader = to.to_string();
                ready(Ok(true))
            }
            _ => ready(Ok(false)),
        }
    }

    fn move_constraints<'a>(&'a self, from: &'a str, to: &'a str) -> DbFuture<'a, Vec<String>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut events = Vec::new();
        for (c, holder) in &mut s.constraints {
            if holder == from {
                *holder = to.to_string();
                events.push(c.event.clone());
            }
        }
        events.sort();
        events.dedup();
        ready(Ok(events))
    }

    fn finish<'a>(
        &'a self,
        event: &'a str,
        collected: &'a Partial,
        answered: &'a [String],
    ) -> DbFuture<'a, Option<Availability>> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let mut result = collected.clone();
        for (c, _) in &s.constraints {
            if c.event == event && !answered.contains(&c.server) {
                result.fold(&c.availability);
            }
        }
        let result = result.into_result();
        match s.events.get_mut(event) {
            Some(e) if e.state == EventState::Open => {
                e.state = EventState::Final;
                e.result = Some(result.clone());
                s.constraints.retain(|(c, _)| c.event != event);
                ready(Ok(Some(result)))
            }
            _ => ready(Ok(None)),
        }
    }
}
