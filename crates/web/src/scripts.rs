//! The few scripts pages load, compiled in and served from our own origin
//! (the content security policy allows `'self'` scripts and no inline ones
//! beyond the time zone guess). Every page works without them; they only
//! make a page nicer (painting a grid by dragging) or live.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// Painting an availability grid by dragging (the event page).
pub const GRID: &str = include_str!("scripts/grid.js");

/// Where pages load [`GRID`] from; the query changes with the script, so a
/// cached old copy is never used with new pages.
pub fn grid_src() -> &'static str {
    static SRC: OnceLock<String> = OnceLock::new();
    SRC.get_or_init(|| versioned("/grid.js", GRID))
}

/// The chat client of the `/chat` page: the course protocol over the
/// WebSocket at `/api/chat`.
pub const CHAT: &str = include_str!("scripts/chat.js");

/// Where the chat page loads [`CHAT`] from (versioned as [`grid_src`]).
pub fn chat_src() -> &'static str {
    static SRC: OnceLock<String> = OnceLock::new();
    SRC.get_or_init(|| versioned("/chat.js", CHAT))
}

/// Keeping the booking grid and the status table current: it listens to
/// `GET /api/booking/live` or `GET /api/status/live` (Server-Sent Events)
/// and redraws what changed.
pub const LIVE: &str = include_str!("scripts/live.js");

/// Where pages load [`LIVE`] from.
pub fn live_src() -> &'static str {
    static SRC: OnceLock<String> = OnceLock::new();
    SRC.get_or_init(|| versioned("/live.js", LIVE))
}

/// `path?v=` the first bytes of the script's hash.
fn versioned(path: &str, script: &str) -> String {
    let digest = Sha256::digest(script.as_bytes());
    let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{path}?v={tag}")
}

/// `GET /grid.js`.
pub async fn grid() -> Response {
    asset(GRID, "text/javascript; charset=utf-8")
}

/// `GET /chat.js`.
pub async fn chat() -> Response {
    asset(CHAT, "text/javascript; charset=utf-8")
}

/// `GET /live.js`.
pub async fn live() -> Response {
    asset(LIVE, "text/javascript; charset=utf-8")
}

/// A compiled-in file as a response that browsers may cache for a day
/// (its address changes with its content).
pub fn asset(text: &'static str, content_type: &'static str) -> Response {
    let mut response = (StatusCode::OK, text).into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}
