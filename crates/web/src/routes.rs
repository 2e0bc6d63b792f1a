//! The routes, and what every response carries. The state they share is
//! [`App`], in [`state`](crate::state).
//!
//! | Route | What |
//! |---|---|
//! | `GET /` | to `/events` when logged in, else `/login` |
//! | `GET, POST /register`, `/login`; `POST /logout` | accounts (pages) |
//! | `GET /events` | my events |
//! | `GET, POST /events/new` | create an event (with "Add interval") |
//! | `GET /events/{id}`; `POST /events/{id}/availability` | one event (rows of times, or the painted grid) |
//! | `GET /events/{id}/calendar.ics` | a final event's result as an iCalendar file |
//! | `POST /events/{id}/book`, `/events/{id}/folder` | a final event's actions (see [`flows`](crate::pages::flows)) |
//! | `GET /style.css`, `/grid.js`, `/chat.js`, `/live.js` | the stylesheet; the grid's painting script; the chat client; the live pages' script (booking grid, status) |
//! | `POST /api/register`, `/api/login`, `/api/logout` | accounts (JSON) |
//! | `GET, POST /api/events`; `GET /api/events/{id}` | events (JSON) |
//! | `POST /api/events/{id}/constraints` | availability (JSON) |
//! | `GET /status`, `/files`; `POST /files/lock`, `/files/unlock`, `/files/upload` | the cluster's pages (see [`ops`](crate::ops)) |
//! | `GET /api/status`, `/api/files`; `POST /api/files/lock`, `/unlock` | the cluster (see [`ops`](crate::ops)) |
//! | `GET`, `PUT /api/files/{path}`; `POST /api/files/{path}/lock`, `/unlock` | files by path (see [`ops`](crate::ops)) |
//! | `GET, POST /booking`; `POST /booking/{id}/{change,extend,cancel}` | booking (page), on a node with a booking service |
//! | `/api/booking/facilities[/{name}]`, `/api/bookings[/{id}]` | booking (JSON, see [`ops`](crate::ops)) |
//! | `GET /chat`; `GET /api/chat` (WebSocket) | chat (page, the browser's connection), on a node with a chat server |
//! | `GET /healthz`, `/readyz` | alive; ready for traffic, or `503` and why (no login; see [`health`](crate::ops::health)) |
//! | `GET /metrics` | the node's metrics for Prometheus (no login; see [`metrics`](crate::ops::metrics)) |
//!
//! Every request is counted and timed by its route (see [`observe`](crate::observe)).

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use convene_cluster::config::Limits;
use convene_events::Events;
use convene_metrics::Metrics;

use crate::api;
use crate::error::{ApiError, PageError};
use crate::ops::health::Readiness;
use crate::pages::{self, layout};
use crate::state::{App, MAX_BODY};

/// Every route of the web app, with this node's `[limits]`, counting into
/// `metrics`; the operations API too with `operations`.
pub fn router(
    events: Events,
    limits: &Limits,
    operations: Option<crate::ops::Operations>,
    metrics: Metrics,
) -> Router {
    let app = App::new(events, limits);
    let ops = operations.map(crate::ops::Ops::new);
    let readiness = Readiness::new(
        Some(app.db().clone()),
        ops.as_ref().map(|ops| ops.membership.clone()),
    );
    Router::new()
        .route("/", get(pages::home))
        .route("/style.css", get(pages::style))
        .route("/grid.js", get(crate::scripts::grid))
        .route("/chat.js", get(crate::scripts::chat))
        .route("/live.js", get(crate::scripts::live))
        .route(
            "/register",
            get(pages::auth::register_form).post(pages::auth::register),
        )
        .route(
            "/login",
            get(pages::auth::login_form).post(pages::auth::login),
        )
        .route("/logout", post(pages::auth::logout))
        .route("/events", get(pages::events::list))
        .route(
            "/events/new",
            get(pages::events::new_form).post(pages::events::create),
        )
        .route("/events/{id}", get(pages::event::show))
        .route(
            "/events/{id}/calendar.ics",
            get(pages::event::calendar_file),
        )
        .route("/events/{id}/book", post(pages::flows::book))
        .route("/events/{id}/folder", post(pages::flows::folder))
        .route(
            "/events/{id}/availability",
            post(pages::event::add_availability),
        )
        .route("/api/register", post(api::register))
        .route("/api/login", post(api::login))
        .route("/api/logout", post(api::logout))
        .route("/api/events", get(api::list_events).post(api::create_event))
        .route("/api/events/{id}", get(api::event))
        .route("/api/events/{id}/constraints", post(api::add_constraints))
        .route("/healthz", get(crate::ops::health::healthz))
        .route("/readyz", get(crate::ops::health::readyz))
        .route("/metrics", get(crate::ops::metrics::metrics))
        .merge(crate::ops::routes(&app, ops.clone()))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        // The node's services, for pages outside the operations routes that
        // use them (a final event's actions).
        .layer(axum::Extension(ops))
        // What the probes judge, and what `/metrics` encodes.
        .layer(axum::Extension(readiness))
        .layer(axum::Extension(metrics.clone()))
        .layer(axum::middleware::map_response(security_headers))
        // Outermost, to see the status the client gets.
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            crate::observe::observe,
        ))
        .with_state(app)
}

/// Unknown addresses: a JSON error under `/api`, a friendly page elsewhere.
async fn not_found(uri: Uri) -> Response {
    if is_api(&uri) {
        ApiError::new(StatusCode::NOT_FOUND, "no such API route").into_response()
    } else {
        PageError::not_found().into_response()
    }
}

async fn method_not_allowed(uri: Uri) -> Response {
    let status = StatusCode::METHOD_NOT_ALLOWED;
    if is_api(&uri) {
        ApiError::new(status, "this method is not allowed here").into_response()
    } else {
        PageError::new(status, "This address does not take that kind of request.").into_response()
    }
}

fn is_api(uri: &Uri) -> bool {
    uri.path() == "/api" || uri.path().starts_with("/api/")
}

/// Headers on every response: nothing personal is cached (`no-store`,
/// unless a handler chose otherwise, as the stylesheet does), no other
/// site may frame a page (clickjacking), scripts are limited to our own
/// files and our one inline script, and types are not sniffed.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        CONTENT_SECURITY_POLICY,
        layout::content_security_policy().clone(),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
