//! `/booking`: the facilities, each one's week (free and booked time per
//! day, Monday to Sunday, as the seed's week model has it), a form to book,
//! and the viewer's own bookings with forms to move, extend and cancel them.
//!
//! Every action is a plain form (with the session's CSRF token) that runs
//! the same code as the JSON API (`ops/booking.rs`), then sends the browser
//! back to `/booking` (303), or shows the page again with the refusal.
//!
//! The weeks are live: `/live.js` listens to `GET /api/booking/live` and
//! redraws a facility's table (found by its `data-facility`) when its week
//! changes, whoever booked (see `ops/booking_live.rs`).

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use convene_events::db::AccountBooking;
use convene_time::WeekTime;
use maud::{Markup, html};

use crate::error::{ApiError, PageError, capitalized};
use crate::forms::FormData;
use crate::ops::Ops;
use crate::ops::booking::{self as api, Change, DayOut};
use crate::pages::csrf_refused;
use crate::pages::layout::{self, error_box, page};
use crate::session::Viewer;
use crate::state::App;
use crate::week;

/// `GET /booking`.
pub async fn show(
    State(app): State<App>,
    Extension(ops): Extension<Arc<Ops>>,
    viewer: Viewer,
) -> Result<Response, PageError> {
    render(
        &app,
        &ops,
        &viewer,
        StatusCode::OK,
        None,
        &BookForm::default(),
    )
    .await
}

/// The booking form's fields, as typed (kept when it is refused).
#[derive(Clone, Debug, PartialEq, Eq)]
struct BookForm {
    facility: String,
    day: String,
    start: String,
    end: String,
}

impl Default for BookForm {
    fn default() -> Self {
        BookForm {
            facility: String::new(),
            day: "Mon".into(),
            start: "10:00".into(),
            end: "11:00".into(),
        }
    }
}

/// `POST /booking`: book a facility from the form.
pub async fn book(
    State(app): State<App>,
    Extension(ops): Extension<Arc<Ops>>,
    viewer: Viewer,
    form: FormData,
) -> Result<Response, PageError> {
    if !viewer.csrf_ok(form.get("csrf")) {
        return Ok(csrf_refused());
    }
    let typed = BookForm {
        facility: form.get("facility").to_string(),
        day: form.get("day").to_string(),
        start: form.get("start").to_string(),
        end: form.get("end").to_string(),
    };
    let result = async {
        let handle = api::handle(&ops)?;
        let at = |what: &str, clock: &str| {
            week::parse(&format!("{}:{}", typed.day, clock))
                .map_err(|e| ApiError::bad_request(format!("{what}: {e}")))
        };
        let (start, end) = (at("start", &typed.start)?, at("end", &typed.end)?);
        api::make(&app, handle, &viewer.name, &typed.facility, start, end).await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to("/booking").into_response()),
        Err(e) => render(&app, &ops, &viewer, e.status, Some(&e.message), &typed).await,
    }
}

/// `POST /booking/{id}/change`, `/extend`, `/cancel`.
pub async fn act(
    State(app): State<App>,
    Extension(ops): Extension<Arc<Ops>>,
    viewer: Viewer,
    path: Result<Path<(String, String)>, PathRejection>,
    form: FormData,
) -> Result<Response, PageError> {
    let Ok(Path((id, action))) = path else {
        return Err(PageError::not_found());
    };
    if !viewer.csrf_ok(form.get("csrf")) {
        return Ok(csrf_refused());
    }
    let minutes = || {
        form.get("minutes")
            .trim()
            .parse::<i64>()
            .map_err(|_| ApiError::bad_request("minutes: a whole number of minutes"))
    };
    let result = async {
        let handle = api::handle(&ops)?;
        match action.as_str() {
            "change" => {
                let n = i32::try_from(minutes()?)
                    .map_err(|_| ApiError::bad_request("minutes: too large"))?;
                api::alter(&app, handle, &viewer.name, &id, Change::Offset(n)).await?;
            }
            "extend" => {
                let n = u32::try_from(minutes()?)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| ApiError::bad_request("minutes: a positive number"))?;
                api::alter(&app, handle, &viewer.name, &id, Change::Extend(n)).await?;
            }
            "cancel" => {
                api::remove(&app, handle, &viewer.name, &id).await?;
            }
            _ => return Err(ApiError::new(StatusCode::NOT_FOUND, "no such action")),
        }
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Ok(Redirect::to("/booking").into_response()),
        Err(e) => {
            render(
                &app,
                &ops,
                &viewer,
                e.status,
                Some(&e.message),
                &BookForm::default(),
            )
            .await
        }
    }
}

/// The page, with `problem` shown above the forms.
async fn render(
    app: &App,
    ops: &Ops,
    viewer: &Viewer,
    status: StatusCode,
    problem: Option<&str>,
    typed: &BookForm,
) -> Result<Response, PageError> {
    let handle = api::handle(ops).map_err(|e| PageError::new(e.status, capitalized(&e.message)))?;
    let facilities = handle.facilities();
    let mut weeks = Vec::new();
    for f in &facilities {
        // A facility whose node does not answer is shown as such, not as
        // an error page: the others still work.
        let week = api::week_of(handle, &f.name, (0..7).collect()).await;
        weeks.push((f, week.map_err(|e| e.message)));
    }
    let mine = app.db().account_bookings(&viewer.name).await?;
    let problem = problem.map(capitalized);
    let markup = page(
        "Booking",
        Some(viewer),
        html! {
            h1 { "Booking" }
            (error_box(problem.as_deref()))
            section aria-labelledby="book-heading" {
                h2 #book-heading { "Book a facility" }
                form.card method="post" action="/booking" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label {
                        "Facility"
                        select name="facility" required {
                            @for f in &facilities {
                                option value=(f.name) selected[f.name == typed.facility] { (f.name) }
                            }
                        }
                    }
                    label {
                        "Day"
                        select name="day" {
                            @for d in week::DAYS {
                                option value=(d) selected[d == typed.day] { (d) }
                            }
                        }
                    }
                    label { "From" input type="time" name="start" value=(typed.start) required; }
                    label {
                        "To " span.hint { "(24:00 for the end of the day)" }
                        input type="text" name="end" value=(typed.end) required
                            inputmode="numeric" pattern="[0-9]{1,2}:[0-9]{2}";
                    }
                    div.actions { button type="submit" { "Book" } }
                }
            }
            section aria-labelledby="mine-heading" {
                h2 #mine-heading { "My bookings" }
                @if mine.is_empty() {
                    p.card { "None yet. Bookings you make here are yours; only you can change them." }
                } @else {
                    @for b in &mine { (my_booking(viewer, b)) }
                }
            }
            section aria-labelledby="weeks-heading" data-live="/api/booking/live" {
                h2 #weeks-heading { "Facilities" }
                p.hint { "The weeks below follow every booking as it is made, here or by \
                          any other client (with JavaScript; otherwise reload the page)." }
                @for (f, week) in &weeks {
                    section.card aria-label=(f.name) {
                        h3 { (f.name) }
                        p.hint {
                            "Served by " (f.served_by.as_deref().unwrap_or("no node now"))
                            "; listed by " (f.listed_by) "."
                        }
                        @match week {
                            Ok(days) => (week_grid(&f.name, days)),
                            Err(message) => p.error role="alert" { (capitalized(message)) },
                        }
                    }
                }
            }
            script src=(crate::scripts::live_src()) defer {}
        },
    );
    Ok(layout::html(status, markup))
}

/// One facility's week: per day, its free and its booked time.
fn week_grid(facility: &str, days: &[DayOut]) -> Markup {
    html! {
        table.events.week data-facility=(facility) {
            caption.offscreen { "Free and booked time of " (facility) ", Monday to Sunday" }
            thead { tr { th scope="col" { "Day" } th scope="col" { "Free" } th scope="col" { "Booked" } } }
            tbody {
                @for d in days {
                    tr {
                        th scope="row" data-label="Day" { (d.name) }
                        td data-label="Free" {
                            @if d.free.is_empty() { "—" }
                            @for r in &d.free { span.free { (clock(&r.start)) "–" (clock(&r.end)) } " " }
                        }
                        td data-label="Booked" {
                            @let booked = booked_ranges(d);
                            @if booked.is_empty() { "—" }
                            @for (s, e) in &booked { span.booked { (s) "–" (e) } " " }
                        }
                    }
                }
            }
        }
    }
}

/// `Mon:10:00` as `10:00`.
fn clock(at: &str) -> &str {
    at.get(4..).unwrap_or(at)
}

/// The booked ranges of a day: what its free ranges leave out of
/// 00:00–24:00 (the seed sends free time only).
fn booked_ranges(day: &DayOut) -> Vec<(String, String)> {
    let minutes = |at: &str| -> Option<u32> {
        let (h, m) = clock(at).split_once(':')?;
        Some(h.parse::<u32>().ok()? * 60 + m.parse::<u32>().ok()?)
    };
    let mut free: Vec<(u32, u32)> = day
        .free
        .iter()
        .filter_map(|r| Some((minutes(&r.start)?, minutes(&r.end)?)))
        .collect();
    free.sort_unstable();
    let text = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
    let mut out = Vec::new();
    let mut at = 0;
    for (s, e) in free {
        if s > at {
            out.push((text(at), text(s)));
        }
        at = at.max(e);
    }
    if at < 24 * 60 {
        out.push((text(at), text(24 * 60)));
    }
    out
}

/// One of the viewer's bookings, with its three forms.
fn my_booking(viewer: &Viewer, b: &AccountBooking) -> Markup {
    let at = |m: i64| {
        u32::try_from(m)
            .ok()
            .and_then(WeekTime::from_minutes)
            .map_or_else(|| m.to_string(), |t| t.to_string())
    };
    let action = |what: &str| format!("/booking/{}/{what}", b.id);
    html! {
        article.card aria-label={ "Booking " (b.id) } {
            p {
                strong { (b.facility) } ", " (at(b.start)) " – " (at(b.end))
                br; span.hint { "Confirmation " code { (b.id) } }
            }
            form method="post" action=(action("change")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "Move by minutes (negative: earlier)"
                    input type="number" name="minutes" value="60" step="1" required; }
                button.secondary type="submit" { "Move" }
            }
            form method="post" action=(action("extend")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                label { "Extend by minutes" input type="number" name="minutes" value="30" min="1" step="1" required; }
                button.secondary type="submit" { "Extend" }
            }
            form method="post" action=(action("cancel")) {
                input type="hidden" name="csrf" value=(viewer.csrf);
                button type="submit" { "Cancel this booking" }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::booking::RangeOut;

    #[test]
    fn the_grid_names_its_facility_for_the_live_script() {
        let day = DayOut {
            day: 0,
            name: "Mon",
            free: vec![],
        };
        let text = week_grid("Room \"A\"", &[day]).into_string();
        assert!(
            text.contains("data-facility=\"Room &quot;A&quot;\""),
            "{text}"
        );
        assert!(text.contains("data-label=\"Booked\""), "{text}");
    }

    #[test]
    fn booked_time_is_what_the_free_time_leaves() {
        let range = |s: &str, e: &str| RangeOut {
            start: s.into(),
            end: e.into(),
        };
        let day = DayOut {
            day: 0,
            name: "Mon",
            free: vec![
                range("Mon:00:00", "Mon:10:00"),
                range("Mon:11:00", "Mon:24:00"),
            ],
        };
        assert_eq!(
            booked_ranges(&day),
            [("10:00".to_string(), "11:00".to_string())]
        );
        let full = DayOut {
            day: 0,
            name: "Mon",
            free: vec![],
        };
        assert_eq!(
            booked_ranges(&full),
            [("00:00".to_string(), "24:00".to_string())]
        );
    }
}
