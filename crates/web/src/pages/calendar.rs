//! A final event as an iCalendar file (RFC 5545), for a person's own
//! calendar: one `VEVENT` per interval of the result, in UTC, so every
//! calendar program shows it in its own user's zone.
//!
//! Text values are escaped (backslash, semicolon, comma, new line) and
//! lines folded at 75 octets, never inside a UTF-8 character, as the RFC
//! asks; lines end in CRLF.

use convene_events::db::{Event, EventState};

/// The event's result as a calendar, or `None` if it has none yet (open)
/// or it is empty (no common time: nothing to put in a calendar).
pub fn ics(event: &Event, host: &str, now: i64) -> Option<String> {
    if event.state != EventState::Final {
        return None;
    }
    let result = event.result.as_ref().filter(|r| !r.is_empty())?;
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".to_string(),
        "PRODID:-//Convene//Events//EN".to_string(),
        "CALSCALE:GREGORIAN".to_string(),
        "METHOD:PUBLISH".to_string(),
    ];
    let attendees: Vec<&str> = event.participants.iter().map(|p| p.name.as_str()).collect();
    let description = if event.description.is_empty() {
        format!("Participants: {}", attendees.join(", "))
    } else {
        format!(
            "{}\nParticipants: {}",
            event.description,
            attendees.join(", ")
        )
    };
    for (i, interval) in result.iter().enumerate() {
        lines.push("BEGIN:VEVENT".into());
        lines.push(format!("UID:{}-{}@{}", event.id, i + 1, escape(host)));
        lines.push(format!("DTSTAMP:{}", utc(now)));
        lines.push(format!("DTSTART:{}", utc(interval.start())));
        lines.push(format!("DTEND:{}", utc(interval.end())));
        lines.push(format!("SUMMARY:{}", escape(&event.name)));
        lines.push(format!("DESCRIPTION:{}", escape(&description)));
        lines.push(format!(
            "ORGANIZER;CN={}:invalid:nomail",
            param(&event.creator)
        ));
        lines.push("END:VEVENT".into());
    }
    lines.push("END:VCALENDAR".into());
    Some(lines.iter().map(|l| fold(l)).collect())
}

/// Unix seconds as an iCalendar UTC date-time, `20261207T090000Z`.
fn utc(seconds: i64) -> String {
    jiff::Timestamp::from_second(seconds)
        .map(|t| t.strftime("%Y%m%dT%H%M%SZ").to_string())
        .unwrap_or_else(|_| "19700101T000000Z".into())
}

/// A TEXT value: `\`, `;`, `,` escaped, new lines as `\n`, other control
/// characters dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted, with the characters a quoted value cannot
/// hold (`"` and controls) dropped.
fn param(text: &str) -> String {
    let kept: String = text
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    format!("\"{kept}\"")
}

/// One content line folded at 75 octets (a CRLF and a space before each
/// continuation), never splitting a character; ends in CRLF.
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_events::db::Participant;
    use convene_events::interval::{Availability, Interval};

    fn event(state: EventState, result: Option<Availability>) -> Event {
        Event {
            id: "abcdefghjk".into(),
            name: "Retro; plans, \\ more".into(),
            description: "Line one\nline two".into(),
            creator: "al\"ice".into(),
            deadline: 0,
            leader: "A".into(),
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
                    answered: true,
                },
            ],
        }
    }

    fn at(text: &str) -> i64 {
        convene_events::zone::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_final_result_is_one_event_per_interval_in_utc() {
        let result = Availability::normalize(vec![
            Interval::new(at("2026-12-07T09:00:00Z"), at("2026-12-07T10:30:00Z")).unwrap(),
            Interval::new(at("2026-12-08T14:00:00Z"), at("2026-12-08T15:00:00Z")).unwrap(),
        ]);
        let text = ics(&event(EventState::Final, Some(result)), "convene", 0).unwrap();
        assert!(text.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(text.ends_with("END:VCALENDAR\r\n"));
        assert_eq!(text.matches("BEGIN:VEVENT").count(), 2);
        assert!(text.contains("DTSTART:20261207T090000Z\r\nDTEND:20261207T103000Z\r\n"));
        assert!(text.contains("UID:abcdefghjk-2@convene\r\n"));
        assert!(text.contains("SUMMARY:Retro\\; plans\\, \\\\ more\r\n"));
        assert!(text.contains("DESCRIPTION:Line one\\nline two\\nParticipants: alice\\, bob"));
        assert!(text.contains("ORGANIZER;CN=\"alice\":invalid:nomail"));
        assert!(
            !text.replace("\r\n", "").contains('\n'),
            "only CRLF line ends"
        );
    }

    #[test]
    fn no_calendar_before_the_result_or_without_common_time() {
        assert!(ics(&event(EventState::Open, None), "h", 0).is_none());
        assert!(ics(&event(EventState::Final, Some(Availability::new())), "h", 0).is_none());
    }

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let line = format!("SUMMARY:{}", "é".repeat(60));
        let folded = fold(&line);
        for part in folded.trim_end_matches("\r\n").split("\r\n") {
            assert!(part.len() <= 75, "{} octets", part.len());
        }
        let unfolded = folded.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line);
    }
}
