//! [`App`]: what every handler shares, and the limit on what a request may
//! carry. Handlers take it as axum state; [`routes`](crate::routes) builds it
//! once per web front and wires the routes to it.

use std::sync::Arc;

use axum::extract::FromRef;
use convene_cluster::config::Limits;
use convene_events::{EventDb, Events};

use crate::password::Passwords;
use crate::throttle::Throttle;

/// The largest request body taken: far above any real form or event, and
/// small enough that a flood of large bodies cannot exhaust memory.
pub const MAX_BODY: usize = 1 << 20;

/// What every handler shares. Cheap to clone (a few `Arc`s).
#[derive(Clone)]
pub struct App {
    /// The events service on this node.
    pub events: Events,
    /// The password hasher (argon2id, a few at a time, a bounded queue).
    pub passwords: Arc<Passwords>,
    /// The login and registration rate limits.
    pub throttle: Arc<Throttle>,
}

impl App {
    /// The shared state of a web front serving `events`, with this node's
    /// `[limits]` for password hashing and the login rate limits.
    pub fn new(events: Events, limits: &Limits) -> App {
        App {
            events,
            passwords: Arc::new(Passwords::with_queue(limits.password_hash_queue)),
            throttle: Arc::new(Throttle::new(limits)),
        }
    }

    /// The shared database, for accounts and sessions.
    pub fn db(&self) -> &Arc<dyn EventDb> {
        self.events.db()
    }
}

/// The login and registration limits, for extractors that need only them
/// ([`ClientAddress`](crate::throttle::ClientAddress)).
impl FromRef<App> for Arc<Throttle> {
    fn from_ref(app: &App) -> Arc<Throttle> {
        app.throttle.clone()
    }
}
