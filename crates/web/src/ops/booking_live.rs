//! The booking week, live: Server-Sent Events that carry a facility's week
//! whenever anyone books, moves, extends or cancels there (over HTTP, or a
//! seed client over UDP at any front door).
//!
//! | Route | Stream |
//! |---|---|
//! | `GET /api/booking/facilities/{name}/live` | `week` events, each `{"facility","days"}` (the answer of `GET /api/booking/facilities/{name}`): the week now, then after each change |
//! | `GET /api/booking/live` | the same for every facility, on one connection (a browser opens few connections per site, and the page shows them all) |
//!
//! Nothing here polls. Each stream holds a [`FacilityWatch`] of the node's
//! booking service, which subscribes at the facility's owner the way a
//! front door subscribes for its UDP monitors, and follows the facility
//! when it moves to another node. A watch keeps only the newest week, and
//! a stream asks for the next event only when hyper has written the last
//! one: a browser that reads slowly skips the weeks it missed and costs
//! one week per facility, not a queue. A browser that leaves is noticed
//! when writing to its connection fails (a week, or the keep-alive comment
//! sent every 15 s: within a write or two); its watch then ends, and the
//! node stops renewing a subscription nobody watches.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::Path;
use axum::extract::rejection::PathRejection;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use convene_booking::service::FacilityWatch;
use convene_booking::wire::DayAvailability;
use futures_util::future::select_all;
use futures_util::stream::{self, Stream, StreamExt};

use super::Ops;
use super::booking::{days_out, handle};
use crate::error::ApiError;
use crate::server::Stopping;

/// `GET /api/booking/facilities/{name}/live`.
pub async fn facility(
    Extension(ops): Extension<Arc<Ops>>,
    stopping: Option<Extension<Stopping>>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let no_such = || ApiError::new(StatusCode::NOT_FOUND, "no such facility");
    let Path(name) = path.map_err(|_| no_such())?;
    let watch = handle(&ops)?.watch(&name).ok_or_else(no_such)?;
    let weeks = stream::unfold(watch, |mut watch| async move {
        let days = watch.next().await?;
        let event = week_event(watch.facility(), days);
        Some((event, watch))
    });
    Ok(sse(weeks, stopping))
}

/// `GET /api/booking/live`.
pub async fn all(
    Extension(ops): Extension<Arc<Ops>>,
    stopping: Option<Extension<Stopping>>,
) -> Result<Response, ApiError> {
    let handle = handle(&ops)?;
    let mut watches = Vec::new();
    for facility in handle.facilities() {
        if let Some(watch) = handle.watch(&facility.name) {
            watches.push(watch);
        }
    }
    let weeks = stream::unfold(watches, |mut watches| async move {
        let (days, i) = next_of(&mut watches).await?;
        let event = week_event(watches[i].facility(), days);
        Some((event, watches))
    });
    Ok(sse(weeks, stopping))
}

/// The next week of any of `watches`, and whose it is; `None` when they
/// end (the node stops) or there are none.
async fn next_of(watches: &mut [FacilityWatch]) -> Option<(Vec<DayAvailability>, usize)> {
    if watches.is_empty() {
        return None;
    }
    // Waiting for a watch's next week is cancel-safe: the ones not chosen
    // keep their news for the next call.
    let waits = watches
        .iter_mut()
        .enumerate()
        .map(|(i, w)| Box::pin(async move { w.next().await.map(|days| (days, i)) }));
    select_all(waits).await.0
}

/// One `week` event: `{"facility","days"}`.
fn week_event(facility: &str, days: Vec<DayAvailability>) -> Event {
    let body = serde_json::json!({ "facility": facility, "days": days_out(days) });
    Event::default().event("week").data(body.to_string())
}

/// `events` as a Server-Sent Events response that ends when the web front
/// stops (so a node's shutdown does not wait on open pages), with a
/// comment every 15 s to keep proxies from closing an idle stream.
pub(super) fn sse(
    events: impl Stream<Item = Event> + Send + 'static,
    stopping: Option<Extension<Stopping>>,
) -> Response {
    let stop = stopping.map(|Extension(Stopping(stop))| stop);
    let until = async move {
        match stop {
            Some(stop) => stop.wait().await,
            None => std::future::pending().await,
        }
    };
    let events = events.take_until(until).map(Ok::<_, Infallible>);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
