//! The JSON API under `/api`: the same service as the pages, for programs.
//!
//! Requests and responses are JSON; instants are RFC 3339 (responses always
//! in UTC, `2026-03-01T09:00:00Z`); refusals are `{"error": "…"}` with a
//! 4xx or 5xx status. A client logs in once (`POST /api/login`) and sends
//! the `convene_session` cookie it got with every later request.
//!
//! Every `POST` must say `Content-Type: application/json` (415 otherwise).
//! That is the API's CSRF defence: an HTML form on another site cannot send
//! that type, and a script there can only send it after a CORS preflight,
//! which this server never answers with permission.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::header::{CONTENT_TYPE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use convene_events::db::{Event, EventState, EventSummary};
use convene_events::interval::{Availability, Interval};
use convene_events::service::NewEventRequest;
use convene_events::zone::{format_rfc3339, parse_rfc3339};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::session::{self, ApiUser};
use crate::state::{App, MAX_BODY};
use crate::throttle::ClientAddress;
use crate::{accounts, paging};

/// Proof that a request says `Content-Type: application/json` (or a
/// `+json` type), for `POST`s whose body is not read.
pub struct JsonContent;

impl<S: Send + Sync> FromRequestParts<S> for JsonContent {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        if is_json(&parts.headers) {
            Ok(JsonContent)
        } else {
            Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send JSON with Content-Type: application/json",
            ))
        }
    }
}

/// Whether the request's content type is JSON.
pub fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .is_some_and(|t| {
            t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
        })
}

/// A JSON body of type `T`. Unlike axum's `Json`, every refusal is itself
/// JSON: 415 without the JSON content type, 413 over 1 MiB, and 400 with
/// serde's own words (`missing field \`name\` at line 1 column 2`) for
/// anything that does not read as a `T`.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        JsonContent::from_request_parts(&mut parts, state).await?;
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the request body is larger than {} MiB", MAX_BODY >> 20),
                    )
                } else {
                    ApiError::bad_request("the request body could not be read")
                }
            })?;
        serde_json::from_slice(&bytes)
            .map(ApiJson)
            .map_err(|error| ApiError::bad_request(format!("invalid JSON body: {error}")))
    }
}

/// The `{id}` of a path. Ids that cannot be event codes are refused later
/// by the service (404), before any lookup.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, ApiError> {
    path.map(|Path(id)| id)
        .map_err(|_| ApiError::new(StatusCode::NOT_FOUND, "no such event"))
}

/// `POST /api/register` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterBody {
    username: String,
    password: String,
    #[serde(default)]
    time_zone: Option<String>,
}

/// `POST /api/register`: 201 `{"username","time_zone"}`; 409 if taken;
/// 429 with `Retry-After` after too many from one address; 503 with
/// `Retry-After` while the password-hash queue is full.
pub async fn register(
    State(app): State<App>,
    ClientAddress(from): ClientAddress,
    ApiJson(body): ApiJson<RegisterBody>,
) -> Result<Response, ApiError> {
    let zone = body.time_zone.as_deref().unwrap_or("");
    let time_zone = accounts::register(&app, from, &body.username, &body.password, zone).await?;
    let body = serde_json::json!({ "username": body.username, "time_zone": time_zone });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `POST /api/login` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    username: String,
    password: String,
}

/// `POST /api/login`: 200 `{"username"}` and the session cookie; 401
/// `wrong user name or password` for an unknown name or a wrong password
/// alike; 429 with `Retry-After` after too many attempts from one address
/// or for one account; 503 with `Retry-After` while the password-hash
/// queue is full.
pub async fn login(
    State(app): State<App>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LoginBody>,
) -> Result<Response, ApiError> {
    let token = accounts::login(&app, from, &body.username, &body.password).await?;
    // A login over an old session ends the old one.
    session::end(app.db(), &headers).await?;
    let mut response = Json(serde_json::json!({ "username": body.username })).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session::session_cookie(&token));
    Ok(response)
}

/// `POST /api/logout`: ends the session (if any) everywhere; 200.
pub async fn logout(
    State(app): State<App>,
    _: JsonContent,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    session::end(app.db(), &headers).await?;
    let mut response = Json(serde_json::json!({ "ok": true })).into_response();
    response
        .headers_mut()
        .insert(SET_COOKIE, session::clear_session_cookie());
    Ok(response)
}

/// An interval in a request: two RFC 3339 instants.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonInterval {
    start: String,
    end: String,
}

/// An interval in a response: RFC 3339 in UTC.
#[derive(Serialize, Debug, PartialEq, Eq)]
pub struct IntervalOut {
    start: String,
    end: String,
}

/// Reads a request's intervals; the first bad one is named.
pub fn parse_intervals(intervals: &[JsonInterval]) -> Result<Availability, ApiError> {
    let mut out = Vec::with_capacity(intervals.len());
    for (i, interval) in intervals.iter().enumerate() {
        let at = |what: String| ApiError::bad_request(format!("constraints[{i}]: {what}"));
        let start = parse_rfc3339(&interval.start).map_err(|e| at(e.to_string()))?;
        let end = parse_rfc3339(&interval.end).map_err(|e| at(e.to_string()))?;
        let interval = Interval::new(start, end)
            .map_err(|_| at("each interval must end after it starts".into()))?;
        out.push(interval);
    }
    Ok(Availability::from_iter(out))
}

fn intervals_out(availability: &Availability) -> Vec<IntervalOut> {
    availability
        .as_slice()
        .iter()
        .map(|i| IntervalOut {
            start: format_rfc3339(i.start()),
            end: format_rfc3339(i.end()),
        })
        .collect()
}

/// `POST /api/events` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewEventBody {
    name: String,
    #[serde(default)]
    description: String,
    participants: Vec<String>,
    deadline: String,
    #[serde(default)]
    constraints: Vec<JsonInterval>,
}

/// `POST /api/events`: 201 `{"id"}`.
pub async fn create_event(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    ApiJson(body): ApiJson<NewEventBody>,
) -> Result<Response, ApiError> {
    let deadline = parse_rfc3339(&body.deadline)
        .map_err(|e| ApiError::bad_request(format!("deadline: {e}")))?;
    let availability = parse_intervals(&body.constraints)?;
    let request = NewEventRequest {
        name: body.name,
        description: body.description,
        creator: user,
        participants: body.participants,
        deadline,
        availability: (!availability.is_empty()).then_some(availability),
    };
    let id = app.events.create(request).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// `POST /api/events/{id}/constraints` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstraintsBody {
    constraints: Vec<JsonInterval>,
}

/// `POST /api/events/{id}/constraints`: 200 `{"ok":true}`; 409 after the
/// deadline, 403 if not invited, 404 for no such event.
pub async fn add_constraints(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    path: Result<Path<String>, PathRejection>,
    ApiJson(body): ApiJson<ConstraintsBody>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let availability = parse_intervals(&body.constraints)?;
    app.events.submit(&id, &user, availability).await?;
    Ok(Json(serde_json::json!({ "ok": true })).into_response())
}

/// One participant in `GET /api/events/{id}`.
#[derive(Serialize)]
pub struct ParticipantOut {
    name: String,
    answered: bool,
}

/// `GET /api/events/{id}`'s answer.
#[derive(Serialize)]
pub struct EventOut {
    id: String,
    name: String,
    description: String,
    creator: String,
    deadline: String,
    state: &'static str,
    leader: String,
    participants: Vec<ParticipantOut>,
    /// `null` while open; the common time (maybe `[]`) once final.
    result: Option<Vec<IntervalOut>>,
}

impl From<Event> for EventOut {
    fn from(event: Event) -> Self {
        EventOut {
            result: final_result(event.state, event.result.as_ref()),
            id: event.id,
            name: event.name,
            description: event.description,
            creator: event.creator,
            deadline: format_rfc3339(event.deadline),
            state: event.state.as_str(),
            leader: event.leader,
            participants: event
                .participants
                .into_iter()
                .map(|p| ParticipantOut {
                    name: p.name,
                    answered: p.answered,
                })
                .collect(),
        }
    }
}

fn final_result(state: EventState, result: Option<&Availability>) -> Option<Vec<IntervalOut>> {
    match state {
        EventState::Open => None,
        EventState::Final => Some(result.map(intervals_out).unwrap_or_default()),
    }
}

/// `GET /api/events/{id}`: the event, if the caller is invited (403 if not).
pub async fn event(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id(path)?;
    let event = app.events.event_for(&id, &user).await?;
    Ok(Json(EventOut::from(event)).into_response())
}

/// One line of `GET /api/events`.
#[derive(Serialize)]
pub struct SummaryOut {
    id: String,
    name: String,
    creator: String,
    deadline: String,
    state: &'static str,
    answered: bool,
    result: Option<Vec<IntervalOut>>,
}

impl From<EventSummary> for SummaryOut {
    fn from(summary: EventSummary) -> Self {
        SummaryOut {
            result: final_result(summary.state, summary.result.as_ref()),
            id: summary.id,
            name: summary.name,
            creator: summary.creator,
            deadline: format_rfc3339(summary.deadline),
            state: summary.state.as_str(),
            answered: summary.answered,
        }
    }
}

/// `GET /api/events`'s answer.
#[derive(Serialize)]
pub struct EventsOut {
    events: Vec<SummaryOut>,
    /// `?after=` this for the next page; `null` on the last.
    next: Option<String>,
    /// `?before=` this for the previous page; `null` on the first.
    previous: Option<String>,
}

/// `GET /api/events[?after=PLACE|?before=PLACE][&limit=N]`: one page of
/// the events the caller created or is invited to, latest deadline first,
/// `{"events": [...], "next": PLACE|null, "previous": PLACE|null}`; at
/// most 50 events unless `limit` (1 to 100) says otherwise. See
/// [`crate::paging`].
pub async fn list_events(
    State(app): State<App>,
    ApiUser(user): ApiUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let asked = paging::read_query(query.as_deref()).map_err(ApiError::bad_request)?;
    let page = app
        .events
        .events_page(&user, asked.page, asked.limit)
        .await?;
    Ok(Json(EventsOut {
        events: page.events.into_iter().map(SummaryOut::from).collect(),
        next: page.next.as_ref().map(paging::place_text),
        previous: page.previous.as_ref().map(paging::place_text),
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn interval(start: &str, end: &str) -> JsonInterval {
        JsonInterval {
            start: start.into(),
            end: end.into(),
        }
    }

    #[test]
    fn json_content_types() {
        let with = |t: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(t).unwrap());
            is_json(&h)
        };
        assert!(with("application/json"));
        assert!(with("Application/JSON; charset=utf-8"));
        assert!(with("application/problem+json"));
        assert!(!with("text/plain"));
        assert!(!with("application/x-www-form-urlencoded"));
        assert!(!with("multipart/form-data; boundary=x"));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[test]
    fn intervals_are_read_and_the_bad_one_named() {
        let a = parse_intervals(&[
            interval("2026-03-01T10:00:00+01:00", "2026-03-01T11:00:00Z"),
            interval("2026-03-01T12:00:00Z", "2026-03-01T13:00:00Z"),
        ])
        .unwrap();
        assert_eq!(
            intervals_out(&a),
            vec![
                IntervalOut {
                    start: "2026-03-01T09:00:00Z".into(),
                    end: "2026-03-01T11:00:00Z".into()
                },
                IntervalOut {
                    start: "2026-03-01T12:00:00Z".into(),
                    end: "2026-03-01T13:00:00Z".into()
                },
            ]
        );
        let error = parse_intervals(&[
            interval("2026-03-01T10:00:00Z", "2026-03-01T11:00:00Z"),
            interval("2026-03-01T10:00:00Z", "2026-03-01T10:00:00Z"),
        ])
        .unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            error.message,
            "constraints[1]: each interval must end after it starts"
        );
        let error = parse_intervals(&[interval("soon", "2026-03-01T10:00:00Z")]).unwrap_err();
        assert!(
            error
                .message
                .starts_with("constraints[0]: \"soon\" is not an RFC 3339 time")
        );
    }

    #[test]
    fn results_are_null_until_final() {
        let some = Availability::from_iter([Interval::new(0, 60).unwrap()]);
        assert!(final_result(EventState::Open, Some(&some)).is_none());
        assert_eq!(final_result(EventState::Final, None), Some(vec![]));
        assert_eq!(
            final_result(EventState::Final, Some(&some)),
            Some(vec![IntervalOut {
                start: "1970-01-01T00:00:00Z".into(),
                end: "1970-01-01T00:01:00Z".into()
            }])
        );
    }
}
