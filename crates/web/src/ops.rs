//! The operations API: the cluster's status and its shared files, over
//! HTTP, for people who have logged in and for the operator. This is how
//! `convene status` and `convene files` reach a cluster, so the peer port
//! can be firewalled to the cluster's own nodes.
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /api/status` | `{"nodes":[{"id","peer_address","priority","state","coordinator","live"}]}`: every node `up` (with its view) or `down` |
//! | `GET /api/files` | `{"files":[{"index","path","size","modified","locked"}],"missing":[...]}`: the composite listing |
//! | `POST /api/files/lock` | `{"path"}` or `{"index"}`: 200 `{"ok","path","message"}` |
//! | `POST /api/files/unlock` | the same, with `"force": true` to break another's lock |
//! | `/api/booking/…`, `/api/bookings…` | facilities and the account's bookings (see `ops/booking.rs`) |
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
//! - `status.rs`, `files.rs`: the handlers.

use std::sync::Arc;

use axum::routing::{get, patch, post};
use axum::{Extension, Router};
use convene_booking::service::BookingHandle;
use convene_cluster::membership::Membership;
use convene_files::service::Files;

use crate::state::App;

pub(crate) mod booking;
pub mod caller;
mod files;
pub mod operator;
mod status;

pub use caller::Caller;

/// What the operations API needs from its node.
pub struct Operations {
    /// The node's membership: the cluster file, and every node's view.
    pub membership: Membership,
    /// The node's files service.
    pub files: Files,
    /// The node's booking service, for the booking API and page (none: no
    /// `/api/booking…` or `/booking` on this front).
    pub booking: Option<BookingHandle>,
}

/// The handlers' shared state.
pub(crate) struct Ops {
    membership: Membership,
    files: Files,
    booking: Option<BookingHandle>,
    /// Checks operator credentials, if the cluster has a secret.
    operator: Option<operator::OperatorGate>,
}

/// The operations routes, every one behind `caller::authenticate`;
/// none without `operations` (a web front started without its node's
/// handles, as in the web crate's own tests).
pub fn routes(app: &App, operations: Option<Operations>) -> Router<App> {
    let Some(operations) = operations else {
        return Router::new();
    };
    let operator = operations
        .membership
        .cluster()
        .secret
        .as_ref()
        .map(|secret| operator::OperatorGate::new(operator::OperatorKey::new(secret)));
    let ops = Arc::new(Ops {
        membership: operations.membership,
        files: operations.files,
        booking: operations.booking,
        operator,
    });
    // The booking page: a page (a login redirect, not a 401), so outside
    // the API's authentication layer.
    let pages = match ops.booking {
        Some(_) => Router::new()
            .route(
                "/booking",
                get(crate::pages::booking::show).post(crate::pages::booking::book),
            )
            .route("/booking/{id}/{action}", post(crate::pages::booking::act))
            .layer(Extension(ops.clone())),
        None => Router::new(),
    };
    Router::new()
        .route("/api/status", get(status::show))
        .route("/api/files", get(files::list))
        .route("/api/files/lock", post(files::lock))
        .route("/api/files/unlock", post(files::unlock))
        .route("/api/booking/facilities", get(booking::facilities))
        .route("/api/booking/facilities/{name}", get(booking::facility))
        .route("/api/bookings", get(booking::mine).post(booking::book))
        .route(
            "/api/bookings/{id}",
            patch(booking::change).delete(booking::cancel),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            (app.clone(), ops.clone()),
            caller::authenticate,
        ))
        .layer(Extension(ops))
        .merge(pages)
}
