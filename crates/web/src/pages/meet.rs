//! `/meet`: choose users of the meet backends, see their common free time
//! (EE450's rules, as a main node computes it), and register a meeting in it.
//!
//! Choosing is a plain `GET` form (checkboxes for the users this node's
//! main role knows, and a text field for any name), so a result has an
//! address that can be bookmarked or sent. Registering is a `POST` form
//! with the session's CSRF token; it runs the same code as the JSON API
//! (`ops/meet.rs`) and sends the browser back to the result (303), or shows
//! the page again with the refusal.

use std::sync::Arc;

use axum::Extension;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use convene_meet::handle::Common;
use maud::{Markup, html};

use crate::error::{ApiError, PageError, capitalized};
use crate::forms::FormData;
use crate::ops::Ops;
use crate::ops::meet::{self as api, split_names};
use crate::pages::csrf_refused;
use crate::pages::layout::{self, error_box, page};
use crate::session::Viewer;

/// What the page was asked to show.
#[derive(Debug, Default)]
struct Choice {
    /// The names chosen, in order (checkboxes first, then the text field).
    users: Vec<String>,
    /// The text field as typed.
    more: String,
    /// A meeting just registered (`start,end`), to confirm.
    registered: Option<(u32, u32)>,
}

impl Choice {
    fn of(query: Option<&str>) -> Choice {
        let mut choice = Choice::default();
        for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            match &*key {
                "users" => choice.users.extend(split_names(&value)),
                "more" => {
                    choice.users.extend(split_names(&value));
                    choice.more = value.into_owned();
                }
                "registered" => {
                    choice.registered = value
                        .split_once(',')
                        .and_then(|(s, e)| Some((s.parse().ok()?, e.parse().ok()?)));
                }
                // A page is lenient: other parameters are ignored.
                _ => {}
            }
        }
        choice
    }
}

/// `GET /meet`, `GET /meet?users=a&users=b&more=c`.
pub async fn show(
    Extension(ops): Extension<Arc<Ops>>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let choice = Choice::of(query.as_deref());
    render(&ops, &viewer, StatusCode::OK, None, &choice, None).await
}

/// `POST /meet`: register a meeting for the chosen users.
pub async fn register(
    Extension(ops): Extension<Arc<Ops>>,
    viewer: Viewer,
    form: FormData,
) -> Result<Response, PageError> {
    if !viewer.csrf_ok(form.get("csrf")) {
        return Ok(csrf_refused());
    }
    let users = split_names(form.get("users"));
    let typed = (form.get("start").to_string(), form.get("end").to_string());
    let result = async {
        let number = |what: &str, text: &str| {
            text.trim()
                .parse::<u32>()
                .map_err(|_| ApiError::bad_request(format!("{what}: a whole number from 0 to 100")))
        };
        let (start, end) = (number("from", &typed.0)?, number("to", &typed.1)?);
        let slot = api::interval(start, end)?;
        api::book(api::handle(&ops)?, slot, &users).await?;
        Ok::<_, ApiError>((start, end))
    }
    .await;
    match result {
        Ok((start, end)) => {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for user in &users {
                query.append_pair("users", user);
            }
            query.append_pair("registered", &format!("{start},{end}"));
            Ok(Redirect::to(&format!("/meet?{}", query.finish())).into_response())
        }
        Err(e) => {
            let choice = Choice {
                users,
                ..Choice::default()
            };
            render(
                &ops,
                &viewer,
                e.status,
                Some(&e.message),
                &choice,
                Some(&typed),
            )
            .await
        }
    }
}

/// The page: the chooser, and for chosen users the answer and the
/// registration form. `typed` keeps a refused registration's fields.
async fn render(
    ops: &Ops,
    viewer: &Viewer,
    mut status: StatusCode,
    problem: Option<&str>,
    choice: &Choice,
    typed: Option<&(String, String)>,
) -> Result<Response, PageError> {
    let handle = api::handle(ops).map_err(|e| PageError::new(e.status, capitalized(&e.message)))?;
    let known = handle.users();
    let silent = handle.silent_backends();
    let answer = if choice.users.is_empty() {
        None
    } else {
        let asked = api::ask(handle, &choice.users).await;
        if let (Err(e), StatusCode::OK) = (&asked, status) {
            status = e.status;
        }
        Some(asked)
    };
    let problem = problem.map(capitalized);
    let markup = page(
        "Meet",
        Some(viewer),
        html! {
            h1 { "Meet" }
            p.hint {
                "Find when everyone is free, from the meet backends' availability "
                "(times 0 to 100; intervals that only touch, as [15,17] and [17,18], "
                "do not overlap), and register a meeting in that time."
            }
            (error_box(problem.as_deref()))
            @if let Some((s, e)) = choice.registered {
                p.notice role="status" {
                    "Registered [" (s) "," (e) "] as the meeting time for "
                    (choice.users.join(", ")) "."
                }
            }
            (chooser(choice, known.as_deref(), &silent))
            @match &answer {
                None => {}
                Some(Err(e)) => section aria-labelledby="result-heading" {
                    h2 #result-heading { "Common free time" }
                    p.error role="alert" { (capitalized(&e.message)) }
                }
                Some(Ok(common)) => (result(viewer, common, typed)),
            }
        },
    );
    Ok(layout::html(status, markup))
}

/// The `GET` form choosing users.
fn chooser(choice: &Choice, known: Option<&[String]>, silent: &[String]) -> Markup {
    let chosen = |name: &str| choice.users.iter().any(|u| u == name);
    html! {
        section aria-labelledby="choose-heading" {
            h2 #choose-heading { "Choose users" }
            form.card method="get" action="/meet" {
                @match known {
                    Some(known) if !known.is_empty() => {
                        fieldset.users {
                            legend { "Users of the meet backends (" (known.len()) ")" }
                            @for name in known {
                                label.check {
                                    input type="checkbox" name="users" value=(name) checked[chosen(name)];
                                    " " (name)
                                }
                            }
                        }
                    }
                    Some(_) => p.hint { "No backend has sent its list of users yet." }
                    None => p.hint {
                        "This node is not a meet main node, so it has no list of users: type their names."
                    }
                }
                @if !silent.is_empty() {
                    p.hint {
                        "Not heard from yet: Server " (silent.join(", "))
                        "; its users are not listed."
                    }
                }
                label {
                    "Other users " span.hint { "(names separated by spaces or commas; at most 10 in all)" }
                    input type="text" name="more" value=(choice.more)
                        autocomplete="off" autocapitalize="none" spellcheck="false";
                }
                div.actions { button type="submit" { "Find common time" } }
            }
        }
    }
}

/// A main node's answer, and the registration form when there is time.
fn result(viewer: &Viewer, common: &Common, typed: Option<&(String, String)>) -> Markup {
    let slots: Vec<(u32, u32)> = common
        .slots
        .iter()
        .flat_map(|s| s.iter().map(|i| (i.start(), i.end())))
        .collect();
    let (start, end) = match (typed, slots.first()) {
        (Some((s, e)), _) => (s.clone(), e.clone()),
        (None, Some((s, e))) => (s.to_string(), e.to_string()),
        (None, None) => (String::new(), String::new()),
    };
    html! {
        section aria-labelledby="result-heading" {
            h2 #result-heading { "Common free time" }
            div.card {
                @if !common.missing.is_empty() {
                    p.error role="alert" { (common.missing.join(", ")) " do not exist." }
                }
                @for u in &common.unreachable {
                    p.error role="alert" {
                        (u.users.join(", ")) " unreachable (" (u.reason) "); try again later."
                    }
                }
                @if !common.found.is_empty() && common.unreachable.is_empty() {
                    @if slots.is_empty() {
                        p { "No time works for " (common.found.join(", ")) "." }
                    } @else {
                        p { "Time intervals that work for " (common.found.join(", ")) ":" }
                        ul.slots aria-label="Common free time" {
                            @for (s, e) in &slots { li { "[" (s) "," (e) "]" } }
                        }
                    }
                }
            }
        }
        @if !slots.is_empty() {
            section aria-labelledby="register-heading" {
                h2 #register-heading { "Register a meeting" }
                form.card method="post" action="/meet" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    input type="hidden" name="users" value=(common.found.join(","));
                    p.hint { "Choose a time inside one of the intervals above, e.g. a part of it." }
                    label { "From" input type="number" name="start" value=(start) min="0" max="100" step="1" required; }
                    label { "To" input type="number" name="end" value=(end) min="0" max="100" step="1" required; }
                    div.actions { button type="submit" { "Register meeting" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_takes_checkboxes_then_typed_names() {
        let c = Choice::of(Some(
            "users=eli&users=zein&more=luis%2C+amy&registered=2,3&x=1",
        ));
        assert_eq!(c.users, ["eli", "zein", "luis", "amy"]);
        assert_eq!(c.more, "luis, amy");
        assert_eq!(c.registered, Some((2, 3)));
        assert!(Choice::of(None).users.is_empty());
        assert_eq!(Choice::of(Some("registered=x")).registered, None);
    }
}
