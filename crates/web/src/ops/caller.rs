//! Who is asking: every operations route runs `authenticate` first, so a
//! stranger gets `401` and nothing else (no listing, no hint of a file,
//! not even a complaint about their JSON).
//!
//! A caller proves themselves one of three ways, tried in this order:
//!
//! - `Authorization: Convene-Operator …`: the operator, holding the
//!   cluster secret (see [`operator`](super::operator)).
//! - `Authorization: Bearer <token>`: a session token, as `convene login`
//!   keeps it (the token `POST /api/login` set as the cookie).
//! - the `convene_session` cookie, as a browser sends it.
//!
//! An `Authorization` header that fails is refused outright, never
//! retried as the cookie: what the caller meant to use is what is checked.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use convene_files::peer_msg::OPERATOR;

use super::Ops;
use super::operator::SCHEME;
use crate::error::ApiError;
use crate::session;
use crate::state::App;

/// The largest body an operations request may have: a lock request is a
/// path and two flags.
pub const MAX_OPS_BODY: usize = 64 * 1024;

/// Who an operations request is from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    /// A logged-in account.
    Account(String),
    /// The cluster's operator (proved the cluster secret).
    Operator,
}

impl Caller {
    /// The name locks are taken in: the account, or
    /// [`OPERATOR`].
    pub fn owner(&self) -> &str {
        match self {
            Caller::Account(name) => name,
            Caller::Operator => OPERATOR,
        }
    }
}

/// Authenticates the request and hands it on with its [`Caller`] in the
/// extensions; `401` otherwise.
pub(crate) async fn authenticate(
    State((app, ops)): State<(App, Arc<Ops>)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let authorization = match parts.headers.get(AUTHORIZATION).map(HeaderValue::to_str) {
        None => None,
        Some(Ok(value)) => Some(value.to_string()),
        Some(Err(_)) => return unauthorized("the Authorization header is not readable text"),
    };
    let (caller, body) = match authorization {
        Some(value) if has_scheme(&value, SCHEME) => {
            // The credential covers the body: read it (bounded) first.
            let Ok(bytes) = to_bytes(body, MAX_OPS_BODY).await else {
                return ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("the request body is larger than {} KiB", MAX_OPS_BODY >> 10),
                )
                .into_response();
            };
            let Some(gate) = &ops.operator else {
                return unauthorized(
                    "this cluster has no secret_file, so no operator credential is accepted: log in instead",
                );
            };
            let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
            let now_ms = jiff::Timestamp::now().as_millisecond();
            if let Err(refusal) = gate.verify(&value, parts.method.as_str(), path, &bytes, now_ms) {
                return unauthorized(&refusal.to_string());
            }
            (Caller::Operator, Body::from(bytes))
        }
        Some(value) if has_scheme(&value, "Bearer") => {
            let token = value.trim()[6..].trim();
            match account(&app, Some(token)).await {
                Ok(Some(name)) => (Caller::Account(name), body),
                Ok(None) => {
                    return unauthorized(
                        "the session token is unknown or has expired: log in again (`convene login`)",
                    );
                }
                Err(error) => return error.into_response(),
            }
        }
        Some(_) => {
            return unauthorized(&format!(
                "unknown Authorization scheme: use Bearer <session token> or {SCHEME}"
            ));
        }
        None => {
            let cookie = session::cookie(&parts.headers, session::SESSION_COOKIE);
            match account(&app, cookie).await {
                Ok(Some(name)) => (Caller::Account(name), body),
                Ok(None) => {
                    return unauthorized("log in first (`convene login`, or POST /api/login)");
                }
                Err(error) => return error.into_response(),
            }
        }
    };
    parts.extensions.insert(caller);
    next.run(Request::from_parts(parts, body)).await
}

/// Whether an `Authorization` value uses `scheme` (any case).
fn has_scheme(value: &str, scheme: &str) -> bool {
    let value = value.trim_start();
    value.len() > scheme.len()
        && value.as_bytes()[scheme.len()] == b' '
        && value[..scheme.len()].eq_ignore_ascii_case(scheme)
}

/// The account a session token belongs to, if it is live.
async fn account(app: &App, token: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(token) = token.filter(|t| session::is_token(t)) else {
        return Ok(None);
    };
    Ok(session::lookup_token(app.db(), token)
        .await?
        .map(|session| session.user))
}

/// `401` with a JSON reason, and the challenge a client may answer.
fn unauthorized(message: &str) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, message).into_response();
    response.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"convene\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_are_told_apart() {
        assert!(has_scheme("Bearer abc", "Bearer"));
        assert!(has_scheme("bearer abc", "Bearer"));
        assert!(!has_scheme("Bearerabc", "Bearer"));
        assert!(!has_scheme("Bearer", "Bearer"));
        assert!(has_scheme("Convene-Operator 1.ab", SCHEME));
        assert!(!has_scheme("Basic dXNlcg==", "Bearer"));
    }

    #[test]
    fn the_operator_owns_locks_under_a_name_no_account_can_have() {
        assert_eq!(Caller::Operator.owner(), OPERATOR);
        assert!(crate::password::username_problem(OPERATOR).is_some());
        assert_eq!(Caller::Account("ada".into()).owner(), "ada");
    }
}
