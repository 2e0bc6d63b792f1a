//! `GET /live.js`: the script that keeps the booking grid and the status
//! table current (Server-Sent Events from `/api/booking/live` and
//! `/api/status/live`). A file of our own origin, so the policy allows it
//! with `script-src 'self'` and still runs no inline script but the one
//! it names by hash. Pages that load it work without it.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use sha2::{Digest, Sha256};

/// The script, compiled in.
pub const LIVE_SCRIPT: &str = include_str!("../live.js");

/// Where pages load it from; the query changes with the script, so a
/// cached old copy is never used with new pages.
pub fn live_src() -> &'static str {
    static SRC: OnceLock<String> = OnceLock::new();
    SRC.get_or_init(|| {
        let digest = Sha256::digest(LIVE_SCRIPT.as_bytes());
        let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("/live.js?v={tag}")
    })
}

/// The `<script>` tag a live page ends with.
pub fn live_script() -> Markup {
    html! { script src=(live_src()) defer {} }
}

/// `GET /live.js`.
pub async fn script() -> Response {
    let mut response = (StatusCode::OK, LIVE_SCRIPT).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    response
}
