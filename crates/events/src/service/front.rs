//! The web front's side: [`Events`], the handle the web app calls.
//!
//! Creating an event and submitting a constraint go to an event server
//! chosen round-robin among the live ones (the seed's load balancing); if it
//! does not answer, the next one is tried. Reading events goes to the
//! database directly: it is shared, and the result is stored there.
//!
//! Creation applies the cluster's caps (`[limits]` in the cluster file):
//! participants per event, the creator included, and open events per user
//! (events a user created whose deadline has not passed, counted by the
//! database). The count and the insert are two steps, so a user creating
//! several events at the very same moment may pass the cap by the number
//! in flight; the cap bounds what one account can make the event servers
//! carry, and that bound holds.

use std::collections::HashSet;
use std::sync::Arc;

use crate::db::{Event, EventCursor, EventDb, EventSummary, NewEvent, PageOf};
use crate::error::EventsError;
use crate::ids::{is_event_id, new_event_id};
use crate::interval::Availability;
use crate::peer_msg::{Reply, Request};

use tracing::Instrument;

use super::events_node::{EventsNode, Work};
use super::observe;

/// Events on one page of "my events" unless the caller asks for fewer.
pub const PAGE_SIZE: usize = 50;
/// Most events one page may hold, whatever the caller asks for.
pub const MAX_PAGE_SIZE: usize = 100;
/// Most intervals in one submission.
pub const MAX_INTERVALS: usize = 100;
/// Longest event name, in characters.
pub const MAX_NAME: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 5_000;

/// What a user asks for when creating an event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEventRequest {
    /// A short title.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Who creates it (a logged-in user).
    pub creator: String,
    /// Who is invited, by user name (the creator is added if missing).
    pub participants: Vec<String>,
    /// When constraints stop being accepted (Unix seconds, in the future).
    pub deadline: i64,
    /// The creator's own availability, if given.
    pub availability: Option<Availability>,
}

/// One page of a user's events ([`Events::events_page`]), with the places
/// the pages on either side start from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsPage {
    /// The events, latest deadline first.
    pub events: Vec<EventSummary>,
    /// The next page is [`PageOf::After`] this, if any event follows.
    pub next: Option<EventCursor>,
    /// The previous page is [`PageOf::Before`] this, if any event comes
    /// before.
    pub previous: Option<EventCursor>,
}

/// The events service, as a web front uses it. Cheap to clone.
#[derive(Clone)]
pub struct Events {
    pub(crate) node: Arc<EventsNode>,
    /// Where creations and submissions are counted (see
    /// [`observe`](super::observe)).
    pub(crate) metrics: convene_metrics::Metrics,
}

impl Events {
    /// The shared database (accounts and sessions live there too).
    pub fn db(&self) -> &Arc<dyn EventDb> {
        &self.node.db
    }

    /// Creates an event; returns its id. The event server that takes it
    /// becomes its leader.
    pub async fn create(&self, request: NewEventRequest) -> Result<String, EventsError> {
        let observed =
            self.metrics
                .begin(observe::SERVICE, observe::WEB, observe::kinds::CREATE, None);
        let result = self
            .create_unobserved(request)
            .instrument(observed.span().clone())
            .await;
        observed.finish(observe::outcome(&result));
        result
    }

    async fn create_unobserved(&self, request: NewEventRequest) -> Result<String, EventsError> {
        let name = request.name.trim().to_string();
        if name.is_empty() {
            return Err(EventsError::Invalid("the event needs a name".into()));
        }
        if name.chars().count() > MAX_NAME {
            return Err(EventsError::Invalid(format!(
                "the name is longer than {MAX_NAME} characters"
            )));
        }
        if request.description.chars().count() > MAX_DESCRIPTION {
            return Err(EventsError::Invalid(format!(
                "the description is longer than {MAX_DESCRIPTION} characters"
            )));
        }
        let now = self.node.clock.seconds();
        if request.deadline <= now {
            return Err(EventsError::Invalid(
                "the deadline must be in the future".into(),
            ));
        }
        let mut seen = HashSet::new();
        let participants: Vec<String> = std::iter::once(request.creator.clone())
            .chain(request.participants.iter().map(|p| p.trim().to_string()))
            .filter(|p| !p.is_empty() && seen.insert(p.clone()))
            .collect();
        let limits = &self.node.cluster().limits;
        if participants.len() > limits.participants_per_event {
            return Err(EventsError::TooManyParticipants {
                limit: limits.participants_per_event,
                given: participants.len(),
            });
        }
        if let Some(availability) = &request.availability {
            check_size(availability)?;
        }
        let open = self
            .node
            .db
            .open_events_created(&request.creator, now)
            .await?;
        if open >= limits.open_events_per_user as u64 {
            return Err(EventsError::TooManyOpenEvents {
                limit: limits.open_events_per_user,
                open,
            });
        }
        let unknown = self.node.db.unknown_users(&participants).await?;
        if !unknown.is_empty() {
            return Err(EventsError::UnknownUsers(unknown));
        }

        let servers = self.node.round_robin(Work::Event);
        let Some(&first) = servers.first() else {
            return Err(EventsError::NoEventServer);
        };
        let id = new_event_id();
        let event = NewEvent {
            id: id.clone(),
            name,
            description: request.description,
            creator: request.creator.clone(),
            participants,
            deadline: request.deadline,
            leader: self.node.id_of(first).to_string(),
            created_at: self.node.clock.seconds(),
        };
        self.node.db.create_event(&event).await?;

        // Hand the event to its leader; if it does not answer, to the next
        // server (a compare-and-set, so a slow first answer cannot leave two
        // leaders). If none answers, the event is stored and the hand-over
        // loop will find it a leader.
        let mut leader = first;
        for (i, &server) in servers.iter().enumerate() {
            if i > 0 {
                let from = self.node.id_of(leader).to_string();
                if !self
                    .node
                    .db
                    .set_leader(&id, &from, self.node.id_of(server))
                    .await?
                {
                    break;
                }
                leader = server;
            }
            let lead = Request::Lead { event: id.clone() };
            if matches!(self.node.call(server, lead).await, Ok(Reply::Done)) {
                break;
            }
        }
        // The creator's own constraint goes to the leader, as in the seed.
        if let Some(availability) = request.availability {
            let submit = Request::Submit {
                event: id.clone(),
                user: request.creator,
                availability,
            };
            let order = std::iter::once(leader).chain(servers.into_iter().filter(|&s| s != leader));
            self.send(order.collect(), submit).await?;
        }
        Ok(id)
    }

    /// Submits `user`'s availability for `event`.
    pub async fn submit(
        &self,
        event: &str,
        user: &str,
        availability: Availability,
    ) -> Result<(), EventsError> {
        let observed =
            self.metrics
                .begin(observe::SERVICE, observe::WEB, observe::kinds::SUBMIT, None);
        let result = self
            .submit_unobserved(event, user, availability)
            .instrument(observed.span().clone())
            .await;
        observed.finish(observe::outcome(&result));
        result
    }

    async fn submit_unobserved(
        &self,
        event: &str,
        user: &str,
        availability: Availability,
    ) -> Result<(), EventsError> {
        if !is_event_id(event) {
            return Err(EventsError::UnknownEvent(event.to_string()));
        }
        if availability.is_empty() {
            return Err(EventsError::Invalid("give at least one interval".into()));
        }
        check_size(&availability)?;
        let request = Request::Submit {
            event: event.to_string(),
            user: user.to_string(),
            availability,
        };
        self.send(self.node.round_robin(Work::Constraint), request)
            .await
    }

    /// The event with this id.
    pub async fn event(&self, id: &str) -> Result<Event, EventsError> {
        if !is_event_id(id) {
            return Err(EventsError::UnknownEvent(id.to_string()));
        }
        self.node
            .db
            .event(id)
            .await?
            .ok_or_else(|| EventsError::UnknownEvent(id.to_string()))
    }

    /// Event `id` as `viewer` may see it: only its participants may (the
    /// creator is always one). Event codes are hard to guess, but a link
    /// passed on should still not show who was invited and who answered.
    pub async fn event_for(&self, id: &str, viewer: &str) -> Result<Event, EventsError> {
        let event = self.event(id).await?;
        if event.creator == viewer || event.participants.iter().any(|p| p.name == viewer) {
            Ok(event)
        } else {
            Err(EventsError::NotInvited {
                user: viewer.to_string(),
            })
        }
    }

    /// One page of the events `user` created or is invited to, latest
    /// deadline first: at most `size` (from 1 to [`MAX_PAGE_SIZE`]), and
    /// where the pages before and after it start. A page before a place
    /// that has fewer than `size` events before it is the first page.
    pub async fn events_page(
        &self,
        user: &str,
        page: PageOf,
        size: usize,
    ) -> Result<EventsPage, EventsError> {
        let size = size.clamp(1, MAX_PAGE_SIZE);
        let db = &self.node.db;
        // Each page is read with one event more than it holds, to know
        // whether more follow it (or, before a place, precede it).
        if let PageOf::Before(place) = &page {
            let mut events = db.events_page(user, &page, size + 1).await?;
            if events.len() > size {
                // The extra event is the one farthest from the place.
                events.remove(0);
                let last = events.last().map_or_else(|| place.clone(), EventCursor::of);
                let next = self
                    .any_on(user, PageOf::After(last.clone()))
                    .await?
                    .then_some(last);
                let previous = Some(EventCursor::of(&events[0]));
                return Ok(EventsPage {
                    events,
                    next,
                    previous,
                });
            }
            // Fewer than a page before the place: the first page, full.
            return self.forwards(user, PageOf::First, size).await;
        }
        self.forwards(user, page, size).await
    }

    /// The first page, or the page after a place.
    async fn forwards(
        &self,
        user: &str,
        page: PageOf,
        size: usize,
    ) -> Result<EventsPage, EventsError> {
        let mut events = self.node.db.events_page(user, &page, size + 1).await?;
        let next = (events.len() > size).then(|| EventCursor::of(&events[size - 1]));
        events.truncate(size);
        let previous = match page {
            PageOf::After(place) => {
                let first = events.first().map_or(place, EventCursor::of);
                self.any_on(user, PageOf::Before(first.clone()))
                    .await?
                    .then_some(first)
            }
            _ => None,
        };
        Ok(EventsPage {
            events,
            next,
            previous,
        })
    }

    /// Whether `user` has any event on `page`.
    async fn any_on(&self, user: &str, page: PageOf) -> Result<bool, EventsError> {
        Ok(!self.node.db.events_page(user, &page, 1).await?.is_empty())
    }

    /// Sends `request` to the first of `servers` that answers.
    async fn send(&self, servers: Vec<usize>, request: Request) -> Result<(), EventsError> {
        for server in servers {
            match self.node.call(server, request.clone()).await {
                Ok(Reply::Done) => return Ok(()),
                Ok(Reply::Refused(EventsError::NoEventServer)) => continue,
                Ok(Reply::Refused(error)) => return Err(error),
                Ok(Reply::Partial(_)) => continue,
                Err(error) => {
                    tracing::info!(server = self.node.id_of(server), %error, "event server did not answer; trying the next");
                }
            }
        }
        Err(EventsError::NoEventServer)
    }
}

fn check_size(availability: &Availability) -> Result<(), EventsError> {
    if availability.as_slice().len() > MAX_INTERVALS {
        return Err(EventsError::Invalid(format!(
            "at most {MAX_INTERVALS} intervals may be given at once"
        )));
    }
    Ok(())
}
