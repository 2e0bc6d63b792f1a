//! Times as pages show them: in the viewer's zone, with the zone's
//! abbreviation, and how far away a deadline is.

use convene_events::interval::{Availability, Interval};
use convene_events::zone::Zone;

/// An interval in the viewer's zone. On one day the date is written once:
/// `Tue 10 Feb 2026, 15:00 – 16:30 (CET)`; across days both ends are whole:
/// `Tue 10 Feb 2026, 22:00 (CET) – Wed 11 Feb 2026, 01:00 (CET)`.
pub fn interval(zone: &Zone, interval: &Interval) -> String {
    let start = zone.display(interval.start());
    let end = zone.display(interval.end());
    // `display` writes "<date>, <time> (<abbreviation>)".
    match (start.split_once(", "), end.split_once(", ")) {
        (Some((start_day, start_time)), Some((end_day, end_time))) if start_day == end_day => {
            let start_clock = start_time.split(' ').next().unwrap_or(start_time);
            format!("{start_day}, {start_clock} – {end_time}")
        }
        _ => format!("{start} – {end}"),
    }
}

/// Every interval of a result, one string each.
pub fn intervals(zone: &Zone, availability: &Availability) -> Vec<String> {
    availability
        .as_slice()
        .iter()
        .map(|i| interval(zone, i))
        .collect()
}

/// How far `then` is from `now`, roughly: `in 3 h 20 min`, `in 2 days 4 h`,
/// `5 min ago`, `now`.
pub fn relative(now: i64, then: i64) -> String {
    let delta = then - now;
    let span = delta.unsigned_abs();
    if span < 60 {
        return if delta >= 0 {
            "in less than a minute".into()
        } else {
            "just now".into()
        };
    }
    let (days, hours, minutes) = (span / 86_400, span % 86_400 / 3_600, span % 3_600 / 60);
    let text = if days > 0 {
        let unit = if days == 1 { "day" } else { "days" };
        if hours > 0 {
            format!("{days} {unit} {hours} h")
        } else {
            format!("{days} {unit}")
        }
    } else if hours > 0 {
        if minutes > 0 {
            format!("{hours} h {minutes} min")
        } else {
            format!("{hours} h")
        }
    } else {
        format!("{minutes} min")
    };
    if delta >= 0 {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_events::zone::parse_rfc3339;

    fn iv(a: &str, b: &str) -> Interval {
        Interval::new(parse_rfc3339(a).unwrap(), parse_rfc3339(b).unwrap()).unwrap()
    }

    #[test]
    fn intervals_in_the_viewers_zone() {
        let rome = Zone::named("Europe/Rome").unwrap();
        assert_eq!(
            interval(&rome, &iv("2026-02-10T14:00:00Z", "2026-02-10T15:30:00Z")),
            "Tue 10 Feb 2026, 15:00 – 16:30 (CET)"
        );
        assert_eq!(
            interval(&rome, &iv("2026-02-10T21:00:00Z", "2026-02-11T00:00:00Z")),
            "Tue 10 Feb 2026, 22:00 (CET) – Wed 11 Feb 2026, 01:00 (CET)"
        );
        // Across the spring change the end shows its own abbreviation.
        assert_eq!(
            interval(&rome, &iv("2026-03-29T00:00:00Z", "2026-03-29T03:00:00Z")),
            "Sun 29 Mar 2026, 01:00 – 05:00 (CEST)"
        );
        let ny = Zone::named("America/New_York").unwrap();
        let a = Availability::from_iter([iv("2026-02-10T15:00:00Z", "2026-02-10T16:30:00Z")]);
        assert_eq!(intervals(&ny, &a), ["Tue 10 Feb 2026, 10:00 – 11:30 (EST)"]);
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = 1_000_000;
        assert_eq!(relative(now, now + 3 * 3600 + 20 * 60 + 5), "in 3 h 20 min");
        assert_eq!(relative(now, now + 2 * 86_400 + 4 * 3600), "in 2 days 4 h");
        assert_eq!(relative(now, now + 86_400), "in 1 day");
        assert_eq!(relative(now, now + 3600), "in 1 h");
        assert_eq!(relative(now, now + 30), "in less than a minute");
        assert_eq!(relative(now, now - 5 * 60), "5 min ago");
        assert_eq!(relative(now, now - 10), "just now");
    }
}
