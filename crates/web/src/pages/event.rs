//! One event: what it is, who answered, its result, and the form to add
//! the viewer's availability while it is open.

use axum::extract::rejection::PathRejection;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use convene_events::EventsError;
use convene_events::db::{Event, EventState};
use maud::{Markup, html};
use serde::Deserialize;

use crate::error::{PageError, capitalized, events_message, events_status};
use crate::forms::{self, FormData, Row};
use crate::ops::Ops;
use crate::pages::events::result_text;
use crate::pages::layout::{self, error_box, page};
use crate::pages::{calendar, flows, grid};
use crate::pages::{csrf_refused, default_button, interval_rows};
use crate::scripts;
use crate::session::{Viewer, now_seconds};
use crate::state::App;
use crate::timefmt;

/// `?added=1` after availability was accepted; `?week=2026-12-14`: the
/// grid's first day.
#[derive(Deserialize, Default)]
pub struct Flash {
    #[serde(default)]
    added: Option<String>,
    #[serde(default)]
    week: Option<String>,
}

/// What the availability form shows: the rows typed, and why they were
/// refused.
struct FormState<'a> {
    rows: Vec<Row>,
    error: Option<&'a str>,
    added: bool,
    /// The grid's week (its first day).
    week: Option<jiff::civil::Date>,
}

fn event_page(viewer: &Viewer, event: &Event, form: &FormState, now: i64, uses: Markup) -> Markup {
    let zone = &viewer.zone;
    let invited = event.participants.iter().any(|p| p.name == viewer.name);
    let answered = event
        .participants
        .iter()
        .any(|p| p.name == viewer.name && p.answered);
    let open = event.state == EventState::Open && now < event.deadline;
    let show_form = open && invited;
    page(
        &event.name,
        Some(viewer),
        html! {
            h1 { (event.name) }
            @if !show_form {
                // A refused submission whose form is no longer shown
                // (the deadline passed meanwhile): the reason goes on top.
                (error_box(form.error))
            }
            @if form.added {
                p.notice role="status" { "Your availability was added." }
            }
            div.card {
                @if !event.description.is_empty() {
                    p.description { (event.description) }
                }
                dl.facts {
                    dt { "Creator" } dd { (event.creator) }
                    dt { "Deadline" } dd {
                        (zone.display(event.deadline)) " "
                        span.hint { "(" (timefmt::relative(now, event.deadline)) ")" }
                    }
                    dt { "State" } dd {
                        span class={ "state " (event.state.as_str()) } { (event.state.as_str()) }
                        @if event.state == EventState::Open && !open {
                            " " span.hint { "(the deadline has passed; the result is being computed)" }
                        }
                    }
                    dt { "Leader node" } dd { (event.leader) }
                    dt { "Event code" } dd { code { (event.id) } }
                }
            }
            @if event.state == EventState::Final {
                h2 { "Result" }
                div.card {
                    @match &event.result {
                        Some(result) if !result.is_empty() => {
                            p { "Everyone can make these times (" (zone.name()) "):" }
                            ul.plain {
                                @for line in result_text(zone, event.state, Some(result)) {
                                    li { strong { (line) } }
                                }
                            }
                        }
                        _ => { p { strong { "No common time." } " The participants' times do not overlap." } }
                    }
                    @if event.result.as_ref().is_some_and(|r| !r.is_empty()) {
                        p { a href={ "/events/" (event.id) "/calendar.ics" } download={ (event.id) ".ics" } { "Add to my calendar (.ics)" } }
                    }
                }
                (uses)
            }
            h2 { "Participants" }
            div.card {
                ul.plain {
                    @for p in &event.participants {
                        li {
                            @if p.answered { span.yes { "✓ " } }
                            (p.name)
                            @if p.name == event.creator { span.hint { " (creator)" } }
                            @if !p.answered { span.hint { " · not answered yet" } }
                        }
                    }
                }
            }
            @if show_form {
                h2 { @if answered { "Narrow your availability" } @else { "Your availability" } }
                div.card {
                    (error_box(form.error))
                    @if answered {
                        p.hint {
                            "You have answered. Every submission counts as one more constraint: "
                            "the result must fit each of them, so sending times again can only "
                            "narrow it."
                        }
                    } @else {
                        p.hint {
                            "Give every time you can make, all in one go: the result is the time "
                            "that every submission has in common."
                        }
                    }
                    @let first = form.week.unwrap_or_else(|| grid::today(zone, now));
                    form method="post" action={ "/events/" (event.id) "/availability" } {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        input type="hidden" name="week" value=(first);
                        (grid::Grid::week(zone, first).render(&format!("/events/{}", event.id), zone.name()))
                        div.actions {
                            button type="submit" name="action" value="grid" { "Send the painted times" }
                        }
                    }
                    script src=(scripts::grid_src()) {}
                    p.hint { "Or type the times:" }
                    form method="post" action={ "/events/" (event.id) "/availability" } {
                        (default_button("submit"))
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        (interval_rows(&form.rows, zone.name()))
                        div.actions {
                            button type="submit" name="action" value="submit" { "Send my availability" }
                        }
                    }
                }
            }
            p { a href="/events" { "← My events" } }
        },
    )
}

/// Loads an event the viewer may see.
pub(crate) async fn load(app: &App, viewer: &Viewer, id: &str) -> Result<Event, PageError> {
    match app.events.event_for(id, &viewer.name).await {
        Err(EventsError::NotInvited { .. }) => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "You are not invited to this event.",
        )),
        other => Ok(other?),
    }
}

fn path_id(path: Result<Path<String>, PathRejection>) -> Result<String, PageError> {
    path.map(|Path(id)| id).map_err(|_| PageError::not_found())
}

/// `GET /events/{id}`.
pub(crate) async fn show(
    State(app): State<App>,
    Extension(ops): Extension<Option<Arc<Ops>>>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
    Query(flash): Query<Flash>,
) -> Result<Response, PageError> {
    let id = path_id(path)?;
    let event = load(&app, &viewer, &id).await?;
    let now = now_seconds();
    let form = FormState {
        rows: vec![Row::default()],
        error: None,
        added: flash.added.is_some(),
        week: Some(grid::week_start(
            flash.week.as_deref(),
            grid::today(&viewer.zone, now),
        )),
    };
    Ok(layout::html(
        StatusCode::OK,
        event_page(
            &viewer,
            &event,
            &form,
            now,
            flows::card(&viewer, &event, ops.as_deref()),
        ),
    ))
}

/// `GET /events/{id}/calendar.ics`: a final event's result for a calendar
/// program ([`calendar`]); 404 while there is none.
pub async fn calendar_file(
    State(app): State<App>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let id = path_id(path)?;
    let event = load(&app, &viewer, &id).await?;
    let Some(text) = calendar::ics(&event, "convene", now_seconds()) else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "This event has no common time to put in a calendar (yet).",
        ));
    };
    let mut response = text.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    if let Ok(value) =
        axum::http::HeaderValue::try_from(format!("attachment; filename=\"{}.ics\"", event.id))
    {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// `POST /events/{id}/availability`: "Add interval" shows the page again
/// with one more row; otherwise the rows are submitted and the browser
/// goes back to the event with `?added=1`.
pub async fn add_availability(
    State(app): State<App>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
    form: FormData,
) -> Result<Response, PageError> {
    let id = path_id(path)?;
    if !viewer.csrf_ok(form.get("csrf")) {
        return Ok(csrf_refused());
    }
    let mut rows = forms::rows(&form);
    let week = Some(grid::week_start(
        Some(form.get("week")),
        grid::today(&viewer.zone, now_seconds()),
    ));
    if form.get("action") == "add" {
        let event = load(&app, &viewer, &id).await?;
        let state = FormState {
            rows: forms::rows_plus_one(rows),
            error: None,
            added: false,
            week,
        };
        let markup = event_page(&viewer, &event, &state, now_seconds(), html! {});
        return Ok(layout::html(StatusCode::OK, markup));
    }
    let painted = form.get("action") == "grid";
    let given = if painted {
        grid::cells_to_availability(&viewer.zone, form.all("cell"))
            .map_err(|e| format!("the grid: {e}"))
    } else {
        forms::parse_rows(&viewer.zone, &rows)
    };
    let outcome = match given {
        Ok(availability) if availability.is_empty() => Err((
            StatusCode::BAD_REQUEST,
            if painted {
                "paint at least one cell of the grid".to_string()
            } else {
                "give at least one interval".to_string()
            },
        )),
        Ok(availability) => app
            .events
            .submit(&id, &viewer.name, availability)
            .await
            .map_err(|e| (events_status(&e), events_message(&e))),
        Err(message) => Err((StatusCode::BAD_REQUEST, message)),
    };
    match outcome {
        Ok(()) => Ok(Redirect::to(&format!("/events/{id}?added=1")).into_response()),
        Err((status, message)) => {
            // The event again, with the rows and the reason (if the event
            // itself is the problem, unknown or not ours, that is the page).
            let event = load(&app, &viewer, &id).await?;
            if rows.is_empty() {
                rows.push(Row::default());
            }
            let message = capitalized(&message);
            let state = FormState {
                rows,
                error: Some(&message),
                added: false,
                week,
            };
            let markup = event_page(&viewer, &event, &state, now_seconds(), html! {});
            Ok(layout::html(status, markup))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_events::db::Participant;
    use convene_events::interval::{Availability, Interval};
    use convene_events::zone::Zone;

    fn viewer(name: &str) -> Viewer {
        Viewer {
            name: name.into(),
            zone: Zone::named("America/New_York").unwrap(),
            csrf: "tok".into(),
        }
    }

    fn event(state: EventState, result: Option<Availability>) -> Event {
        Event {
            id: "abcdefghjk".into(),
            name: "<script>x</script>".into(),
            description: "Bring <b>snacks</b>".into(),
            creator: "alice".into(),
            deadline: 2_000_000_000,
            leader: "B".into(),
            state,
            result,
            created_at: 0,
            participants: vec![
                Participant {
                    name: "alice".into(),
                    answered: true,
                },
                Participant {
                    name: "bob".into(),
                    answered: false,
                },
            ],
        }
    }

    fn form() -> FormState<'static> {
        FormState {
            rows: vec![Row::default()],
            error: None,
            added: true,
            week: None,
        }
    }

    #[test]
    fn an_open_event_shows_the_form_to_the_invited() {
        let text = event_page(
            &viewer("bob"),
            &event(EventState::Open, None),
            &form(),
            1_999_988_000,
            html! {},
        )
        .into_string();
        assert!(!text.contains("<script>x"));
        assert!(text.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(text.contains("Bring &lt;b&gt;snacks&lt;/b&gt;"));
        assert!(text.contains("action=\"/events/abcdefghjk/availability\""));
        assert!(text.contains("Your availability was added."));
        assert!(text.contains("in 3 h 20 min"));
        assert!(text.contains("Leader node"));
        assert!(text.contains("(EDT)") || text.contains("(EST)"));
    }

    #[test]
    fn a_final_event_shows_its_result_in_the_viewers_zone() {
        let result = Availability::from_iter([Interval::new(
            convene_events::zone::parse_rfc3339("2026-02-10T15:00:00Z").unwrap(),
            convene_events::zone::parse_rfc3339("2026-02-10T16:30:00Z").unwrap(),
        )
        .unwrap()]);
        let text = event_page(
            &viewer("bob"),
            &event(EventState::Final, Some(result)),
            &form(),
            2_000_000_100,
            html! {},
        )
        .into_string();
        assert!(text.contains("Tue 10 Feb 2026, 10:00 – 11:30 (EST)"));
        assert!(!text.contains("/availability"), "no form once final");
        let none = event_page(
            &viewer("bob"),
            &event(EventState::Final, Some(Availability::new())),
            &form(),
            2_000_000_100,
            html! {},
        )
        .into_string();
        assert!(none.contains("No common time."));
    }
}
