//! Register, log in, log out.
//!
//! The login and register forms are anonymous, so their CSRF token is the
//! double-submit kind (see [`crate::session`]): the `convene_csrf` cookie,
//! repeated in the form. Both forms keep what was typed (never the
//! password) when they are shown again with an error.

use std::sync::OnceLock;

use axum::extract::{Query, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::accounts::{self, AccountError};
use crate::error::set_retry_after;
use crate::forms::FormData;
use crate::pages::layout::{self, error_box, page};
use crate::password::{MAX_USERNAME, MIN_PASSWORD};
use crate::session::{self, MaybeViewer, Viewer, anonymous_csrf, anonymous_csrf_ok, is_local_path};
use crate::state::App;
use crate::throttle::ClientAddress;

/// `?next=` on the login page.
#[derive(Deserialize, Default)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// Where to go after logging in: `next` if it is a path here.
fn after_login(next: &str) -> &str {
    if is_local_path(next) { next } else { "/events" }
}

/// What an anonymous form shows again.
#[derive(Default)]
struct Typed<'a> {
    username: &'a str,
    time_zone: &'a str,
    next: &'a str,
}

/// Renders an anonymous form page, giving the browser a CSRF cookie if it
/// has none.
fn anonymous_page(
    headers: &HeaderMap,
    status: StatusCode,
    render: impl FnOnce(&str) -> Markup,
) -> Response {
    let (csrf, set) = anonymous_csrf(headers);
    let mut response = layout::html(status, render(&csrf));
    if let Some(set) = set {
        response.headers_mut().append(SET_COOKIE, set);
    }
    response
}

fn login_page(csrf: &str, typed: &Typed, error: Option<&str>) -> Markup {
    page(
        "Log in",
        None,
        html! {
            h1 { "Log in" }
            div.card {
                (error_box(error))
                form method="post" action="/login" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="next" value=(typed.next);
                    label for="username" { "User name" }
                    input #username name="username" value=(typed.username) required
                        autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false";
                    label for="password" { "Password" }
                    input #password type="password" name="password" required autocomplete="current-password";
                    div.actions { button type="submit" { "Log in" } }
                }
            }
            p { "No account yet? " a href="/register" { "Register" } }
        },
    )
}

/// `GET /login`.
pub async fn login_form(
    MaybeViewer(viewer): MaybeViewer,
    Query(next): Query<Next>,
    headers: HeaderMap,
) -> Response {
    if viewer.is_some() {
        return Redirect::to(after_login(&next.next)).into_response();
    }
    let typed = Typed {
        next: &next.next,
        ..Typed::default()
    };
    anonymous_page(&headers, StatusCode::OK, |csrf| {
        login_page(csrf, &typed, None)
    })
}

/// `POST /login`: on success a session cookie and a redirect to `next` (or
/// my events); otherwise the form again with the reason (429 or 503 with
/// `Retry-After` when it is a matter of waiting).
pub async fn login(
    State(app): State<App>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let typed = Typed {
        username: form.get("username"),
        next: form.get("next"),
        ..Typed::default()
    };
    if !anonymous_csrf_ok(&headers, form.get("csrf")) {
        return anonymous_page(&headers, StatusCode::FORBIDDEN, |csrf| {
            login_page(csrf, &typed, Some(CSRF_MESSAGE))
        });
    }
    match accounts::login(&app, from, typed.username, form.get("password")).await {
        Ok(token) => {
            if let Err(error) = session::end(app.db(), &headers).await {
                tracing::debug!(%error, "old session not ended");
            }
            logged_in(&token, after_login(typed.next))
        }
        Err(error) => refused(&headers, &error, |csrf, message| {
            login_page(csrf, &typed, Some(message))
        }),
    }
}

/// The form again, with why it was refused and, for a refusal that lifts
/// with time, how long to wait in `Retry-After`.
fn refused(
    headers: &HeaderMap,
    error: &AccountError,
    render: impl FnOnce(&str, &str) -> Markup,
) -> Response {
    let message = layout_message(error);
    let mut response = anonymous_page(headers, error.status(), |csrf| render(csrf, &message));
    set_retry_after(&mut response, error.retry_after());
    response
}

/// The anonymous forms' CSRF refusal, shown on the form itself with a
/// fresh token so that sending it again works.
const CSRF_MESSAGE: &str = "This form was not sent from this site's own page, or it is too old. \
    It has been renewed: please send it again.";

fn layout_message(error: &AccountError) -> String {
    crate::error::capitalized(&error.message())
}

/// A redirect that carries a new session's cookie.
fn logged_in(token: &str, to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, session::session_cookie(token));
    response
}

/// Every zone name as `<option>`s, rendered once.
fn zone_options() -> PreEscaped<&'static str> {
    static OPTIONS: OnceLock<String> = OnceLock::new();
    PreEscaped(OPTIONS.get_or_init(|| {
        html! { @for zone in accounts::zones() { option value=(zone) {} } }.into_string()
    }))
}

fn register_page(csrf: &str, typed: &Typed, error: Option<&str>, fresh: bool) -> Markup {
    let zone = if typed.time_zone.is_empty() {
        "UTC"
    } else {
        typed.time_zone
    };
    page(
        "Register",
        None,
        html! {
            h1 { "Register" }
            div.card {
                (error_box(error))
                form method="post" action="/register" {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="username" {
                        "User name "
                        span.hint { "(up to " (MAX_USERNAME) " letters, digits, '.', '_' or '-')" }
                    }
                    input #username name="username" value=(typed.username) required
                        maxlength=(MAX_USERNAME) pattern="[A-Za-z0-9._\\-]+"
                        autocomplete="username" autocapitalize="none" autocorrect="off" spellcheck="false";
                    label for="password" {
                        "Password " span.hint { "(at least " (MIN_PASSWORD) " characters)" }
                    }
                    input #password type="password" name="password" required
                        minlength=(MIN_PASSWORD) autocomplete="new-password";
                    label for="time_zone" {
                        "Time zone " span.hint { "(an IANA name such as Europe/Rome; times are shown and typed in it)" }
                    }
                    input #time_zone name="time_zone" value=(zone) list="zones" required
                        autocapitalize="none" autocorrect="off" spellcheck="false"
                        data-guess[fresh];
                    datalist #zones { (zone_options()) }
                    div.actions { button type="submit" { "Register" } }
                }
            }
            p { "Have an account? " a href="/login" { "Log in" } }
            (layout::zone_script())
        },
    )
}

/// `GET /register`.
pub async fn register_form(MaybeViewer(viewer): MaybeViewer, headers: HeaderMap) -> Response {
    if viewer.is_some() {
        return Redirect::to("/events").into_response();
    }
    anonymous_page(&headers, StatusCode::OK, |csrf| {
        register_page(csrf, &Typed::default(), None, true)
    })
}

/// `POST /register`: creates the account and logs it in.
pub async fn register(
    State(app): State<App>,
    ClientAddress(from): ClientAddress,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let typed = Typed {
        username: form.get("username"),
        time_zone: form.get("time_zone"),
        ..Typed::default()
    };
    if !anonymous_csrf_ok(&headers, form.get("csrf")) {
        return anonymous_page(&headers, StatusCode::FORBIDDEN, |csrf| {
            register_page(csrf, &typed, Some(CSRF_MESSAGE), false)
        });
    }
    let password = form.get("password");
    let registered = accounts::register(&app, from, typed.username, password, typed.time_zone);
    let result = match registered.await {
        // Straight in: a new account needs no second typing of its password.
        Ok(_) => session::begin(app.db(), typed.username)
            .await
            .map_err(AccountError::from),
        Err(error) => Err(error),
    };
    match result {
        Ok(token) => {
            // A browser that was logged in as someone else is not any more.
            if let Err(error) = session::end(app.db(), &headers).await {
                tracing::debug!(%error, "old session not ended");
            }
            logged_in(&token, "/events")
        }
        Err(error) => refused(&headers, &error, |csrf, message| {
            register_page(csrf, &typed, Some(message), false)
        }),
    }
}

/// `POST /logout`: ends the session everywhere and forgets the cookie.
pub async fn logout(
    State(app): State<App>,
    viewer: Result<Viewer, Response>,
    headers: HeaderMap,
    form: FormData,
) -> Response {
    let Ok(viewer) = viewer else {
        // Not logged in (any more): nothing to end.
        return Redirect::to("/login").into_response();
    };
    if !viewer.csrf_ok(form.get("csrf")) {
        return super::csrf_refused();
    }
    if let Err(error) = session::end(app.db(), &headers).await {
        return crate::error::PageError::from(error).into_response();
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .append(SET_COOKIE, session::clear_session_cookie());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_what_was_typed_but_never_the_password() {
        let typed = Typed {
            username: "<bob>",
            time_zone: "Europe/Rome",
            next: "/events/x",
        };
        let login = login_page("tok", &typed, Some("Wrong user name or password")).into_string();
        assert!(login.contains("value=\"&lt;bob&gt;\""));
        assert!(login.contains("name=\"next\" value=\"/events/x\""));
        assert!(login.contains("name=\"csrf\" value=\"tok\""));
        assert!(login.contains("Wrong user name or password"));
        assert!(!login.contains("name=\"password\" value"));
        let register = register_page("tok", &typed, None, false).into_string();
        assert!(register.contains("value=\"Europe/Rome\""));
        assert!(
            !register.contains("data-guess>"),
            "a re-shown form keeps the typed zone"
        );
        let fresh = register_page("tok", &Typed::default(), None, true).into_string();
        assert!(fresh.contains("data-guess>") && fresh.contains("value=\"UTC\""));
        assert!(fresh.contains("<option value=\"Europe/Rome\">"));
    }

    #[test]
    fn after_login_goes_only_to_local_paths() {
        assert_eq!(after_login("/events/abc"), "/events/abc");
        assert_eq!(after_login(""), "/events");
        assert_eq!(after_login("//evil.example"), "/events");
    }
}
