//! "My events", and the form that creates an event.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use convene_events::db::EventState;
use convene_events::interval::Availability;
use convene_events::service::{EventsPage, MAX_DESCRIPTION, MAX_NAME, NewEventRequest};
use maud::{Markup, html};

use crate::error::{PageError, capitalized, events_message, events_status};
use crate::forms::{self, FormData, Row};
use crate::pages::layout::{self, error_box, page};
use crate::pages::{csrf_refused, default_button, interval_rows};
use crate::session::{Viewer, now_seconds};
use crate::state::App;
use crate::{paging, timefmt};

/// What a list or page says about an event's result.
pub fn result_text(
    zone: &convene_events::zone::Zone,
    state: EventState,
    result: Option<&Availability>,
) -> Vec<String> {
    match (state, result) {
        (EventState::Open, _) => vec!["waiting for the deadline".into()],
        (EventState::Final, Some(result)) if !result.is_empty() => timefmt::intervals(zone, result),
        (EventState::Final, _) => vec!["no common time".into()],
    }
}

fn list_page(viewer: &Viewer, shown: &EventsPage, now: i64) -> Markup {
    let zone = &viewer.zone;
    let events = &shown.events;
    page(
        "My events",
        Some(viewer),
        html! {
            h1 { "My events" }
            p.actions { a.button href="/events/new" { "Create an event" } }
            @if events.is_empty() && shown.previous.is_none() {
                p.card { "No events yet. Create one, or ask someone to invite you as "
                    strong { (viewer.name) } "." }
            } @else if events.is_empty() {
                p.card { "No more events." }
            } @else {
                p.hint { "Times are in " (zone.name()) ". Latest deadline first." }
                table.events {
                    thead { tr {
                        th { "Event" } th { "Creator" } th { "Deadline" } th { "State" }
                        th { "You" } th { "Result" }
                    } }
                    tbody {
                        @for event in events {
                            tr {
                                td.name data-label="Event" {
                                    a href={ "/events/" (event.id) } { (event.name) }
                                }
                                td data-label="Creator" { (event.creator) }
                                td data-label="Deadline" {
                                    (zone.display(event.deadline))
                                    br;
                                    span.hint { (timefmt::relative(now, event.deadline)) }
                                }
                                td data-label="State" {
                                    span class={ "state " (event.state.as_str()) } { (event.state.as_str()) }
                                }
                                td data-label="You" {
                                    @if event.answered { span.yes { "✓ answered" } }
                                    @else { span.no { "not answered" } }
                                }
                                td data-label="Result" {
                                    @for line in result_text(zone, event.state, event.result.as_ref()) {
                                        (line) br;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if shown.previous.is_some() || shown.next.is_some() {
                nav.pager aria-label="Pages of events" {
                    @if let Some(place) = &shown.previous {
                        a rel="prev" href={ "/events?before=" (paging::place_text(place)) } { "← Later deadlines" }
                    }
                    @if let Some(place) = &shown.next {
                        a rel="next" href={ "/events?after=" (paging::place_text(place)) } { "Earlier deadlines →" }
                    }
                }
            }
        },
    )
}

/// `GET /events[?after=PLACE|?before=PLACE]`: a page of the events the
/// viewer created or is invited to, with links to the pages either side
/// (plain links: no script needed).
pub async fn list(
    State(app): State<App>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let asked = paging::read_query(query.as_deref())
        .map_err(|problem| PageError::new(StatusCode::BAD_REQUEST, capitalized(&problem)))?;
    let shown = app
        .events
        .events_page(&viewer.name, asked.page, paging::PAGE_SIZE)
        .await?;
    let markup = list_page(&viewer, &shown, now_seconds());
    Ok(layout::html(StatusCode::OK, markup))
}

/// The new-event form's fields, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventForm {
    name: String,
    description: String,
    participants: String,
    deadline: String,
    rows: Vec<Row>,
}

impl EventForm {
    /// An empty form: the deadline a day from now on the hour, one row.
    fn blank(viewer: &Viewer) -> Self {
        let tomorrow = (now_seconds() / 3600 + 25) * 3600;
        EventForm {
            deadline: viewer.zone.to_local_input(tomorrow),
            rows: vec![Row::default()],
            ..EventForm::default()
        }
    }

    fn read(form: &FormData) -> Self {
        EventForm {
            name: form.get("name").to_string(),
            description: form.get("description").to_string(),
            participants: form.get("participants").to_string(),
            deadline: form.get("deadline").to_string(),
            rows: forms::rows(form),
        }
    }
}

fn new_page(viewer: &Viewer, form: &EventForm, error: Option<&str>) -> Markup {
    page(
        "New event",
        Some(viewer),
        html! {
            h1 { "Create an event" }
            div.card {
                (error_box(error))
                form method="post" action="/events/new" {
                    (default_button("create"))
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    label for="name" { "Name" }
                    input #name name="name" value=(form.name) required maxlength=(MAX_NAME);
                    label for="description" { "Description " span.hint { "(optional)" } }
                    textarea #description name="description" maxlength=(MAX_DESCRIPTION) { (form.description) }
                    label for="participants" {
                        "Participants "
                        span.hint { "(user names, separated by commas, spaces or new lines; you are included)" }
                    }
                    textarea #participants name="participants" autocapitalize="none" spellcheck="false" {
                        (form.participants)
                    }
                    label for="deadline" {
                        "Deadline " span.hint { "(" (viewer.zone.name()) "; the common time is computed then)" }
                    }
                    input #deadline type="datetime-local" name="deadline" value=(form.deadline) required;
                    h2 { "Your own availability " span.hint { "(optional)" } }
                    (interval_rows(&form.rows, viewer.zone.name()))
                    div.actions {
                        button type="submit" name="action" value="create" { "Create event" }
                    }
                }
            }
        },
    )
}

/// `GET /events/new`.
pub async fn new_form(viewer: Viewer) -> Response {
    let markup = new_page(&viewer, &EventForm::blank(&viewer), None);
    layout::html(StatusCode::OK, markup)
}

/// `POST /events/new`: "Add interval" shows the form again with one more
/// row; "Create event" creates it and goes to its page.
pub async fn create(State(app): State<App>, viewer: Viewer, form: FormData) -> Response {
    if !viewer.csrf_ok(form.get("csrf")) {
        return csrf_refused();
    }
    let mut typed = EventForm::read(&form);
    if form.get("action") == "add" {
        typed.rows = forms::rows_plus_one(typed.rows);
        return layout::html(StatusCode::OK, new_page(&viewer, &typed, None));
    }
    let refuse = |status: StatusCode, message: String, typed: &EventForm| {
        layout::html(
            status,
            new_page(&viewer, typed, Some(&capitalized(&message))),
        )
    };
    if typed.rows.is_empty() {
        typed.rows.push(Row::default());
    }
    let deadline = if typed.deadline.trim().is_empty() {
        Err("give a deadline".to_string())
    } else {
        viewer
            .zone
            .parse_local(&typed.deadline)
            .map_err(|e| format!("deadline: {e}"))
    };
    let deadline = match deadline {
        Ok(deadline) => deadline,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message, &typed),
    };
    let availability = match forms::parse_rows(&viewer.zone, &typed.rows) {
        Ok(availability) => availability,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message, &typed),
    };
    let request = NewEventRequest {
        name: typed.name.clone(),
        description: typed.description.clone(),
        creator: viewer.name.clone(),
        participants: forms::participants(&typed.participants),
        deadline,
        availability: (!availability.is_empty()).then_some(availability),
    };
    match app.events.create(request).await {
        Ok(id) => Redirect::to(&format!("/events/{id}")).into_response(),
        Err(error) => refuse(events_status(&error), events_message(&error), &typed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_events::db::EventSummary;
    use convene_events::interval::Interval;
    use convene_events::zone::Zone;

    fn viewer() -> Viewer {
        Viewer {
            name: "alice".into(),
            zone: Zone::named("Europe/Rome").unwrap(),
            csrf: "tok".into(),
        }
    }

    #[test]
    fn the_list_escapes_names_and_shows_results_in_the_viewers_zone() {
        let common = Availability::from_iter([Interval::new(
            convene_events::zone::parse_rfc3339("2026-02-10T14:00:00Z").unwrap(),
            convene_events::zone::parse_rfc3339("2026-02-10T15:00:00Z").unwrap(),
        )
        .unwrap()]);
        let summary = |id: &str, name: &str, state, result| EventSummary {
            id: id.into(),
            name: name.into(),
            creator: "bob".into(),
            deadline: 1_770_000_000,
            state,
            result,
            answered: false,
        };
        let events = [
            summary(
                "aaaaaaaaaa",
                "<script>alert(1)</script>",
                EventState::Open,
                None,
            ),
            summary("bbbbbbbbbb", "Lunch", EventState::Final, Some(common)),
            summary(
                "cccccccccc",
                "Never",
                EventState::Final,
                Some(Availability::new()),
            ),
        ];
        let shown = EventsPage {
            events: events.to_vec(),
            next: None,
            previous: None,
        };
        let text = list_page(&viewer(), &shown, 1_760_000_000).into_string();
        assert!(!text.contains("<script>alert"));
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(text.contains("href=\"/events/bbbbbbbbbb\""));
        assert!(text.contains("Tue 10 Feb 2026, 15:00 – 16:00 (CET)"));
        assert!(text.contains("no common time"));
        assert!(text.contains("waiting for the deadline"));
        assert!(text.contains("Create an event"));
    }

    #[test]
    fn pages_link_to_their_neighbours_and_say_when_empty() {
        let place = |deadline, id: &str| convene_events::db::EventCursor {
            deadline,
            id: id.into(),
        };
        let line = EventSummary {
            id: "dddddddddd".into(),
            name: "Standup".into(),
            creator: "bob".into(),
            deadline: 2_000_000_000,
            state: EventState::Open,
            result: None,
            answered: true,
        };
        let middle = EventsPage {
            events: vec![line.clone()],
            next: Some(place(2_000_000_000, "dddddddddd")),
            previous: Some(place(2_000_000_000, "dddddddddd")),
        };
        let text = list_page(&viewer(), &middle, 1_900_000_000).into_string();
        assert!(text.contains(
            "<a rel=\"prev\" href=\"/events?before=2000000000.dddddddddd\">← Later deadlines</a>"
        ));
        assert!(text.contains(
            "<a rel=\"next\" href=\"/events?after=2000000000.dddddddddd\">Earlier deadlines →</a>"
        ));
        let only = EventsPage {
            events: vec![line],
            next: None,
            previous: None,
        };
        let text = list_page(&viewer(), &only, 1_900_000_000).into_string();
        assert!(!text.contains("pager"));
        let past_the_end = EventsPage {
            events: vec![],
            next: None,
            previous: Some(place(1, "dddddddddd")),
        };
        let text = list_page(&viewer(), &past_the_end, 1_900_000_000).into_string();
        assert!(text.contains("No more events.") && text.contains("rel=\"prev\""));
        let none = EventsPage {
            events: vec![],
            next: None,
            previous: None,
        };
        let text = list_page(&viewer(), &none, 1_900_000_000).into_string();
        assert!(text.contains("No events yet."));
    }

    #[test]
    fn the_new_form_shows_every_typed_value_again() {
        let form = FormData::parse(
            b"name=%3Cb%3EParty&description=d&participants=bob+carol&deadline=2026-03-01T10:00\
              &start=2026-02-01T10:00&end=2026-02-01T11:00&start=&end=&action=add",
        );
        let mut typed = EventForm::read(&form);
        typed.rows = forms::rows_plus_one(typed.rows);
        let text = new_page(&viewer(), &typed, Some("Oops")).into_string();
        assert!(text.contains("value=\"&lt;b&gt;Party\""));
        assert!(text.contains(">bob carol</textarea>"));
        assert!(text.contains("value=\"2026-03-01T10:00\""));
        assert!(text.contains("value=\"2026-02-01T11:00\""));
        assert_eq!(text.matches("name=\"start\"").count(), 3);
        assert!(text.contains("Oops"));
        assert!(text.contains("value=\"add\""));
    }
}
