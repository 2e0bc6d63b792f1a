//! The server-rendered pages. They need no script: every button is a form
//! submit, and "Add interval" is one too (the server sends the form back
//! with one more row and everything typed kept).
//!
//! - [`layout`]: the frame, the stylesheet, error pages.
//! - [`auth`]: register, log in, log out.
//! - `booking`: the facilities' weeks and the viewer's bookings.
//! - [`events`]: my events, and the new-event form.
//! - [`event`]: one event, and adding availability to it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};

use crate::forms::Row;
use crate::session::MaybeViewer;

pub mod auth;
pub(crate) mod booking;
pub mod calendar;
pub mod event;
pub mod events;
pub mod flows;
pub mod grid;
pub mod layout;
pub(crate) mod meet;

/// `GET /`: a logged-in user's events, or the login page.
pub async fn home(MaybeViewer(viewer): MaybeViewer) -> Redirect {
    match viewer {
        Some(_) => Redirect::to("/events"),
        None => Redirect::to("/login"),
    }
}

/// `GET /style.css`. The address carries the stylesheet's hash, so a
/// browser may keep it for a day.
pub async fn style() -> Response {
    crate::scripts::asset(layout::STYLE, "text/css; charset=utf-8")
}

/// The 403 page for a form whose CSRF token is wrong.
pub fn csrf_refused() -> Response {
    csrf_error().into_response()
}

/// [`csrf_refused`] as an error, for handlers that return one.
pub fn csrf_error() -> crate::error::PageError {
    crate::error::PageError::new(
        StatusCode::FORBIDDEN,
        "This form was not sent from this site's own page, or the page is too old \
         (for instance from before you logged in again). Go back, reload the page \
         and send the form again.",
    )
}

/// The rows of start and end fields of an availability form, the
/// "Add interval" button below them.
pub fn interval_rows(rows: &[Row], zone_name: &str) -> Markup {
    html! {
        fieldset.rows {
            legend { "Times you can make " span.hint { "(" (zone_name) "; blank rows are ignored)" } }
            @for (i, row) in rows.iter().enumerate() {
                div.row {
                    label {
                        "From"
                        input type="datetime-local" name="start" value=(row.start)
                            aria-label=(format!("Interval {} start", i + 1));
                    }
                    label {
                        "To"
                        input type="datetime-local" name="end" value=(row.end)
                            aria-label=(format!("Interval {} end", i + 1));
                    }
                }
            }
            button.secondary type="submit" name="action" value="add" { "Add interval" }
        }
    }
}

/// A hidden copy of a form's main button, placed first: pressing Enter in
/// a field submits with the form's first button, and that must be the main
/// action, not "Add interval".
pub fn default_button(value: &str) -> Markup {
    html! {
        button.offscreen type="submit" name="action" value=(value) tabindex="-1" aria-hidden="true" { "Send" }
    }
}
