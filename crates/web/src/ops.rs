//! The operations API: the cluster's status and its shared files, over
//! HTTP, for people who have logged in and for the operator. This is how
//! `convene status` and `convene files` reach a cluster, so the peer port
//! can be firewalled to the cluster's own nodes.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /api/status` | `{"coordinator","nodes":[{"id","peer_address","priority","state","coordinator","live","term","authority","services"}]}`: every node `up` (with its view) or `down` |
//! | `GET /api/status/live` | Server-Sent Events: a `status` event with the same JSON at once and whenever it changes (see `status_live.rs`) |
//! | `GET /api/files` | `{"files":[{"index","path","size","modified","locked"}],"missing":[...]}`: the composite listing |
//! | `GET /api/files/{path}` | the file's bytes, from this node's shared folder |
//! | `PUT /api/files/{path}` | the raw body becomes the file in this node's shared folder (then it syncs) |
//! | `POST /api/files/{path}/lock`, `/unlock` | lock or unlock that file: 200 `{"ok","path","message"}` |
//! | `POST /api/files/lock` | `{"path"}` or `{"index"}`: 200 `{"ok","path","message"}` |
//! | `POST /api/files/unlock` | the same, with `"force": true` to break another's lock |
//! | `/api/booking/…`, `/api/bookings…` | facilities and the account's bookings (see `ops/booking.rs`) |
//! | `/api/meet/common`, `/api/meet/meetings` | EE450's common free time, and registering a meeting in it (see `ops/meet.rs`) |
//! | `GET /api/chat` | a WebSocket to the node's chat server, the course protocol's JSON one message per frame (see `ops/chat.rs`) |
//!
//! `GET /healthz`, `GET /readyz` (see [`health`]) and `GET /metrics` (see
//! [`metrics`]) are outside this table's authentication: a load balancer
//! or a Prometheus server has no session.
//!
//! The pages `/status` and `/files` show the same to a logged-in person
//! (see `status_page.rs` and `files_page.rs`); they need a session, as
//! every page does, and their forms a CSRF token.
//!
//! Every route first runs `caller::authenticate`: a stranger gets `401`
//! and nothing else. The web node answers from its own node's services:
//! the status by asking every node over the peer transport
//! ([`Membership::views`]), the files through [`Files`], which gathers
//! the folders and passes lock requests to the lock holder naming the
//! authenticated account as the owner.
//!
//! - [`operator`]: the operator's credential (the cluster secret, proved
//!   per request without sending it).
//! - [`caller`]: who is asking (session token, cookie, or operator).
//! - `status.rs`, `files.rs`, `transfer.rs`: the JSON handlers.
//! - `status_live.rs`, `booking_live.rs`: the live streams (Server-Sent
//!   Events) behind the status and booking pages.
//! - `status_page.rs`, `files_page.rs`: the pages; `multipart.rs`: the
//!   upload form's body.

use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use convene_booking::service::BookingHandle;
use convene_cluster::membership::Membership;
use convene_files::service::Files;
use convene_meet::MeetHandle;

use crate::state::App;

pub(crate) mod booking;
mod booking_live;
pub mod caller;
pub mod chat;
mod files;
mod files_page;
pub mod health;
pub(crate) mod meet;
pub mod metrics;
mod multipart;
pub mod operator;
mod status;
mod status_live;
mod status_page;
pub(crate) mod transfer;

pub use caller::Caller;

/// What the operations API needs from its node.
pub struct Operations {
    /// The node's membership: the cluster file, and every node's view.
    pub membership: Membership,
    /// The node's files service.
    pub files: Files,
    /// This node's shared folder, if it has one: where uploads go and
    /// downloads come from.
    pub folder: Option<PathBuf>,
    /// What each node of the cluster file runs, in the file's order, one
    /// short line per service (`"booking :5001 (room1, room2)"`); the node
    /// crate writes them, as it alone knows every service's section.
    pub services: Vec<Vec<String>>,
    /// The node's booking service, for the booking API and page (none: no
    /// `/api/booking…` or `/booking` on this front).
    pub booking: Option<BookingHandle>,
    /// The node's meet service, for the meet API and page (none: no
    /// `/api/meet…` or `/meet` on this front).
    pub meet: Option<MeetHandle>,
    /// The node's chat server, for `/api/chat` and `/chat` (none: neither
    /// on this front).
    pub chat: Option<chat::ChatFront>,
}

/// The handlers' shared state.
pub(crate) struct Ops {
    pub(crate) membership: Membership,
    pub(crate) files: Files,
    pub(crate) folder: Option<PathBuf>,
    pub(crate) services: Vec<Vec<String>>,
    pub(crate) booking: Option<BookingHandle>,
    pub(crate) meet: Option<MeetHandle>,
    pub(crate) chat: Option<chat::ChatFront>,
    /// Checks operator credentials, if the cluster has a secret.
    operator: Option<operator::OperatorGate>,
    /// The one status gatherer behind `GET /api/status/live`.
    status_feed: status_live::StatusFeed,
}

impl Ops {
    /// The handlers' state made from the node's `operations`.
    pub(crate) fn new(operations: Operations) -> Arc<Ops> {
        let operator = operations
            .membership
            .cluster()
            .secret
            .as_ref()
            .map(|secret| operator::OperatorGate::new(operator::OperatorKey::new(secret)));
        Arc::new(Ops {
            membership: operations.membership,
            files: operations.files,
            folder: operations.folder,
            services: operations.services,
            booking: operations.booking,
            meet: operations.meet,
            chat: operations.chat,
            operator,
            status_feed: status_live::StatusFeed::default(),
        })
    }
}

/// The operations routes, every one behind `caller::authenticate`;
/// none without `operations` (a web front started without its node's
/// handles, as in the web crate's own tests).
pub(crate) fn routes(app: &App, ops: Option<Arc<Ops>>) -> Router<App> {
    let Some(ops) = ops else {
        return Router::new();
    };
    let mut pages = Router::new()
        .route("/status", get(status_page::show))
        .route("/files", get(files_page::show))
        .route("/files/lock", post(files_page::lock))
        .route("/files/unlock", post(files_page::unlock))
        .route("/files/upload", post(files_page::upload));
    // The booking page, on a front with a booking service: a page (a login
    // redirect, not a 401), so outside the API's authentication layer.
    if ops.booking.is_some() {
        pages = pages
            .route(
                "/booking",
                get(crate::pages::booking::show).post(crate::pages::booking::book),
            )
            .route("/booking/{id}/{action}", post(crate::pages::booking::act));
    }
    if ops.meet.is_some() {
        pages = pages.route(
            "/meet",
            get(crate::pages::meet::show).post(crate::pages::meet::register),
        );
    }
    if ops.chat.is_some() {
        pages = pages.route("/chat", get(crate::pages::chat::show));
    }
    let pages = pages.layer(Extension(ops.clone()));
    let mut api = Router::new();
    if ops.chat.is_some() {
        api = api.route("/api/chat", get(chat::connect));
    }
    api.route("/api/status", get(status::show))
        .route("/api/status/live", get(status_live::show))
        .route("/api/files", get(files::list))
        .route("/api/files/lock", post(files::lock))
        .route("/api/files/unlock", post(files::unlock))
        .route(
            "/api/files/{*path}",
            get(transfer::download)
                .put(transfer::upload)
                .post(transfer::lock_or_unlock),
        )
        .route("/api/booking/facilities", get(booking::facilities))
        .route("/api/booking/facilities/{name}", get(booking::facility))
        .route(
            "/api/booking/facilities/{name}/live",
            get(booking_live::facility),
        )
        .route("/api/booking/live", get(booking_live::all))
        .route("/api/bookings", get(booking::mine).post(booking::book))
        .route(
            "/api/bookings/{id}",
            patch(booking::change).delete(booking::cancel),
        )
        .route("/api/meet/common", get(meet::common))
        .route("/api/meet/meetings", post(meet::register))
        .route_layer(axum::middleware::from_fn_with_state(
            (app.clone(), ops.clone()),
            caller::authenticate,
        ))
        .layer(Extension(ops))
        .merge(pages)
}
