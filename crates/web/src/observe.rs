//! Every HTTP request the web front serves, counted and timed: one
//! [`Request`](convene_metrics::Request) of service `web`, front door
//! `http`, per request.
//!
//! The request's *kind* is the route that matched, as written in the route
//! table (`/api/events/{id}`), never the path the client sent: a label per
//! stranger's path would let anyone grow the registry without bound, and
//! one series per event id would drown the ones per route. A request no
//! route matched (the friendly 404) is of kind `unmatched`. The *outcome*
//! is the status class (`2xx`, `4xx`, `5xx`...), which is what a dashboard
//! rates and alerts on; the exact status is in the access log, not here.
//!
//! The time is until the response's head is ready: a stream (Server-Sent
//! Events, a large download) goes on after, and a WebSocket (`1xx`, the
//! upgrade) lives on as a connection of its own.
//!
//! The layer sits inside the router (`Router::layer`), where axum has
//! already put the [`MatchedPath`] in the request, and outside every other
//! layer, so it sees the status the client gets.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use convene_metrics::Metrics;
use tracing::Instrument;

/// The service and front door every web request is counted under.
pub const SERVICE: &str = "web";
/// See [`SERVICE`].
pub const DOOR: &str = "http";
/// The kind of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// The middleware: `axum::middleware::from_fn_with_state(metrics, observe)`.
pub async fn observe(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let kind = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    let observed = metrics.begin(SERVICE, DOOR, kind, peer);
    let span = observed.span().clone();
    let response = next.run(request).instrument(span).await;
    observed.finish(status_class(response.status().as_u16()));
    response
}

/// The class of an HTTP status: `2xx` for 204, and so on; `other` for a
/// number outside 100-599 (hyper refuses those, but the label set stays
/// closed whatever happens).
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_in_their_class() {
        for (status, class) in [
            (101, "1xx"),
            (200, "2xx"),
            (204, "2xx"),
            (303, "3xx"),
            (404, "4xx"),
            (429, "4xx"),
            (500, "5xx"),
            (503, "5xx"),
            (99, "other"),
            (600, "other"),
        ] {
            assert_eq!(status_class(status), class, "{status}");
        }
    }
}
