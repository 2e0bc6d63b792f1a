//! The frame every page shares: head, top bar, stylesheet, and the
//! headers that keep pages private and unframeable.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64ct::{Base64, Encoding};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest, Sha256};

use crate::session::Viewer;

/// The one stylesheet, compiled in and served at `/style.css`.
pub const STYLE: &str = include_str!("../style.css");

/// Where pages load the stylesheet from; the query changes when the
/// stylesheet does, so a cached old copy is never used with new pages.
pub fn style_href() -> &'static str {
    static HREF: OnceLock<String> = OnceLock::new();
    HREF.get_or_init(|| {
        let digest = Sha256::digest(STYLE.as_bytes());
        let tag: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("/style.css?v={tag}")
    })
}

/// The only script: on a fresh register form, fill the time zone field
/// with the browser's own zone. Pages work without it (the field then
/// says UTC and can be typed into).
pub const ZONE_SCRIPT: &str = "(function(){var f=document.getElementById('time_zone');\
if(f&&f.hasAttribute('data-guess')){try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;\
if(z){f.value=z;}}catch(e){}}})();";

/// The `Content-Security-Policy` of every response: our own origin only,
/// no plugins, no framing, forms only to us, scripts only from our own
/// files ([`scripts`](crate::scripts)) and, inline, only [`ZONE_SCRIPT`],
/// named by its hash. A `<script>` smuggled into a page
/// (if escaping ever failed) would not run.
pub fn content_security_policy() -> &'static HeaderValue {
    static CSP: OnceLock<HeaderValue> = OnceLock::new();
    CSP.get_or_init(|| {
        let digest = Sha256::digest(ZONE_SCRIPT.as_bytes());
        let hash = Base64::encode_string(&digest);
        let text = format!(
            "default-src 'self'; script-src 'self' 'sha256-{hash}'; object-src 'none'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        );
        HeaderValue::try_from(text).expect("the policy is ASCII")
    })
}

/// A rendered page as a response.
pub fn html(status: StatusCode, markup: Markup) -> Response {
    let mut response = (status, markup.into_string()).into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// The navigation bar every page shows a logged-in user: one link per
/// service page, in this order. (Chat joins it when its page exists.)
pub const NAV_LINKS: [(&str, &str); 5] = [
    ("/events", "Events"),
    ("/booking", "Booking"),
    ("/meet", "Meet"),
    ("/files", "Files"),
    ("/status", "Status"),
];

/// A whole page: `title`, the top bar (with the viewer's links when
/// logged in), and `body`.
pub fn page(title: &str, viewer: Option<&Viewer>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Convene" }
                link rel="stylesheet" href=(style_href());
            }
            body {
                header.top {
                    a.brand href="/" { "Convene" }
                    nav {
                        @if let Some(viewer) = viewer {
                            @for (href, label) in NAV_LINKS {
                                a href=(href) { (label) }
                            }
                            form method="post" action="/logout" {
                                input type="hidden" name="csrf" value=(viewer.csrf);
                                button.link type="submit" { "Log out " (viewer.name) }
                            }
                        } @else {
                            a href="/login" { "Log in" }
                            a href="/register" { "Register" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// An error box, shown above a form's fields.
pub fn error_box(message: Option<&str>) -> Markup {
    html! {
        @if let Some(message) = message {
            p.error role="alert" { (message) }
        }
    }
}

/// A page that only explains what went wrong.
pub fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = match status {
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::FORBIDDEN => "Not allowed",
        s if s.is_server_error() => "Something went wrong on our side",
        _ => "That did not work",
    };
    page(
        title,
        None,
        html! {
            h1 { (title) }
            p.error role="alert" { (message) }
            p { a href="/events" { "Back to my events" } }
        },
    )
}

/// The script tag, for the register page.
pub fn zone_script() -> Markup {
    html! { script { (PreEscaped(ZONE_SCRIPT)) } }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_events::zone::Zone;

    #[test]
    fn pages_escape_what_they_show() {
        let viewer = Viewer {
            name: "<b>".into(),
            zone: Zone::utc(),
            csrf: "\"><script>".into(),
        };
        let text = page("<script>alert(1)</script>", Some(&viewer), html! {}).into_string();
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(text.contains("value=\"&quot;&gt;&lt;script&gt;\""));
        assert!(text.contains("name=\"viewport\""));
        for href in ["/events", "/booking", "/files", "/status"] {
            assert!(text.contains(&format!("href=\"{href}\"")), "{href}");
        }
    }

    #[test]
    fn the_policy_allows_exactly_the_zone_script() {
        let csp = content_security_policy().to_str().unwrap();
        assert!(csp.starts_with("default-src 'self'; script-src 'self' 'sha256-"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert!(
            zone_script()
                .into_string()
                .contains("resolvedOptions().timeZone")
        );
        assert!(style_href().starts_with("/style.css?v="));
    }
}
