//! Turning refusals into what a person or a program reads: an error page,
//! or `{"error": "…"}` with the fitting status.
//!
//! The events service's refusals ([`EventsError`]) already carry messages
//! written for users and know their HTTP status. The exception is a failing
//! database: its text names tables and engines, which helps an operator and
//! confuses a user, so it goes to the log and the user reads "try again
//! shortly".

use axum::http::StatusCode;
use axum::http::header::{HeaderValue, RETRY_AFTER};
use axum::response::{IntoResponse, Response};
use convene_events::{DbError, EventsError};

use crate::pages::layout;

/// The message shown when our side failed.
pub const UNAVAILABLE: &str = "the service is unavailable right now; try again shortly";

/// The HTTP status for a refusal of the events service.
pub fn events_status(error: &EventsError) -> StatusCode {
    StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The message a user reads for a refusal of the events service.
pub fn events_message(error: &EventsError) -> String {
    match error {
        EventsError::Db(db) => db_message(db),
        other => other.to_string(),
    }
}

/// The message a user reads for a database failure (logged in full).
pub fn db_message(error: &DbError) -> String {
    match error {
        DbError::Duplicate => "that already exists".into(),
        other => {
            tracing::warn!(error = %other, "database failure in the web front");
            UNAVAILABLE.into()
        }
    }
}

/// A page that only says what went wrong (the forms show their own errors
/// above the fields instead).
#[derive(Debug)]
pub struct PageError {
    /// The response status.
    pub status: StatusCode,
    /// What the person reads.
    pub message: String,
}

impl PageError {
    /// An error page with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        PageError {
            status,
            message: message.into(),
        }
    }

    /// The friendly 404.
    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "There is no page at this address.")
    }
}

impl From<EventsError> for PageError {
    fn from(error: EventsError) -> Self {
        PageError::new(events_status(&error), capitalized(&events_message(&error)))
    }
}

impl From<DbError> for PageError {
    fn from(error: DbError) -> Self {
        PageError::from(EventsError::Db(error))
    }
}

/// An API refusal shown as a page (a page's action done the API's way).
impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError::new(error.status, capitalized(&error.message))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let markup = layout::error_page(self.status, &self.message);
        layout::html(self.status, markup)
    }
}

/// An API refusal: `{"error": message}` with `status`.
#[derive(Debug)]
pub struct ApiError {
    /// The response status.
    pub status: StatusCode,
    /// The `error` field.
    pub message: String,
    /// Seconds to wait before trying again, sent as `Retry-After`.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A refusal with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The same refusal, saying how long to wait (`Retry-After`).
    pub fn retry_after(mut self, seconds: Option<u64>) -> Self {
        self.retry_after = seconds;
        self
    }

    /// 400, the request itself is wrong.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<EventsError> for ApiError {
    fn from(error: EventsError) -> Self {
        ApiError::new(events_status(&error), events_message(&error))
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        ApiError::from(EventsError::Db(error))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        let mut response = (self.status, axum::Json(body)).into_response();
        set_retry_after(&mut response, self.retry_after);
        response
    }
}

/// Adds `Retry-After: seconds` to a refusal, if there is a wait to tell.
pub fn set_retry_after(response: &mut Response, seconds: Option<u64>) {
    if let Some(seconds) = seconds {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
}

/// `text` with its first letter upper-case: the service's messages are
/// written to follow a colon, pages show them as sentences.
pub fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_map_to_statuses_and_user_messages() {
        let cases = [
            (
                EventsError::UnknownEvent("abc".into()),
                404,
                "no event has the id \"abc\"",
            ),
            (
                EventsError::NotInvited { user: "eve".into() },
                403,
                "\"eve\" is not invited to this event",
            ),
            (
                EventsError::DeadlinePassed,
                409,
                "the deadline has passed: this event no longer takes availability",
            ),
            (
                EventsError::UnknownUsers(vec!["x".into(), "y".into()]),
                400,
                "no user is called \"x\", \"y\"",
            ),
            (
                EventsError::TooManyParticipants {
                    limit: 1000,
                    given: 1001,
                },
                400,
                "an event may have at most 1000 participants, you included; this one has 1001",
            ),
            (
                EventsError::TooManyOpenEvents {
                    limit: 100,
                    open: 100,
                },
                409,
                "you have 100 events whose deadline has not passed, and one person may have at \
                 most 100; you can create another once one of their deadlines has passed",
            ),
            (
                EventsError::NoEventServer,
                503,
                "no event server is available; try again shortly",
            ),
            (
                EventsError::Db(DbError::Duplicate),
                409,
                "that already exists",
            ),
            (
                EventsError::Db(DbError::Query("SELECT secret FROM t".into())),
                503,
                UNAVAILABLE,
            ),
        ];
        for (error, status, message) in cases {
            assert_eq!(events_status(&error).as_u16(), status, "{error:?}");
            assert_eq!(events_message(&error), message, "{error:?}");
            let api = ApiError::from(error);
            assert_eq!(api.status.as_u16(), status);
        }
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(capitalized("the deadline"), "The deadline");
        assert_eq!(capitalized("\"eve\" is"), "\"eve\" is");
        assert_eq!(capitalized(""), "");
    }

    #[tokio::test]
    async fn api_errors_are_json() {
        let response = ApiError::bad_request("nope").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        assert_eq!(&body[..], br#"{"error":"nope"}"#);
        let limited = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "slow down")
            .retry_after(Some(20))
            .into_response();
        assert_eq!(limited.headers()[RETRY_AFTER], "20");
    }
}
