//! Unix seconds to a UTC calendar date and time, without a date crate.
//!
//! Two places need a date: a conflict copy's name
//! ([`SharedPath::conflict_name`](crate::path::SharedPath::conflict_name),
//! `20240229-134501`) and the listing (`29-Feb`). Both want UTC and nothing
//! else: no time zones, no parsing, no leap seconds (Unix time has none, every
//! day is 86 400 seconds). That is one small algorithm, so it lives here
//! rather than as a dependency.
//!
//! The algorithm is Howard Hinnant's `civil_from_days`
//! (<https://howardhinnant.github.io/date_algorithms.html>). The trick that
//! makes it short: count years from **March 1st**. Then the leap day is the
//! last day of the "year", so the month lengths before it never change, and
//! the proleptic Gregorian calendar repeats exactly every 400 years (146 097
//! days, an "era"). A date is an era, a year of the era, a day of that year,
//! and the month falls out of a linear formula over the day of the year.
//!
//! It is exact for every `i64` of seconds: the days fit easily in `i64`, and
//! years before 1 AD come out as 0, -1, … (astronomical year numbering).

/// Seconds in a day. Unix time has no leap seconds, so this never varies.
const SECONDS_PER_DAY: i64 = 86_400;

/// A moment in UTC, broken into calendar fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Utc {
    /// The year, proleptic Gregorian; 0 is 1 BC.
    pub(crate) year: i64,
    /// 1 to 12.
    pub(crate) month: u8,
    /// 1 to 31.
    pub(crate) day: u8,
    /// 0 to 23.
    pub(crate) hour: u8,
    /// 0 to 59.
    pub(crate) minute: u8,
    /// 0 to 59.
    pub(crate) second: u8,
}

impl Utc {
    /// The UTC date and time of `unix_seconds` (seconds since 1970-01-01 00:00:00 UTC;
    /// negative is before it).
    pub(crate) fn from_unix(unix_seconds: i64) -> Utc {
        // Euclidean division rounds towards minus infinity, so one second before
        // the epoch is day -1 at 23:59:59, not day 0 at -00:00:01.
        let days = unix_seconds.div_euclid(SECONDS_PER_DAY);
        let of_day = unix_seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        // `of_day` is in 0..86_400, so each field below fits its type.
        Utc {
            year,
            month,
            day,
            hour: (of_day / 3600) as u8,
            minute: (of_day / 60 % 60) as u8,
            second: (of_day % 60) as u8,
        }
    }
}

/// The (year, month, day) of `days` since 1970-01-01.
///
/// `days` must be within ±2^62 or so; every caller passes seconds / 86 400,
/// which is within ±2^47.
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    // Shift the epoch to 0000-03-01, the start of an era: 719 468 days
    // before 1970-01-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // 0..=146_096
    // Remove the leap days so far (one every 4 years, none every 100, one
    // every 400) and divide by 365 to get the year of the era.
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // 0..=399
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // 0..=365
    // Months from March: 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31, 28/29.
    // Five months take 153 days, which is what the 153 and 5 encode.
    let march_month = (5 * day_of_year + 2) / 153; // 0..=11, 0 is March
    let day = day_of_year - (153 * march_month + 2) / 5 + 1; // 1..=31
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    }; // 1..=12
    // January and February belong to the March-based year that began the
    // calendar year before.
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utc(year: i64, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Utc {
        Utc {
            year,
            month,
            day,
            hour,
            minute,
            second,
        }
    }

    #[test]
    fn known_moments() {
        // (unix seconds, expected), checked against `date -u -d @N`.
        let table = [
            (0, utc(1970, 1, 1, 0, 0, 0)),
            (-1, utc(1969, 12, 31, 23, 59, 59)),
            (86_399, utc(1970, 1, 1, 23, 59, 59)),
            (86_400, utc(1970, 1, 2, 0, 0, 0)),
            (951_782_400, utc(2000, 2, 29, 0, 0, 0)), // a leap day in a 400-year
            (951_868_800, utc(2000, 3, 1, 0, 0, 0)),
            (946_684_799, utc(1999, 12, 31, 23, 59, 59)),
            (1_000_000_000, utc(2001, 9, 9, 1, 46, 40)),
            (1_234_567_890, utc(2009, 2, 13, 23, 31, 30)),
            (1_709_164_800, utc(2024, 2, 29, 0, 0, 0)),
            (1_724_112_000, utc(2024, 8, 20, 0, 0, 0)), // the handout's 20-Aug
            (2_147_483_647, utc(2038, 1, 19, 3, 14, 7)), // i32's last second
            (2_147_483_648, utc(2038, 1, 19, 3, 14, 8)),
            (4_107_542_400, utc(2100, 3, 1, 0, 0, 0)), // 2100 is not a leap year
            (4_107_456_000, utc(2100, 2, 28, 0, 0, 0)),
            (253_402_300_799, utc(9999, 12, 31, 23, 59, 59)),
            (-62_135_596_800, utc(1, 1, 1, 0, 0, 0)),
            (-62_135_596_801, utc(0, 12, 31, 23, 59, 59)), // 1 BC
            (-2_208_988_800, utc(1900, 1, 1, 0, 0, 0)),
        ];
        for (seconds, expected) in table {
            assert_eq!(Utc::from_unix(seconds), expected, "{seconds}");
        }
    }

    #[test]
    fn the_extremes_do_not_overflow() {
        let max = Utc::from_unix(i64::MAX);
        let min = Utc::from_unix(i64::MIN);
        assert!(max.year > 292_000_000_000);
        assert!(min.year < -292_000_000_000);
        assert!((1..=12).contains(&max.month) && (1..=12).contains(&min.month));
    }

    /// The inverse, written independently (count the days of the years and
    /// months before), to check `civil_from_days` against.
    fn days_from_civil_slowly(year: i64, month: u8, day: u8) -> i64 {
        let leap = |y: i64| y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
        let mut days = 0;
        if year >= 1970 {
            for y in 1970..year {
                days += if leap(y) { 366 } else { 365 };
            }
        } else {
            for y in year..1970 {
                days -= if leap(y) { 366 } else { 365 };
            }
        }
        let lengths = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
        for m in 1..month {
            days += lengths[usize::from(m - 1)];
            if m == 2 && leap(year) {
                days += 1;
            }
        }
        days + i64::from(day) - 1
    }

    proptest! {
        #[test]
        fn agrees_with_counting(days in -800_000i64..800_000) {
            let (year, month, day) = civil_from_days(days);
            prop_assert_eq!(days_from_civil_slowly(year, month, day), days);
        }

        #[test]
        fn fields_stay_in_range(seconds in any::<i64>()) {
            let t = Utc::from_unix(seconds);
            prop_assert!((1..=12).contains(&t.month));
            prop_assert!((1..=31).contains(&t.day));
            prop_assert!(t.hour < 24 && t.minute < 60 && t.second < 60);
        }
    }
}
