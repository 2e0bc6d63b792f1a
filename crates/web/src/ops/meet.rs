//! The meet API: EE450's common free time and meeting registration for
//! logged-in callers, through the node's [`MeetHandle`] (a main node's own
//! answer, the same one the seed's client gets over TCP).
//!
//! | Route | Answer |
//! |---|---|
//! | `GET /api/meet/common?users=a,b` | `{"users","unknown","unreachable","reasons":[{"users","reason"}],"common":[[s,e],…] or null}` |
//! | `POST /api/meet/meetings` | `{"users":[…],"interval":[s,e]}`: 201 `{"users","interval"}` |
//!
//! `users` are the names that exist (request order), `unknown` those no
//! backend holds, `unreachable` those whose backend did not answer (or
//! whose backend's list has not arrived), with `reasons` saying which.
//! `common` is the intersection of the found users' availability under
//! EE450's strict rule (`[15,17]` and `[17,18]` do not meet); it is `null`
//! when nobody was found, and when anyone is unreachable, since a common
//! time that silently leaves people out would be wrong. A query that names
//! unknown or unreachable users is still answered (200); the lists say who.
//!
//! A meeting is registered only inside one interval of the users' common
//! free time as it is now (`[1,2]` inside `[[1,3]]`, not `[2,4]`), on every
//! backend involved or on none: `400` bad names or interval, `404` a user
//! does not exist, `409` outside the common time (or taken meanwhile),
//! `503` a backend or every main node is unreachable.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use convene_meet::MeetHandle;
use convene_meet::handle::{Common, MeetCallError, RegisterError};
use convene_time::Interval;
use serde::{Deserialize, Serialize};

use super::Ops;
use crate::api::ApiJson;
use crate::error::ApiError;

/// The handle, or `404` if this front has no meet service.
pub(crate) fn handle(ops: &Ops) -> Result<&MeetHandle, ApiError> {
    ops.meet
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "this node serves no meet API"))
}

/// Users that could not be asked, and why.
#[derive(Serialize)]
pub struct ReasonOut {
    users: Vec<String>,
    reason: String,
}

/// The answer to `GET /api/meet/common`.
#[derive(Serialize)]
pub struct CommonOut {
    /// The names that exist, in request order.
    pub users: Vec<String>,
    /// The names no backend holds.
    pub unknown: Vec<String>,
    /// The names that could not be asked.
    pub unreachable: Vec<String>,
    /// Why, per group of unreachable names.
    pub reasons: Vec<ReasonOut>,
    /// The common free time, `[[start,end],…]`, or `null`.
    pub common: Option<Vec<[u32; 2]>>,
}

impl CommonOut {
    /// The JSON form of a main node's answer.
    pub fn of(common: &Common) -> CommonOut {
        CommonOut {
            users: common.found.clone(),
            unknown: common.missing.clone(),
            unreachable: common.unreachable_users(),
            reasons: common
                .unreachable
                .iter()
                .map(|u| ReasonOut {
                    users: u.users.clone(),
                    reason: u.reason.to_string(),
                })
                .collect(),
            common: common
                .slots
                .as_ref()
                .map(|s| s.iter().map(|i| [i.start(), i.end()]).collect()),
        }
    }
}

/// `GET /api/meet/common?users=a,b`.
pub async fn common(
    Extension(ops): Extension<Arc<Ops>>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let names = users_of(query.as_deref())?;
    let answer = ask(handle(&ops)?, &names).await?;
    Ok(Json(CommonOut::of(&answer)).into_response())
}

/// Asks a main node for `names`' common free time.
pub(crate) async fn ask(handle: &MeetHandle, names: &[String]) -> Result<Common, ApiError> {
    handle.common(names).await.map_err(call_error)
}

/// The `users` of a query string: `users=a,b` (commas or spaces), or
/// `users` repeated.
fn users_of(query: Option<&str>) -> Result<Vec<String>, ApiError> {
    let mut names = Vec::new();
    let mut given = false;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match &*key {
            "users" => {
                given = true;
                names.extend(split_names(&value));
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter {:?} (only \"users\")",
                    other.chars().take(40).collect::<String>()
                )));
            }
        }
    }
    if !given {
        return Err(ApiError::bad_request(
            "name the users: ?users=alice,bob (lowercase letters, at most 10 names)",
        ));
    }
    Ok(names)
}

/// Names separated by commas or white space, empty pieces dropped.
pub(crate) fn split_names(text: &str) -> Vec<String> {
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|n| !n.is_empty())
        .map(str::to_string)
        .collect()
}

/// `POST /api/meet/meetings` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingBody {
    users: Vec<String>,
    interval: [u32; 2],
}

/// A registered meeting.
#[derive(Serialize)]
pub struct MeetingOut {
    users: Vec<String>,
    interval: [u32; 2],
}

/// `POST /api/meet/meetings`: 201 `{"users","interval"}`.
pub async fn register(
    Extension(ops): Extension<Arc<Ops>>,
    ApiJson(body): ApiJson<MeetingBody>,
) -> Result<Response, ApiError> {
    let [start, end] = body.interval;
    let slot = interval(start, end)?;
    let users = book(handle(&ops)?, slot, &body.users).await?;
    let out = MeetingOut {
        users,
        interval: body.interval,
    };
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

/// `[start,end]` as an interval, or `400`.
pub(crate) fn interval(start: u32, end: u32) -> Result<Interval, ApiError> {
    Interval::new(start, end).map_err(|_| {
        ApiError::bad_request(format!(
            "interval: [{start},{end}] is not a time interval (start must be before end)"
        ))
    })
}

/// Registers `slot` for `names`; the users it was registered for.
pub(crate) async fn book(
    handle: &MeetHandle,
    slot: Interval,
    names: &[String],
) -> Result<Vec<String>, ApiError> {
    handle.register(slot, names).await.map_err(|e| match e {
        RegisterError::Call(e) => call_error(e),
        RegisterError::Missing(_) => ApiError::new(StatusCode::NOT_FOUND, e.to_string()),
        RegisterError::Unreachable(_) => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()).retry_after(Some(5))
        }
        RegisterError::NotInCommon { .. } | RegisterError::Refused(_) => {
            ApiError::new(StatusCode::CONFLICT, e.to_string())
        }
    })
}

/// The status of a call that got no answer.
fn call_error(e: MeetCallError) -> ApiError {
    let status = match &e {
        MeetCallError::BadRequest(_) => StatusCode::BAD_REQUEST,
        MeetCallError::NoMain => StatusCode::NOT_FOUND,
        MeetCallError::Client(_) => StatusCode::SERVICE_UNAVAILABLE,
        MeetCallError::Failed(_) => StatusCode::BAD_GATEWAY,
    };
    let retry = (status == StatusCode::SERVICE_UNAVAILABLE).then_some(5);
    ApiError::new(status, e.to_string()).retry_after(retry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_come_from_one_or_more_users_parameters() {
        assert_eq!(users_of(Some("users=a,b")).unwrap(), ["a", "b"]);
        assert_eq!(users_of(Some("users=a%20b,,c")).unwrap(), ["a", "b", "c"]);
        assert_eq!(users_of(Some("users=a&users=b")).unwrap(), ["a", "b"]);
        assert!(users_of(Some("users=")).unwrap().is_empty());
        for bad in [None, Some(""), Some("user=a"), Some("users=a&x=1")] {
            let e = users_of(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }

    #[test]
    fn an_interval_starts_before_it_ends() {
        assert!(interval(1, 2).is_ok());
        assert_eq!(interval(2, 2).unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(interval(3, 2).unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}
