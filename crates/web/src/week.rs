//! Times in the booking seed's week as the web app writes them:
//! `Mon:10:00` (day, hour, minute), as `POST /api/bookings` takes them and
//! every booking answer gives them. `Mon 10:00` is taken too.

use convene_time::WeekTime;

/// The days as the seed names them, 0 (Monday) to 6 (Sunday).
pub const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// `time` as `Mon:10:00` (`Mon:24:00` for the end of Monday).
pub fn format(time: WeekTime) -> String {
    format!(
        "{}:{:02}:{:02}",
        DAYS[usize::from(time.day()).min(6)],
        time.hour(),
        time.minute()
    )
}

/// The time written `Mon:10:00` (or `Mon 10:00`; the day in any case),
/// or a sentence saying what is wrong with it.
pub fn parse(text: &str) -> Result<WeekTime, String> {
    let problem = || format!("{text:?} is not a time of the week like \"Mon:10:00\"");
    let text = text.trim();
    let (day, clock) = match (text.get(..3), text.get(3..4), text.get(4..)) {
        (Some(day), Some(":" | " "), Some(clock)) => (day, clock),
        _ => return Err(problem()),
    };
    let day = day_number(day).ok_or_else(problem)?;
    let (hour, minute) = clock.split_once(':').ok_or_else(problem)?;
    let number = |s: &str| {
        (matches!(s.len(), 1 | 2) && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u8>().ok())
            .flatten()
    };
    let hour = number(hour).ok_or_else(problem)?;
    let minute = (minute.len() == 2)
        .then(|| number(minute))
        .flatten()
        .ok_or_else(problem)?;
    WeekTime::new(day, hour, minute).map_err(|e| format!("{text:?}: {e}"))
}

/// The day named `name` (`Mon`, `monday`, or `0` to `6`).
pub fn day_number(name: &str) -> Option<u8> {
    let name = name.trim();
    if let Ok(n) = name.parse::<u8>() {
        return (n < 7).then_some(n);
    }
    let lower = name.to_ascii_lowercase();
    DAYS.iter()
        .position(|d| {
            let d = d.to_ascii_lowercase();
            lower == d || (lower.len() > 3 && lower.starts_with(&d) && lower.ends_with("day"))
        })
        .map(|i| i as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_seeds_week() {
        let t = parse("Mon:10:00").unwrap();
        assert_eq!((t.day(), t.hour(), t.minute()), (0, 10, 0));
        assert_eq!(format(t), "Mon:10:00");
        assert_eq!(format(parse("sun 24:00").unwrap()), "Sun:24:00");
        assert_eq!(format(parse("Wed:9:05").unwrap()), "Wed:09:05");
        assert_eq!(day_number("Tuesday"), Some(1));
        assert_eq!(day_number("6"), Some(6));
    }

    #[test]
    fn refuses_what_is_not_a_time_of_the_week() {
        for bad in [
            "",
            "Mon",
            "Mon:10",
            "Xyz:10:00",
            "Mon:25:00",
            "Mon:10:60",
            "Mon:24:30",
            "Mon:10:0",
            "Mon-10:00",
            "Mon:+1:00",
        ] {
            assert!(parse(bad).is_err(), "{bad} was taken");
        }
        assert_eq!(day_number("7"), None);
        assert_eq!(day_number("Mo"), None);
    }
}
