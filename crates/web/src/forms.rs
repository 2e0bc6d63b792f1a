//! Reading HTML forms: the body, rows of intervals, lists of participants.
//!
//! The availability forms repeat their fields (`start=…&end=…&start=…`), one
//! pair per row, which a struct-shaped decoder cannot hold; the body is read
//! here as the ordered list of pairs the browser sent. Browsers send every
//! field of a form in document order, empty ones too, so the n-th `start`
//! and the n-th `end` are one row.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use convene_events::interval::{Availability, Interval};
use convene_events::zone::Zone;

use crate::error::PageError;

/// A form body: every field in the order sent, repeats kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// Decodes an `application/x-www-form-urlencoded` body.
    pub fn parse(body: &[u8]) -> FormData {
        FormData(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The first value of `name`, or `""` if the form has none (a missing
    /// field and an empty one mean the same on a form).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let form_type = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';').next().is_some_and(|t| {
                    t.trim()
                        .eq_ignore_ascii_case("application/x-www-form-urlencoded")
                })
            });
        if !form_type {
            return Err(PageError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "This address takes a form sent from one of our pages.",
            )
            .into_response());
        }
        match Bytes::from_request(request, state).await {
            Ok(body) => Ok(FormData::parse(&body)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(PageError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "The form is too large (over 1 MiB).",
                )
                .into_response())
            }
            Err(rejection) => Err(PageError::new(
                rejection.status(),
                "The form could not be read.",
            )
            .into_response()),
        }
    }
}

/// One row of an availability form, as typed (kept to show the form again).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    /// The `datetime-local` start, e.g. `2026-03-01T10:00`.
    pub start: String,
    /// The end, in the same form.
    pub end: String,
}

impl Row {
    fn is_blank(&self) -> bool {
        self.start.trim().is_empty() && self.end.trim().is_empty()
    }
}

/// Most rows a form shows: an event takes at most this many intervals in
/// one submission anyway.
pub const MAX_ROWS: usize = convene_events::service::MAX_INTERVALS;

/// The form's rows of intervals, in order, as typed.
pub fn rows(form: &FormData) -> Vec<Row> {
    form.all("start")
        .zip(form.all("end"))
        .take(MAX_ROWS)
        .map(|(start, end)| Row {
            start: start.to_string(),
            end: end.to_string(),
        })
        .collect()
}

/// The rows to show again after "Add interval": the typed ones and one
/// more empty row (never more than [`MAX_ROWS`]).
pub fn rows_plus_one(mut rows: Vec<Row>) -> Vec<Row> {
    if rows.len() < MAX_ROWS {
        rows.push(Row::default());
    }
    rows
}

/// The times the rows give, read as wall-clock times in `zone`. Blank rows
/// are skipped; a half-filled row, a time that does not read, or an end
/// not after its start is an error naming the row.
pub fn parse_rows(zone: &Zone, rows: &[Row]) -> Result<Availability, String> {
    let mut intervals = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let at = |what: &str| format!("interval {}: {what}", i + 1);
        if row.start.trim().is_empty() || row.end.trim().is_empty() {
            return Err(at("give both a start and an end"));
        }
        let start = zone
            .parse_local(&row.start)
            .map_err(|e| at(&e.to_string()))?;
        let end = zone.parse_local(&row.end).map_err(|e| at(&e.to_string()))?;
        let interval =
            Interval::new(start, end).map_err(|_| at("each interval must end after it starts"))?;
        intervals.push(interval);
    }
    Ok(Availability::from_iter(intervals))
}

/// User names typed into one field, separated by commas, spaces or new
/// lines; repeats dropped, order kept.
pub fn participants(text: &str) -> Vec<String> {
    // A set, not a search of the list so far: a form may carry a megabyte
    // of names, and the events service refuses too many only after this.
    let mut seen = std::collections::HashSet::new();
    text.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|name| !name.is_empty() && seen.insert(*name))
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_keep_repeats_in_order_and_decode() {
        let form = FormData::parse(b"start=a&end=b&start=c+d&end=%3Cx%3E&name=&csrf=t");
        assert_eq!(form.all("start").collect::<Vec<_>>(), ["a", "c d"]);
        assert_eq!(form.get("end"), "b");
        assert_eq!(form.get("name"), "");
        assert_eq!(form.get("missing"), "");
        assert_eq!(
            rows(&form),
            vec![
                Row {
                    start: "a".into(),
                    end: "b".into()
                },
                Row {
                    start: "c d".into(),
                    end: "<x>".into()
                },
            ]
        );
    }

    #[test]
    fn rows_become_intervals_in_the_viewers_zone() {
        let rome = Zone::named("Europe/Rome").unwrap();
        let rows = vec![
            Row {
                start: "2026-01-15T10:00".into(),
                end: "2026-01-15T12:00".into(),
            },
            Row::default(),
            Row {
                start: " ".into(),
                end: "".into(),
            },
            Row {
                start: "2026-01-15T11:00".into(),
                end: "2026-01-15T13:00".into(),
            },
        ];
        let a = parse_rows(&rome, &rows).unwrap();
        let utc = |t| convene_events::zone::parse_rfc3339(t).unwrap();
        assert_eq!(
            a.as_slice(),
            &[Interval::new(utc("2026-01-15T09:00:00Z"), utc("2026-01-15T12:00:00Z")).unwrap()]
        );
        assert!(parse_rows(&rome, &[Row::default()]).unwrap().is_empty());
    }

    #[test]
    fn bad_rows_are_named() {
        let utc = Zone::utc();
        let row = |s: &str, e: &str| Row {
            start: s.into(),
            end: e.into(),
        };
        let err = |rows: &[Row]| parse_rows(&utc, rows).unwrap_err();
        assert_eq!(
            err(&[Row::default(), row("2026-01-15T10:00", "2026-01-15T10:00")]),
            "interval 2: each interval must end after it starts"
        );
        assert_eq!(
            err(&[row("2026-01-15T10:00", "2026-01-15T09:00")]),
            "interval 1: each interval must end after it starts"
        );
        assert_eq!(
            err(&[row("2026-01-15T10:00", "")]),
            "interval 1: give both a start and an end"
        );
        assert!(err(&[row("tomorrow", "2026-01-15T10:00")]).contains("\"tomorrow\" is not a date"));
    }

    #[test]
    fn add_interval_keeps_rows_and_adds_one() {
        let typed = vec![Row {
            start: "x".into(),
            end: "".into(),
        }];
        let shown = rows_plus_one(typed.clone());
        assert_eq!(shown.len(), 2);
        assert_eq!(shown[0], typed[0]);
        assert_eq!(
            rows_plus_one(vec![Row::default(); MAX_ROWS]).len(),
            MAX_ROWS
        );
    }

    #[test]
    fn participants_split_on_commas_spaces_and_lines() {
        assert_eq!(
            participants(" bob, carol\ndave\r\n\teve,,bob ;frank"),
            ["bob", "carol", "dave", "eve", "frank"]
        );
        assert!(participants(" , \n").is_empty());
    }

    #[test]
    fn a_megabyte_of_names_is_split_in_one_pass() {
        let typed: String = (0..200_000).map(|i| format!("u{i} u{i},")).collect();
        let names = participants(&typed);
        assert_eq!(names.len(), 200_000);
        assert_eq!(names[199_999], "u199999");
    }
}
