//! The booking API: the seed's facilities and bookings for logged-in
//! accounts, through the node's [`BookingHandle`] (routed like a UDP
//! front door's requests, so HTTP and seed clients see the same week).
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /api/booking/facilities` | `{"facilities":[{"name","listed_by","served_by"}]}` |
//! | `GET /api/booking/facilities/{name}?days=0,1` | `{"facility","days":[{"day","name","free":[{"start","end"}]}]}` (every day without `days`) |
//! | `POST /api/bookings` | `{"facility","start":"Mon:10:00","end":"Mon:11:00"}`: 201 `{"id","facility","start","end"}` |
//! | `GET /api/bookings` | `{"bookings":[{"id","facility","start","end"}]}`: the account's own |
//! | `PATCH /api/bookings/{id}` | `{"offset_minutes":n}` (move) or `{"extend_minutes":n}`: 200, the booking as now |
//! | `DELETE /api/bookings/{id}` | 200 `{"id","message"}` |
//! | `GET /api/booking/facilities/{name}/live` | Server-Sent Events: `week` events, each `{"facility","days"}` as above (every day), at once and after every change |
//! | `GET /api/booking/live` | the same for every facility on one stream (what the page uses) |
//!
//! A booking made here belongs to the account ([`AccountBooking`], in the
//! shared events database next to the accounts); only that account may
//! change or cancel it over HTTP (`403` for another, `404` for an id no
//! account made here). Refusals by the booking rules carry the seed's
//! message: `404` unknown facility or id, `409` not available or already
//! cancelled, `400` a bad time.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use convene_booking::service::{BookingCallError, BookingHandle};
use convene_booking::wire::{DayAvailability, ErrorCode, Reply, Request};
use convene_events::db::AccountBooking;
use convene_time::WeekTime;
use serde::{Deserialize, Serialize};

use super::{Caller, Ops};
use crate::api::ApiJson;
use crate::error::ApiError;
use crate::state::App;
use crate::week;

/// The handle, or `404` if this front has no booking service.
pub(crate) fn handle(ops: &Ops) -> Result<&BookingHandle, ApiError> {
    ops.booking
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "this node serves no booking API"))
}

/// The account asking: bookings belong to accounts, so the operator
/// (who is no account) may look but not book.
fn account(caller: &Caller) -> Result<&str, ApiError> {
    match caller {
        Caller::Account(name) => Ok(name),
        Caller::Operator => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "bookings belong to accounts: log in as one to book",
        )),
    }
}

/// One facility in the listing.
#[derive(Serialize)]
pub struct FacilityOut {
    name: String,
    listed_by: String,
    served_by: Option<String>,
}

/// `GET /api/booking/facilities`.
pub async fn facilities(Extension(ops): Extension<Arc<Ops>>) -> Result<Response, ApiError> {
    let facilities: Vec<FacilityOut> = handle(&ops)?
        .facilities()
        .into_iter()
        .map(|f| FacilityOut {
            name: f.name,
            listed_by: f.listed_by,
            served_by: f.served_by,
        })
        .collect();
    Ok(Json(serde_json::json!({ "facilities": facilities })).into_response())
}

/// One day's free time.
#[derive(Serialize)]
pub struct DayOut {
    /// 0 (Monday) to 6 (Sunday).
    pub day: u8,
    /// `Mon` to `Sun`.
    pub name: &'static str,
    /// Free ranges, in order.
    pub free: Vec<RangeOut>,
}

/// A range of the week, `Mon:10:00` to `Mon:11:00`.
#[derive(Serialize)]
pub struct RangeOut {
    /// Where it starts.
    pub start: String,
    /// Where it ends.
    pub end: String,
}

/// `GET /api/booking/facilities/{name}?days=0,1`.
pub async fn facility(
    Extension(ops): Extension<Arc<Ops>>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Path(name) = path.map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such facility"))?;
    let days = days_of(query.as_deref())?;
    let days = week_of(handle(&ops)?, &name, days).await?;
    Ok(Json(serde_json::json!({ "facility": name, "days": days })).into_response())
}

/// The free time of `facility` on `days`, as the booking service says.
pub(crate) async fn week_of(
    handle: &BookingHandle,
    facility: &str,
    days: Vec<u8>,
) -> Result<Vec<DayOut>, ApiError> {
    let reply = run(
        handle,
        &Request::Query {
            facility: facility.to_string(),
            days,
        },
    )
    .await?;
    let Reply::Availability { days, .. } = reply else {
        return Err(unexpected(&reply));
    };
    Ok(days_out(days))
}

/// The seed's days as the API shows them.
pub(crate) fn days_out(days: Vec<DayAvailability>) -> Vec<DayOut> {
    days.into_iter()
        .map(|d| DayOut {
            day: d.day,
            name: week::DAYS[usize::from(d.day).min(6)],
            free: d
                .slots
                .into_iter()
                .map(|(start, end)| RangeOut {
                    start: week::format(start),
                    end: week::format(end),
                })
                .collect(),
        })
        .collect()
}

/// The `days` of a query string (`days=0,1` or `days=Mon,Tue`); every day
/// without one.
fn days_of(query: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let mut days = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "days" => days = Some(value.into_owned()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {other:?} (only \"days\")"
                )));
            }
        }
    }
    let Some(days) = days else {
        return Ok((0..7).collect());
    };
    let mut out = Vec::new();
    for day in days.split(',').filter(|d| !d.trim().is_empty()) {
        let n = week::day_number(day).ok_or_else(|| {
            ApiError::bad_request(format!(
                "days: {day:?} is not a day (0 to 6, or Mon to Sun)"
            ))
        })?;
        if !out.contains(&n) {
            out.push(n);
        }
    }
    if out.is_empty() {
        return Err(ApiError::bad_request("days: name at least one day"));
    }
    Ok(out)
}

/// `POST /api/bookings` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookBody {
    facility: String,
    start: String,
    end: String,
}

/// A booking as the API shows it.
#[derive(Serialize)]
pub struct BookingOut {
    id: String,
    facility: String,
    start: String,
    end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

impl BookingOut {
    fn of(b: &AccountBooking, message: Option<String>) -> BookingOut {
        let at = |m: i64| {
            u32::try_from(m)
                .ok()
                .and_then(WeekTime::from_minutes)
                .map_or_else(|| m.to_string(), week::format)
        };
        BookingOut {
            id: b.id.clone(),
            facility: b.facility.clone(),
            start: at(b.start),
            end: at(b.end),
            message,
        }
    }
}

/// `POST /api/bookings`: 201 `{"id",…}`.
pub async fn book(
    State(app): State<App>,
    Extension(ops): Extension<Arc<Ops>>,
    Extension(caller): Extension<Caller>,
    ApiJson(body): ApiJson<BookBody>,
) -> Result<Response, ApiError> {
    let account = account(&caller)?;
    let start =
        week::parse(&body.start).map_err(|e| ApiError::bad_request(format!("start: {e}")))?;
    let end = week::parse(&body.end).map_err(|e| ApiError::bad_request(format!("end: {e}")))?;
    let booking = make(&app, handle(&ops)?, account, &body.facility, start, end).await?;
    Ok((StatusCode::CREATED, Json(BookingOut::of(&booking, None))).into_response())
}

/// Books `facility` from `start` to `end` for `account`, and records it as
/// the account's.
pub(crate) async fn make(
    app: &App,
    handle: &BookingHandle,
    account: &str,
    facility: &str,
    start: WeekTime,
    end: WeekTime,
) -> Result<AccountBooking, ApiError> {
    let reply = run(
        handle,
        &Request::Book {
            facility: facility.to_string(),
            start,
            end,
        },
    )
    .await?;
    let Reply::Booked { confirmation } = reply else {
        return Err(unexpected(&reply));
    };
    let booking = AccountBooking {
        id: confirmation,
        account: account.to_string(),
        facility: facility.to_string(),
        start: i64::from(start.minutes()),
        end: i64::from(end.minutes()),
    };
    app.db().save_account_booking(&booking).await?;
    Ok(booking)
}

/// `GET /api/bookings`: the account's own bookings.
pub async fn mine(
    State(app): State<App>,
    Extension(caller): Extension<Caller>,
) -> Result<Response, ApiError> {
    let account = account(&caller)?;
    let bookings: Vec<BookingOut> = app
        .db()
        .account_bookings(account)
        .await?
        .iter()
        .map(|b| BookingOut::of(b, None))
        .collect();
    Ok(Json(serde_json::json!({ "bookings": bookings })).into_response())
}

/// `PATCH /api/bookings/{id}` body: exactly one of the two.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeBody {
    #[serde(default)]
    offset_minutes: Option<i64>,
    #[serde(default)]
    extend_minutes: Option<i64>,
}

/// What a change does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Change {
    /// Moves the booking by this many minutes (earlier if negative).
    Offset(i32),
    /// Moves its end later by this many minutes.
    Extend(u32),
}

/// `PATCH /api/bookings/{id}`.
pub async fn change(
    State(app): State<App>,
    Extension(ops): Extension<Arc<Ops>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<ChangeBody>,
) -> Result<Response, ApiError> {
    let id = booking_id(path)?;
    let what = match (body.offset_minutes, body.extend_minutes) {
        (Some(n), None) => Change::Offset(i32::try_from(n).map_err(|_| {
            ApiError::bad_request("offset_minutes: too large for the booking week")
        })?),
        (None, Some(n)) => {
            Change::Extend(u32::try_from(n).ok().filter(|&n| n > 0).ok_or_else(|| {
                ApiError::bad_request("extend_minutes: a positive number of minutes")
            })?)
        }
        _ => {
            return Err(ApiError::bad_request(
                "send one of \"offset_minutes\" (move) or \"extend_minutes\" (extend)",
            ));
        }
    };
    let account = account(&caller)?;
    let (booking, message) = alter(&app, handle(&ops)?, account, &id, what).await?;
    Ok(Json(BookingOut::of(&booking, message)).into_response())
}

/// Moves or extends the account's booking `id`; returns it as it is now,
/// and the service's message (an extension's says the new end).
pub(crate) async fn alter(
    app: &App,
    handle: &BookingHandle,
    account: &str,
    id: &str,
    what: Change,
) -> Result<(AccountBooking, Option<String>), ApiError> {
    let mut booking = owned(app, account, id).await?;
    let confirmation = id.to_string();
    let request = match what {
        Change::Offset(offset_minutes) => Request::Change {
            confirmation,
            offset_minutes,
        },
        Change::Extend(minutes) => Request::Extend {
            confirmation,
            minutes,
        },
    };
    let reply = run(handle, &request).await?;
    let message = match (&reply, what) {
        (Reply::Changed, Change::Offset(offset)) => {
            booking.start += i64::from(offset);
            booking.end += i64::from(offset);
            None
        }
        (Reply::Extended { message }, Change::Extend(minutes)) => {
            booking.end += i64::from(minutes);
            Some(message.clone())
        }
        _ => return Err(unexpected(&reply)),
    };
    app.db().save_account_booking(&booking).await?;
    Ok((booking, message))
}

/// `DELETE /api/bookings/{id}`.
pub async fn cancel(
    State(app): State<App>,
    Extension(ops): Extension<Arc<Ops>>,
    Extension(caller): Extension<Caller>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = booking_id(path)?;
    let account = account(&caller)?;
    let message = remove(&app, handle(&ops)?, account, &id).await?;
    Ok(Json(serde_json::json!({ "id": id, "message": message })).into_response())
}

/// Cancels the account's booking `id`; returns the service's message.
pub(crate) async fn remove(
    app: &App,
    handle: &BookingHandle,
    account: &str,
    id: &str,
) -> Result<String, ApiError> {
    owned(app, account, id).await?;
    let result = run(
        handle,
        &Request::Cancel {
            confirmation: id.to_string(),
        },
    )
    .await;
    let message = match result {
        Ok(Reply::Cancelled { message }) => message,
        Ok(reply) => return Err(unexpected(&reply)),
        Err(error) => {
            // Cancelled already (say, by a seed client holding the id):
            // it is no longer the account's either.
            if error.status == StatusCode::CONFLICT || error.status == StatusCode::GONE {
                app.db().delete_account_booking(id).await?;
            }
            return Err(error);
        }
    };
    app.db().delete_account_booking(id).await?;
    Ok(message)
}

/// The booking `id`, if `account` made it here: `404` if no account did,
/// `403` if another did.
async fn owned(app: &App, account: &str, id: &str) -> Result<AccountBooking, ApiError> {
    match app.db().account_booking(id).await? {
        Some(b) if b.account == account => Ok(b),
        Some(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this booking belongs to another account",
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no booking {id:?} was made by an account (bookings made over UDP are changed over UDP)"
            ),
        )),
    }
}

fn booking_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such booking"))
}

/// Runs `request`; a refusal by the booking rules becomes an [`ApiError`]
/// with the seed's message and a fitting status.
async fn run(handle: &BookingHandle, request: &Request) -> Result<Reply, ApiError> {
    match handle.execute(request).await {
        Ok(Reply::Error { code, message }) => Err(refusal(code, message)),
        Ok(reply) => Ok(reply),
        Err(BookingCallError::Busy) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            BookingCallError::Busy.to_string(),
        )
        .retry_after(Some(1))),
        Err(error) => Err(ApiError::new(StatusCode::BAD_GATEWAY, error.to_string())),
    }
}

/// The status for the seed's error `code`.
fn refusal(code: u8, message: String) -> ApiError {
    let status = match ErrorCode::from_code(code) {
        Some(ErrorCode::FacilityNotFound | ErrorCode::InvalidConfirmationId) => {
            StatusCode::NOT_FOUND
        }
        Some(ErrorCode::FacilityUnavailable | ErrorCode::AlreadyCancelled) => StatusCode::CONFLICT,
        Some(ErrorCode::BookingNotFound) => StatusCode::GONE,
        Some(ErrorCode::InvalidTimeRange) => StatusCode::BAD_REQUEST,
        // The seed's catch-all, also used when an owner did not answer.
        Some(ErrorCode::InvalidRequest) if message.contains("did not answer") => {
            return ApiError::new(StatusCode::SERVICE_UNAVAILABLE, message).retry_after(Some(1));
        }
        Some(ErrorCode::InvalidRequest) | None => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, message)
}

fn unexpected(reply: &Reply) -> ApiError {
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        format!("the booking service answered with an unexpected reply: {reply:?}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seeds_refusals_get_fitting_statuses() {
        let status = |code: ErrorCode, message: &str| refusal(code.code(), message.into()).status;
        assert_eq!(
            status(ErrorCode::FacilityNotFound, "Facility 'x' not found"),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(ErrorCode::InvalidConfirmationId, "Invalid confirmation ID"),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(ErrorCode::FacilityUnavailable, "booked"),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(ErrorCode::AlreadyCancelled, "again"),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(ErrorCode::InvalidTimeRange, "start after end"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(
                ErrorCode::InvalidRequest,
                "The node that owns this booking (B) did not answer; try again"
            ),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(refusal(99, "new".into()).status, StatusCode::BAD_REQUEST);
        assert_eq!(
            refusal(1, "Facility 'x' not found".into()).message,
            "Facility 'x' not found"
        );
    }

    #[test]
    fn days_are_numbers_or_names_and_default_to_the_week() {
        assert_eq!(days_of(None).unwrap(), (0..7).collect::<Vec<u8>>());
        assert_eq!(days_of(Some("days=0,1")).unwrap(), [0, 1]);
        assert_eq!(days_of(Some("days=Sun,mon,Sun")).unwrap(), [6, 0]);
        assert!(
            days_of(Some("days=7"))
                .unwrap_err()
                .message
                .contains("\"7\"")
        );
        assert!(days_of(Some("days=")).is_err());
        assert!(
            days_of(Some("day=1"))
                .unwrap_err()
                .message
                .contains("unknown query parameter")
        );
    }
}
