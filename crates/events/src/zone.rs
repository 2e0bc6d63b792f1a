//! Where time zones meet the UTC instants the service works in.
//!
//! People type and read wall-clock times in their own zone (an HTML
//! `datetime-local` field gives `2026-03-29T02:30`, with no zone); the JSON
//! API speaks RFC 3339 instants (`2026-03-29T00:30:00Z`, or with an offset).
//! Everything stored or compared is Unix seconds in UTC. The zone database is
//! compiled in (jiff's bundled copy of the IANA database), so a node gives the
//! same answers whatever its machine's `/usr/share/zoneinfo` holds.
//!
//! Wall-clock times that do not exist (the hour skipped when clocks go
//! forward) or happen twice (the hour repeated when they go back) are
//! resolved the way calendars usually do, jiff's "compatible" rule: a skipped
//! time moves forward by the gap, a repeated time takes its first occurrence.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

/// Why a time or zone was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ZoneError {
    /// The zone name is not in the IANA database.
    #[error("unknown time zone {0:?} (use an IANA name such as Europe/Rome or UTC)")]
    UnknownZone(String),
    /// Not an RFC 3339 instant.
    #[error("{0:?} is not an RFC 3339 time such as 2026-03-01T10:00:00Z")]
    NotRfc3339(String),
    /// Not a wall-clock date and time.
    #[error("{0:?} is not a date and time such as 2026-03-01T10:00")]
    NotLocal(String),
    /// Outside the years the service accepts.
    #[error("{0:?} is outside the years 1970 to 9999")]
    OutOfRange(String),
}

/// A viewer's time zone, looked up once.
#[derive(Clone, Debug)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

/// Latest instant accepted: the last second of 9999 (as jiff allows).
const LAST: i64 = 253_402_207_199;

impl Zone {
    /// The zone with this IANA name, in any letter case; [`name`] gives
    /// it as the database spells it (`europe/rome` is `Europe/Rome`).
    ///
    /// [`name`]: Zone::name
    pub fn named(name: &str) -> Result<Zone, ZoneError> {
        let name = name.trim();
        let tz = TimeZone::get(name).map_err(|_| ZoneError::UnknownZone(name.to_string()))?;
        Ok(Zone {
            name: tz.iana_name().unwrap_or(name).to_string(),
            tz,
        })
    }

    /// UTC.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_string(),
            tz: TimeZone::UTC,
        }
    }

    /// The zone's IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads a wall-clock time in this zone (`2026-03-01T10:00`, seconds
    /// optional, a space allowed instead of the `T`) as Unix seconds.
    pub fn parse_local(&self, text: &str) -> Result<i64, ZoneError> {
        let trimmed = text.trim();
        let civil: DateTime = trimmed
            .replacen(' ', "T", 1)
            .parse()
            .map_err(|_| ZoneError::NotLocal(trimmed.to_string()))?;
        let zoned = civil
            .to_zoned(self.tz.clone())
            .map_err(|_| ZoneError::OutOfRange(trimmed.to_string()))?;
        in_range(zoned.timestamp().as_second(), trimmed)
    }

    /// Unix seconds as this zone's wall clock, for a `datetime-local` field
    /// (`2026-03-01T10:00`).
    pub fn to_local_input(&self, seconds: i64) -> String {
        self.zoned(seconds)
            .map(|z| z.strftime("%Y-%m-%dT%H:%M").to_string())
            .unwrap_or_default()
    }

    /// Unix seconds as a person reads them in this zone:
    /// `Sun 1 Mar 2026, 10:00 (CET)`.
    pub fn display(&self, seconds: i64) -> String {
        self.zoned(seconds)
            .map(|z| z.strftime("%a %-d %b %Y, %H:%M (%Z)").to_string())
            .unwrap_or_else(|| format!("{seconds} s"))
    }

    fn zoned(&self, seconds: i64) -> Option<Zoned> {
        Timestamp::from_second(seconds)
            .ok()
            .map(|t| t.to_zoned(self.tz.clone()))
    }
}

/// Reads an RFC 3339 instant (`Z` or an explicit offset required) as Unix
/// seconds. Fractions of a second are dropped.
pub fn parse_rfc3339(text: &str) -> Result<i64, ZoneError> {
    let trimmed = text.trim();
    let instant: Timestamp = trimmed
        .parse()
        .map_err(|_| ZoneError::NotRfc3339(trimmed.to_string()))?;
    in_range(instant.as_second(), trimmed)
}

/// Unix seconds as RFC 3339 in UTC: `2026-03-01T09:00:00Z`.
pub fn format_rfc3339(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|t| t.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}

/// Now, in Unix seconds (UTC): the clock every deadline is compared with.
pub fn now_seconds() -> i64 {
    Timestamp::now().as_second()
}

/// Every zone name the database knows, sorted (for a form's suggestions).
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db().available().map(|n| n.to_string()).collect();
    names.sort();
    names
}

fn in_range(seconds: i64, text: &str) -> Result<i64, ZoneError> {
    if (0..=LAST).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(ZoneError::OutOfRange(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interval::{Availability, Interval};

    fn utc(text: &str) -> i64 {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn wall_clock_times_become_utc_instants() {
        let rome = Zone::named("Europe/Rome").unwrap();
        // Winter: UTC+1. Summer: UTC+2.
        assert_eq!(
            rome.parse_local("2026-01-15T10:00").unwrap(),
            utc("2026-01-15T09:00:00Z")
        );
        assert_eq!(
            rome.parse_local("2026-07-15 10:00").unwrap(),
            utc("2026-07-15T08:00:00Z")
        );
        let tokyo = Zone::named("Asia/Tokyo").unwrap();
        assert_eq!(
            tokyo.parse_local("2026-01-15T10:00:30").unwrap(),
            utc("2026-01-15T01:00:30Z")
        );
    }

    #[test]
    fn skipped_and_repeated_hours_follow_the_compatible_rule() {
        let rome = Zone::named("Europe/Rome").unwrap();
        // 2026-03-29 02:30 does not exist in Rome: moves forward by the hour.
        assert_eq!(
            rome.parse_local("2026-03-29T02:30").unwrap(),
            utc("2026-03-29T01:30:00Z")
        );
        // 2026-10-25 02:30 happens twice: the first (still summer time, UTC+2).
        assert_eq!(
            rome.parse_local("2026-10-25T02:30").unwrap(),
            utc("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn people_in_different_zones_find_the_same_common_hour() {
        // Rome is free 15:00-18:00, New York 10:00-11:30, on a winter day.
        let rome = Zone::named("Europe/Rome").unwrap();
        let ny = Zone::named("America/New_York").unwrap();
        let a = Availability::from_iter([Interval::new(
            rome.parse_local("2026-02-10T15:00").unwrap(),
            rome.parse_local("2026-02-10T18:00").unwrap(),
        )
        .unwrap()]);
        let b = Availability::from_iter([Interval::new(
            ny.parse_local("2026-02-10T10:00").unwrap(),
            ny.parse_local("2026-02-10T11:30").unwrap(),
        )
        .unwrap()]);
        let common = a.intersect(&b);
        let only = common.as_slice()[0];
        assert_eq!(format_rfc3339(only.start()), "2026-02-10T15:00:00Z");
        assert_eq!(format_rfc3339(only.end()), "2026-02-10T16:30:00Z");
        // Each sees it on their own clock.
        assert_eq!(rome.to_local_input(only.start()), "2026-02-10T16:00");
        assert_eq!(ny.to_local_input(only.start()), "2026-02-10T10:00");
        assert_eq!(ny.display(only.end()), "Tue 10 Feb 2026, 11:30 (EST)");
    }

    #[test]
    fn rfc3339_needs_an_offset_and_a_sane_year() {
        assert_eq!(
            utc("2026-03-01T10:00:00+01:00"),
            utc("2026-03-01T09:00:00Z")
        );
        assert!(matches!(
            parse_rfc3339("2026-03-01T10:00:00"),
            Err(ZoneError::NotRfc3339(_))
        ));
        assert!(matches!(
            parse_rfc3339("yesterday"),
            Err(ZoneError::NotRfc3339(_))
        ));
        assert!(matches!(
            parse_rfc3339("1969-12-31T23:00:00Z"),
            Err(ZoneError::OutOfRange(_))
        ));
        assert_eq!(
            format_rfc3339(utc("2026-03-01T09:00:00Z")),
            "2026-03-01T09:00:00Z"
        );
    }

    #[test]
    fn unknown_zones_and_bad_wall_clocks_are_refused() {
        assert!(matches!(
            Zone::named("Mars/Olympus"),
            Err(ZoneError::UnknownZone(_))
        ));
        let utc_zone = Zone::utc();
        assert!(matches!(
            utc_zone.parse_local("2026-02-30T10:00"),
            Err(ZoneError::NotLocal(_))
        ));
        assert!(matches!(
            utc_zone.parse_local(""),
            Err(ZoneError::NotLocal(_))
        ));
        assert!(zone_names().iter().any(|n| n == "Europe/Rome"));
    }
}
