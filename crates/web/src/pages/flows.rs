//! What a final event's result leads to, one action each from the event
//! page: book a facility for the result's first interval, open a chat room
//! named after the event, and make a shared folder for the event. Each shows in its service at once (the
//! booking grid and `/api/bookings`; the files listing, then every node's
//! folder as it syncs), because each goes through that service's own path:
//! the booking is the account's, made as `POST /api/bookings` makes it, and
//! the folder is written into this node's shared folder as an upload is.
//!
//! # Mapping a result onto the booking week
//!
//! The booking seed's week has no dates: Monday 00:00 to Sunday 24:00,
//! minutes. The result's first interval is read as wall clock times in the
//! viewer's zone (the person booking; events have no zone of their own) and
//! placed in the week of its start. An interval that runs past Sunday 24:00
//! is cut there, and the page says so; one shorter than a minute cannot be
//! booked.

use std::sync::Arc;

use axum::Extension;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use convene_events::db::{Event, EventState};
use convene_events::interval::Interval;
use convene_events::zone::Zone;
use convene_files::path::SharedPath;
use convene_time::WeekTime;
use jiff::civil::DateTime;
use maud::{Markup, html};

use crate::error::PageError;
use crate::forms::FormData;
use crate::ops::Ops;
use crate::pages::csrf_error;
use crate::session::Viewer;
use crate::state::App;
use crate::week;

/// Minutes in the booking week.
const WEEK_MINUTES: i64 = 7 * 24 * 60;

/// Where a result's interval falls in the booking week.
#[derive(Debug, PartialEq, Eq)]
pub struct WeekSpan {
    /// Its start.
    pub start: WeekTime,
    /// Its end (Sunday 24:00 at the latest).
    pub end: WeekTime,
    /// Whether it was cut at Sunday 24:00.
    pub cut: bool,
}

/// `interval` on the booking week, read in `zone`; `None` if it is shorter
/// than a minute there.
pub fn week_span(zone: &Zone, interval: &Interval) -> Option<WeekSpan> {
    let local = |s: i64| zone.to_local_input(s).parse::<DateTime>().ok();
    let (start, end) = (local(interval.start())?, local(interval.end())?);
    let weekday = i64::from(start.weekday().to_monday_zero_offset());
    let start_minutes = weekday * 1440 + i64::from(start.hour()) * 60 + i64::from(start.minute());
    let days = start.date().until(end.date()).ok()?.get_days();
    let end_minutes = start_minutes - (i64::from(start.hour()) * 60 + i64::from(start.minute()))
        + i64::from(days) * 1440
        + i64::from(end.hour()) * 60
        + i64::from(end.minute());
    if end_minutes <= start_minutes {
        return None;
    }
    let cut = end_minutes > WEEK_MINUTES;
    let minutes = |m: i64| u32::try_from(m).ok().and_then(WeekTime::from_minutes);
    Some(WeekSpan {
        start: minutes(start_minutes)?,
        end: minutes(end_minutes.min(WEEK_MINUTES))?,
        cut,
    })
}

/// The folder made for `event`: `events/<its name, made safe>-<its id>`.
pub fn folder_for(event: &Event) -> String {
    let mut slug = String::new();
    for c in event.name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        format!("events/{}", event.id)
    } else {
        format!("events/{slug}-{}", event.id)
    }
}

/// The chat room for `event`: its name's ASCII letters and digits (at most
/// 10, starting with a letter; `Event` if none), then the first 6 of its
/// id, so two events of one name get two rooms. Always a valid room id
/// (3 to 16 letters and digits, starting with a letter).
pub fn room_for(event: &Event) -> String {
    let mut room: String = event
        .name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .skip_while(|c| !c.is_ascii_alphabetic())
        .take(10)
        .collect();
    if room.is_empty() {
        room.push_str("Event");
    }
    room.extend(event.id.chars().filter(char::is_ascii_alphanumeric).take(6));
    room
}

/// The note the folder starts with: what the event is, who is in it, when.
fn readme(event: &Event) -> String {
    let mut text = format!("{}\n\n", event.name);
    if !event.description.is_empty() {
        text.push_str(&format!("{}\n\n", event.description));
    }
    let names: Vec<&str> = event.participants.iter().map(|p| p.name.as_str()).collect();
    text.push_str(&format!("Participants: {}\n", names.join(", ")));
    text.push_str("Common time (UTC):\n");
    for interval in event.result.iter().flat_map(|r| r.iter()) {
        text.push_str(&format!(
            "- {} to {}\n",
            convene_events::zone::format_rfc3339(interval.start()),
            convene_events::zone::format_rfc3339(interval.end())
        ));
    }
    text.push_str(&format!("\nMade by Convene for event {}.\n", event.id));
    text
}

/// The card on a final event's page offering the actions this node can
/// take; nothing if the result is empty or the node has no service to act.
pub(crate) fn card(viewer: &Viewer, event: &Event, ops: Option<&Ops>) -> Markup {
    let Some(first) = event.result.as_ref().and_then(|r| r.iter().next()) else {
        return html! {};
    };
    let Some(ops) = ops else {
        return html! {};
    };
    let facilities: Vec<String> = ops
        .booking
        .as_ref()
        .map(|b| b.facilities().into_iter().map(|f| f.name).collect())
        .unwrap_or_default();
    let span = week_span(&viewer.zone, first);
    let action = |what: &str| format!("/events/{}/{what}", event.id);
    html! {
        @if !facilities.is_empty() || ops.folder.is_some() || ops.chat.is_some() {
            h2 { "Use the result" }
            div.card {
                @if let (false, Some(span)) = (facilities.is_empty(), &span) {
                    form method="post" action=(action("book")) {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        label {
                            "Book a facility from " (week::format(span.start)) " to " (week::format(span.end))
                            " (" (viewer.zone.name()) ")"
                            select name="facility" {
                                @for f in &facilities { option value=(f) { (f) } }
                            }
                        }
                        @if span.cut { p.hint { "The result runs past Sunday; the booking ends at Sunday 24:00." } }
                        div.actions { button type="submit" { "Book it" } }
                    }
                }
                @if ops.chat.is_some() {
                    @let room = room_for(event);
                    p {
                        "A chat room for the participants: "
                        a href={ "/chat?room=" (room) } { "open " (room) }
                        span.hint { " (made when you connect, if nobody has; it lasts while its maker stays in it, as chat rooms do)" }
                    }
                }
                @if ops.folder.is_some() {
                    form method="post" action=(action("folder")) {
                        input type="hidden" name="csrf" value=(viewer.csrf);
                        p { "A shared folder for the event: " code { (folder_for(event)) } }
                        div.actions { button type="submit" { "Create the folder" } }
                    }
                }
            }
        }
    }
}

/// The final event `id` that the viewer may see, or the page saying why not.
async fn final_event(app: &App, viewer: &Viewer, id: &str) -> Result<Event, PageError> {
    let event = crate::pages::event::load(app, viewer, id).await?;
    if event.state != EventState::Final || event.result.as_ref().is_none_or(|r| r.is_empty()) {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "This event has no common time yet: it can be used once it is final.",
        ));
    }
    Ok(event)
}

/// What every action starts from: the form's token checked, the node's
/// services, and the final event `id` the viewer may see.
async fn prepare(
    app: &App,
    ops: Option<Arc<Ops>>,
    viewer: &Viewer,
    path: Result<Path<String>, PathRejection>,
    form: &FormData,
) -> Result<(Arc<Ops>, Event), PageError> {
    let id = path
        .map(|Path(id)| id)
        .map_err(|_| PageError::not_found())?;
    if !viewer.csrf_ok(form.get("csrf")) {
        return Err(csrf_error());
    }
    let ops = ops.ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "This node runs none of the services an event can use.",
        )
    })?;
    let event = final_event(app, viewer, &id).await?;
    Ok((ops, event))
}

/// `POST /events/{id}/book`: books the chosen facility for the result's
/// first interval, as the viewer's booking; then the booking page.
pub(crate) async fn book(
    State(app): State<App>,
    Extension(ops): Extension<Option<Arc<Ops>>>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
    form: FormData,
) -> Result<Response, PageError> {
    let (ops, event) = prepare(&app, ops, &viewer, path, &form).await?;
    let handle = crate::ops::booking::handle(&ops)?;
    let Some(first) = event.result.as_ref().and_then(|r| r.iter().next()) else {
        return Err(PageError::not_found());
    };
    let span = week_span(&viewer.zone, first).ok_or_else(|| {
        PageError::new(
            StatusCode::BAD_REQUEST,
            "The common time is shorter than a minute: too short to book.",
        )
    })?;
    let facility = form.get("facility");
    crate::ops::booking::make(&app, handle, &viewer.name, facility, span.start, span.end).await?;
    Ok(Redirect::to("/booking?booked=1").into_response())
}

/// `POST /events/{id}/folder`: makes the event's folder (with a note of
/// what it is for) in this node's shared folder; then the files page.
pub(crate) async fn folder(
    State(app): State<App>,
    Extension(ops): Extension<Option<Arc<Ops>>>,
    viewer: Viewer,
    path: Result<Path<String>, PathRejection>,
    form: FormData,
) -> Result<Response, PageError> {
    let (ops, event) = prepare(&app, ops, &viewer, path, &form).await?;
    let path = SharedPath::parse(&format!("{}/README.txt", folder_for(&event)))
        .map_err(|e| PageError::new(StatusCode::BAD_REQUEST, e.to_string()))?;
    crate::ops::transfer::write(&ops, &path, readme(&event).as_bytes()).await?;
    Ok(Redirect::to("/files").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        convene_events::zone::parse_rfc3339(text).unwrap()
    }

    fn span(zone: &str, from: &str, to: &str) -> Option<WeekSpan> {
        let zone = Zone::named(zone).unwrap();
        week_span(&zone, &Interval::new(at(from), at(to)).unwrap())
    }

    fn wt(text: &str) -> WeekTime {
        week::parse(text).unwrap()
    }

    #[test]
    fn a_result_lands_on_its_weekday_in_the_viewers_zone() {
        // Monday 7 December 2026, 09:00 to 10:30 UTC is 10:00 to 11:30 in Rome.
        let got = span(
            "Europe/Rome",
            "2026-12-07T09:00:00Z",
            "2026-12-07T10:30:00Z",
        );
        assert_eq!(
            got,
            Some(WeekSpan {
                start: wt("Mon:10:00"),
                end: wt("Mon:11:30"),
                cut: false
            })
        );
        // In Tokyo the same time is Monday evening.
        let got = span("Asia/Tokyo", "2026-12-07T09:00:00Z", "2026-12-07T10:30:00Z").unwrap();
        assert_eq!((got.start, got.end), (wt("Mon:18:00"), wt("Mon:19:30")));
        // Through midnight: Saturday 23:00 to Sunday 01:00.
        let got = span("UTC", "2026-12-12T23:00:00Z", "2026-12-13T01:00:00Z").unwrap();
        assert_eq!((got.start, got.end), (wt("Sat:23:00"), wt("Sun:01:00")));
        // A day's end is 24:00 of that day.
        let got = span("UTC", "2026-12-08T20:00:00Z", "2026-12-09T00:00:00Z").unwrap();
        assert_eq!(got.end.minutes(), 2 * 1440);
    }

    #[test]
    fn past_sunday_it_is_cut_and_under_a_minute_it_is_nothing() {
        let got = span("UTC", "2026-12-13T22:00:00Z", "2026-12-14T02:00:00Z").unwrap();
        assert_eq!(
            (got.start, got.end.minutes(), got.cut),
            (wt("Sun:22:00"), 10080, true)
        );
        assert_eq!(
            span("UTC", "2026-12-07T09:00:00Z", "2026-12-07T09:00:30Z"),
            None
        );
    }

    #[test]
    fn the_folder_is_named_after_the_event_safely() {
        let mut event = Event {
            id: "abcdefghjk".into(),
            name: "Q3 Retro: ../../etc/passwd & plans!".into(),
            description: String::new(),
            creator: "a".into(),
            deadline: 0,
            leader: "A".into(),
            state: EventState::Final,
            result: None,
            created_at: 0,
            participants: vec![],
        };
        assert_eq!(
            folder_for(&event),
            "events/q3-retro-etc-passwd-plans-abcdefghjk"
        );
        assert_eq!(room_for(&event), "Q3Retroetcabcdef");
        event.name = "¿?".into();
        assert_eq!(folder_for(&event), "events/abcdefghjk");
        assert!(SharedPath::parse(&folder_for(&event)).is_ok());
        assert_eq!(room_for(&event), "Eventabcdef");
        event.name = "2026 budget".into();
        assert_eq!(room_for(&event), "budgetabcdef");
        for name in ["Q3 Retro", "¿?", "2026 budget", "x"] {
            event.name = name.into();
            let room = room_for(&event);
            assert!(convene_chat::ids::check_room_id(&room).is_ok(), "{room}");
        }
    }
}
