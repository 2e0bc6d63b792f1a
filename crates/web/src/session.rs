//! Sessions and CSRF: who is asking, and whether a form really came from
//! one of our pages.
//!
//! # Sessions
//!
//! Logging in makes a random token ([`new_token`], 256 bits) and sends it
//! as the `convene_session` cookie (`HttpOnly`, so page scripts cannot read
//! it; `SameSite=Lax`, so other sites' forms and scripts do not carry it;
//! `Path=/`). The shared database keeps only the token's SHA-256 digest: a
//! leaked copy of the database hands out no live session, and because the
//! token is random and long, a fast unsalted hash is enough (argon2 is for
//! passwords people choose, and would cost milliseconds on every request).
//!
//! Every request looks its session up in the database: one query by primary
//! key. Any node can serve any request, so there is no per-node cache to go
//! stale: a logout on one node ends the session on all of them at once.
//!
//! # CSRF
//!
//! Every form carries a hidden `csrf` field.
//!
//! - A logged-in user's forms carry the session's own CSRF token (made with
//!   the session, stored beside it). Another site cannot read our pages, so
//!   it cannot learn the token to put in a forged form.
//! - The login and register forms have no session yet. They use the
//!   double-submit pattern: a random `convene_csrf` cookie (`SameSite=Strict`)
//!   whose value the form repeats. A forged cross-site form can neither read
//!   the cookie nor make the browser send it.
//!
//! The JSON API takes no CSRF token: it requires `Content-Type:
//! application/json`, which a cross-site HTML form cannot send, and a script
//! on another site can only send it after a CORS preflight, which we never
//! answer with permission.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, HeaderValue};
use axum::http::{HeaderMap, Method, StatusCode, request::Parts};
use axum::response::{IntoResponse, Redirect, Response};
use convene_events::db::{DbError, Session};
use convene_events::ids::new_token;
use convene_events::{EventDb, zone::Zone};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, PageError};
use crate::state::App;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "convene_session";
/// The anonymous forms' double-submit cookie's name.
pub const CSRF_COOKIE: &str = "convene_csrf";
/// How long a session lasts: a week, then the user logs in again.
pub const SESSION_SECONDS: i64 = 7 * 24 * 3600;

pub use convene_events::zone::now_seconds;

/// The value of cookie `name` in the request's `Cookie` headers (the first
/// if it repeats). Browsers send `a=1; b=2`, possibly over several headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
}

/// Whether `text` looks like one of our tokens (64 lowercase hex digits).
/// Checked before any lookup, so junk never reaches the database.
pub fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The SHA-256 digest of a token, as 64 hex digits: what the database
/// stores in place of the token itself.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push(HEX[(byte >> 4) as usize] as char);
        out.push(HEX[(byte & 15) as usize] as char);
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Compares two secrets in time that does not depend on where they first
/// differ, so response timing leaks nothing about a token's prefix.
pub fn tokens_match(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    if a.len() != b.len() || a.is_empty() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `Set-Cookie` value that starts a session in the browser.
pub fn session_cookie(token: &str) -> HeaderValue {
    header(format!(
        "{SESSION_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/; Max-Age={SESSION_SECONDS}"
    ))
}

/// The `Set-Cookie` value that makes the browser forget its session.
pub fn clear_session_cookie() -> HeaderValue {
    header(format!(
        "{SESSION_COOKIE}=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
    ))
}

/// The `Set-Cookie` value of the anonymous forms' CSRF cookie. It lasts as
/// long as the browser session: it guards nothing but the next login.
pub fn csrf_cookie(token: &str) -> HeaderValue {
    header(format!(
        "{CSRF_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
    ))
}

fn header(text: String) -> HeaderValue {
    // Tokens are hex and the rest is ASCII: always a valid header value.
    HeaderValue::try_from(text).expect("cookie text is ASCII")
}

/// The anonymous CSRF token this browser already has, or a new one and the
/// cookie that gives it. Reusing the cookie's token keeps two open login
/// tabs from invalidating each other.
pub fn anonymous_csrf(headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, CSRF_COOKIE).filter(|t| is_token(t)) {
        Some(token) => (token.to_string(), None),
        None => {
            let token = new_token();
            let set = csrf_cookie(&token);
            (token, Some(set))
        }
    }
}

/// Whether an anonymous form's hidden `csrf` field repeats the browser's
/// `convene_csrf` cookie.
pub fn anonymous_csrf_ok(headers: &HeaderMap, field: &str) -> bool {
    cookie(headers, CSRF_COOKIE).is_some_and(|c| is_token(c) && tokens_match(field, c))
}

/// The live session the request's cookie names, if any. Expired sessions
/// count as none (and are deleted on the way, so the table does not keep
/// them for ever).
pub async fn lookup(
    db: &Arc<dyn EventDb>,
    headers: &HeaderMap,
) -> Result<Option<Session>, DbError> {
    let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| is_token(t)) else {
        return Ok(None);
    };
    lookup_token(db, token).await
}

/// The live session of `token` (from the cookie, or a `Bearer` header),
/// if any; expired sessions count as none, and are deleted on the way.
pub async fn lookup_token(db: &Arc<dyn EventDb>, token: &str) -> Result<Option<Session>, DbError> {
    let hash = hash_token(token);
    match db.session(&hash).await? {
        Some(session) if session.expires_at > now_seconds() => Ok(Some(session)),
        Some(_) => {
            db.delete_session(&hash).await?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Starts a session for `user`: stores it and returns the token for the
/// cookie.
pub async fn begin(db: &Arc<dyn EventDb>, user: &str) -> Result<String, DbError> {
    let token = new_token();
    let session = Session {
        token_hash: hash_token(&token),
        user: user.to_string(),
        csrf: new_token(),
        expires_at: now_seconds() + SESSION_SECONDS,
    };
    db.create_session(&session).await?;
    Ok(token)
}

/// Ends the session the request's cookie names, if any (logout, or a new
/// login over an old session).
pub async fn end(db: &Arc<dyn EventDb>, headers: &HeaderMap) -> Result<(), DbError> {
    if let Some(token) = cookie(headers, SESSION_COOKIE).filter(|t| is_token(t)) {
        db.delete_session(&hash_token(token)).await?;
    }
    Ok(())
}

/// A logged-in person looking at a page: their name, their zone, and the
/// CSRF token their forms carry.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The user name.
    pub name: String,
    /// Their time zone (UTC if the stored one is no longer known).
    pub zone: Zone,
    /// Their session's CSRF token.
    pub csrf: String,
}

impl Viewer {
    /// Whether a form's hidden `csrf` field is this session's token.
    pub fn csrf_ok(&self, field: &str) -> bool {
        tokens_match(field, &self.csrf)
    }
}

/// The viewer behind a request's cookie, with their account's zone: two
/// indexed lookups (session, then user). `None` if not logged in, or if
/// the account is gone.
pub async fn viewer(db: &Arc<dyn EventDb>, parts: &Parts) -> Result<Option<Viewer>, DbError> {
    let Some(session) = lookup(db, &parts.headers).await? else {
        return Ok(None);
    };
    let Some(user) = db.user(&session.user).await? else {
        return Ok(None);
    };
    let zone = Zone::named(&user.time_zone).unwrap_or_else(|_| Zone::utc());
    Ok(Some(Viewer {
        name: user.name,
        zone,
        csrf: session.csrf,
    }))
}

/// The viewer of a page, if logged in (pages that anyone may see).
pub struct MaybeViewer(pub Option<Viewer>);

impl FromRequestParts<App> for MaybeViewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(MaybeViewer(viewer(app.db(), parts).await?))
    }
}

/// Pages that need a login take a [`Viewer`]; without one the browser is
/// sent to the login page, which brings it back here afterwards.
impl FromRequestParts<App> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        match viewer(app.db(), parts).await {
            Ok(Some(viewer)) => Ok(viewer),
            Ok(None) => {
                let back = (parts.method == Method::GET)
                    .then(|| parts.uri.path_and_query().map(|p| p.as_str()))
                    .flatten();
                Err(Redirect::to(&login_address(back)).into_response())
            }
            Err(error) => Err(PageError::from(error).into_response()),
        }
    }
}

/// `/login`, with `?next=` naming where to go back to.
pub fn login_address(back: Option<&str>) -> String {
    match back {
        Some(back) if is_local_path(back) && back != "/" => {
            let encoded: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            format!("/login?next={encoded}")
        }
        _ => "/login".into(),
    }
}

/// Whether `next` is a path on this site: a `?next=` that could point
/// elsewhere (`//evil.example`, `https://…`, `/\evil`) would make the
/// login page an open redirect.
pub fn is_local_path(next: &str) -> bool {
    next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.bytes().any(|b| b.is_ascii_control())
}

/// The user an API request is from; 401 if not logged in. One indexed
/// query: the API never needs the account itself.
pub struct ApiUser(pub String);

impl FromRequestParts<App> for ApiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        match lookup(app.db(), &parts.headers).await? {
            Some(session) => Ok(ApiUser(session.user)),
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "log in first (POST /api/login)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(COOKIE, HeaderValue::from_str(line).unwrap());
        }
        map
    }

    #[test]
    fn cookies_are_found_across_pairs_and_headers() {
        let h = headers(&["a=1; convene_session=abc ;b=2", "convene_csrf=\"xyz\""]);
        assert_eq!(cookie(&h, "convene_session"), Some("abc"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "convene_csrf"), Some("xyz"));
        assert_eq!(cookie(&h, "convene"), None);
        assert_eq!(cookie(&headers(&["garbage; ;="]), "garbage"), None);
        assert_eq!(cookie(&HeaderMap::new(), "a"), None);
    }

    #[test]
    fn tokens_are_checked_and_hashed() {
        let token = new_token();
        assert!(is_token(&token));
        assert!(!is_token(&token.to_uppercase()));
        assert!(!is_token(&token[1..]));
        assert!(!is_token("' OR 1=1 --"));
        // SHA-256 of "abc", the standard test vector.
        assert_eq!(
            hash_token("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(hash_token(&token), token);
    }

    #[test]
    fn csrf_tokens_must_match_exactly() {
        assert!(tokens_match("abc", "abc"));
        assert!(!tokens_match("abd", "abc"));
        assert!(!tokens_match("ab", "abc"));
        assert!(!tokens_match("", ""), "an empty token never matches");
        let token = new_token();
        let h = headers(&[&format!("{CSRF_COOKIE}={token}")]);
        assert!(anonymous_csrf_ok(&h, &token));
        assert!(!anonymous_csrf_ok(&h, &new_token()));
        assert!(!anonymous_csrf_ok(&HeaderMap::new(), &token));
        assert!(!anonymous_csrf_ok(&headers(&["convene_csrf="]), ""));
    }

    #[test]
    fn an_existing_csrf_cookie_is_reused() {
        let (fresh, set) = anonymous_csrf(&HeaderMap::new());
        let set = set.expect("a new cookie").to_str().unwrap().to_string();
        assert!(set.starts_with(&format!("convene_csrf={fresh};")));
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"));
        let h = headers(&[&format!("convene_csrf={fresh}")]);
        assert_eq!(anonymous_csrf(&h), (fresh, None));
    }

    #[test]
    fn session_cookies_have_the_safe_attributes() {
        let set = session_cookie("t").to_str().unwrap().to_string();
        for part in ["convene_session=t", "HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(set.contains(part), "{set}");
        }
        assert!(
            clear_session_cookie()
                .to_str()
                .unwrap()
                .contains("Max-Age=0")
        );
    }

    #[test]
    fn login_sends_back_only_to_local_paths() {
        assert_eq!(
            login_address(Some("/events/abc?x=1")),
            "/login?next=%2Fevents%2Fabc%3Fx%3D1"
        );
        assert_eq!(login_address(Some("/")), "/login");
        assert_eq!(login_address(None), "/login");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/a\nb",
        ] {
            assert!(!is_local_path(bad), "{bad}");
            assert_eq!(login_address(Some(bad)), "/login");
        }
        assert!(is_local_path("/events"));
    }
}
