//! The booking seed's clock: a moment in one repeating week, as day, hour and minute.
//!
//! The booking seed never deals in dates. Its facilities are booked within a single week,
//! Monday 00:00 to Sunday 24:00, and every time on its wire is three bytes: a day (0 for
//! Monday to 6 for Sunday), an hour and a minute. Internally it compares times as minutes
//! since Monday 00:00, which is what [`WeekTime::minutes`] returns, so the week is the
//! range `0..=10080` ([`MINUTES_PER_WEEK`]) and a booking is an
//! [`Interval`](crate::Interval) of those minutes.
//!
//! # Two spellings of midnight
//!
//! The seed writes the end of a day as `(day, 24, 0)`: a day's last free slot is
//! `00:00 - 24:00` or `11:00 - 24:00`, never `- 00:00` of the next day. So `(0, 24, 0)`
//! ("Mon 24:00") and `(1, 0, 0)` ("Tue 00:00") are both valid [`WeekTime`]s, with the same
//! [`minutes`](WeekTime::minutes) but different bytes on the wire. They are kept apart
//! (they are not `==`) because a reply must re-encode exactly the bytes it decoded, and
//! the seed's client prints them differently.
//!
//! Converting minutes back to a time has to pick one spelling. [`WeekTime::from_minutes`]
//! picks the seed's: the day is `minutes / 1440`, so 1440 is Tuesday 00:00, except for the
//! very end of the week, 10080, which has no day 7 to fall into and becomes Sunday 24:00.
//! [`WeekTime::end_of_day`] gives the other spelling when a day's end is what is meant.
//!
//! ```
//! use convene_time::WeekTime;
//!
//! let t = WeekTime::new(0, 10, 30)?;
//! assert_eq!(t.minutes(), 630);
//! assert_eq!(t.to_string(), "Mon 10:30");
//!
//! let monday_end = WeekTime::end_of_day(0).unwrap();
//! assert_eq!(monday_end.to_string(), "Mon 24:00");
//! assert_eq!(monday_end.minutes(), 1440);
//! assert_eq!(WeekTime::from_minutes(1440).unwrap().to_string(), "Tue 00:00");
//! assert_eq!(WeekTime::from_minutes(10080).unwrap().to_string(), "Sun 24:00");
//! # Ok::<(), convene_time::WeekTimeError>(())
//! ```

use std::cmp::Ordering;
use std::error::Error;
use std::fmt;

/// Days of the week, numbered as the seed does: `0` is Monday, `6` is Sunday.
pub const DAYS_PER_WEEK: u8 = 7;

/// Minutes in one day, 24 × 60: day `d` is the minutes
/// `[d * MINUTES_PER_DAY, (d + 1) * MINUTES_PER_DAY)`.
pub const MINUTES_PER_DAY: u32 = 24 * 60;

/// Minutes in the booking week, 7 × 1440 = 10080: the largest value
/// [`WeekTime::minutes`] can return (Sunday 24:00), and the latest a booking
/// may end.
pub const MINUTES_PER_WEEK: u32 = DAYS_PER_WEEK as u32 * MINUTES_PER_DAY;

/// The seed's three-letter day names, as its server prints them ("Mon 10:30").
const DAY_ABBREVIATIONS: [&str; DAYS_PER_WEEK as usize] =
    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A moment in the booking week: day 0 (Mon) ..= 6 (Sun), hour, minute.
///
/// Hour 24 with minute 0 means the end of that day (the seed encodes a day's last free
/// slot as ending at `(day, 24, 0)`). Every other value has hour 0-23 and minute 0-59.
/// The fields are private so that no out-of-range time exists: a [`WeekTime`] is made by
/// [`new`](WeekTime::new), which checks, or by [`from_minutes`](WeekTime::from_minutes) /
/// [`end_of_day`](WeekTime::end_of_day), which cannot produce a bad one.
///
/// # Equality and order
///
/// Equality compares the three fields, so `Mon 24:00 != Tue 00:00` (see the
/// [module docs](self) for why). Order is by [`minutes`](WeekTime::minutes) first, so it
/// agrees with the seed's comparisons; the two spellings of the same instant, which
/// `minutes` cannot tell apart, are then ordered by day (`Mon 24:00 < Tue 00:00`), which
/// keeps [`Ord`] consistent with [`Eq`] as sorted collections require.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WeekTime {
    day: u8,
    hour: u8,
    minute: u8,
}

impl WeekTime {
    /// Checks and builds a time.
    ///
    /// `day` must be 0-6; `hour` 0-23 with `minute` 0-59, or `hour` 24 with `minute` 0 (the
    /// end of the day). The error names the first field that is out of range, checked in
    /// the order day, hour, minute.
    ///
    /// ```
    /// use convene_time::{WeekTime, WeekTimeError};
    ///
    /// assert!(WeekTime::new(6, 23, 59).is_ok());
    /// assert!(WeekTime::new(6, 24, 0).is_ok());
    /// assert_eq!(WeekTime::new(7, 0, 0), Err(WeekTimeError::Day(7)));
    /// assert_eq!(WeekTime::new(0, 25, 0), Err(WeekTimeError::Hour(25)));
    /// assert_eq!(WeekTime::new(0, 10, 60), Err(WeekTimeError::Minute(60)));
    /// // 24:00 is the only time in hour 24.
    /// assert_eq!(WeekTime::new(0, 24, 1), Err(WeekTimeError::Minute(1)));
    /// ```
    pub fn new(day: u8, hour: u8, minute: u8) -> Result<Self, WeekTimeError> {
        if day >= DAYS_PER_WEEK {
            return Err(WeekTimeError::Day(day));
        }
        if hour > 24 {
            return Err(WeekTimeError::Hour(hour));
        }
        let minute_ok = if hour == 24 {
            minute == 0
        } else {
            minute <= 59
        };
        if !minute_ok {
            return Err(WeekTimeError::Minute(minute));
        }
        Ok(WeekTime { day, hour, minute })
    }

    /// The day: 0 for Monday to 6 for Sunday.
    pub fn day(&self) -> u8 {
        self.day
    }

    /// The hour: 0-23, or 24 for the end of the day (then the minute is 0).
    pub fn hour(&self) -> u8 {
        self.hour
    }

    /// The minute: 0-59.
    pub fn minute(&self) -> u8 {
        self.minute
    }

    /// Minutes since Monday 00:00, `0..=10080`: the seed's internal time.
    pub fn minutes(&self) -> u32 {
        u32::from(self.day) * MINUTES_PER_DAY + u32::from(self.hour) * 60 + u32::from(self.minute)
    }

    /// The time `minutes` after Monday 00:00, or `None` past the end of the week
    /// (over [`MINUTES_PER_WEEK`]).
    ///
    /// Where one instant has two spellings, this returns the seed's: the start of the next
    /// day (1440 is Tuesday 00:00), except the end of the week, which is Sunday 24:00.
    /// So `from_minutes(t.minutes())` gives back `t` for every `t` except the end of
    /// Monday to Saturday, which come back as 00:00 of the next day.
    pub fn from_minutes(minutes: u32) -> Option<Self> {
        if minutes == MINUTES_PER_WEEK {
            return Some(WeekTime {
                day: 6,
                hour: 24,
                minute: 0,
            });
        }
        if minutes > MINUTES_PER_WEEK {
            return None;
        }
        // All three quotients fit in a u8: day < 7, hour < 24, minute < 60.
        let day = (minutes / MINUTES_PER_DAY) as u8;
        let in_day = minutes % MINUTES_PER_DAY;
        Some(WeekTime {
            day,
            hour: (in_day / 60) as u8,
            minute: (in_day % 60) as u8,
        })
    }

    /// The end of `day`, written `(day, 24, 0)` as the seed writes a day's last slot;
    /// `None` if `day` is over 6.
    pub fn end_of_day(day: u8) -> Option<Self> {
        WeekTime::new(day, 24, 0).ok()
    }
}

impl Ord for WeekTime {
    fn cmp(&self, other: &Self) -> Ordering {
        self.minutes()
            .cmp(&other.minutes())
            .then(self.day.cmp(&other.day))
    }
}

impl PartialOrd for WeekTime {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The seed's format: three-letter day, then zero-padded `hh:mm`, e.g. `Mon 10:30` or
/// `Mon 24:00`. The seed puts this in its replies ("Booking extended to Mon 12:00"), so
/// the spelling is part of the protocol, not just a log nicety.
impl fmt::Display for WeekTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `day <= 6` is an invariant of the type, but a display impl is no place to panic.
        let day = DAY_ABBREVIATIONS
            .get(usize::from(self.day))
            .copied()
            .unwrap_or("???");
        write!(f, "{day} {:02}:{:02}", self.hour, self.minute)
    }
}

/// Why three numbers are not a [`WeekTime`]. Each variant carries the offending value, so
/// the message can say what was wrong without the caller re-stating its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WeekTimeError {
    /// The day is over 6.
    Day(u8),
    /// The hour is over 24.
    Hour(u8),
    /// The minute is over 59, or the hour is 24 and the minute is not 0.
    Minute(u8),
}

impl fmt::Display for WeekTimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            WeekTimeError::Day(day) => write!(f, "day {day} is not 0 (Mon) to 6 (Sun)"),
            WeekTimeError::Hour(hour) => {
                write!(f, "hour {hour} is not 0-23 (or 24:00 for the end of a day)")
            }
            WeekTimeError::Minute(minute) => {
                write!(f, "minute {minute} is not 0-59 (or 0 at 24:00)")
            }
        }
    }
}

impl Error for WeekTimeError {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(day: u8, hour: u8, minute: u8) -> WeekTime {
        WeekTime::new(day, hour, minute).unwrap()
    }

    #[test]
    fn the_week_has_the_seeds_numbers() {
        // The booking service and its store count in these; written once, here.
        assert_eq!(
            (DAYS_PER_WEEK, MINUTES_PER_DAY, MINUTES_PER_WEEK),
            (7, 1440, 10080)
        );
        assert_eq!(
            WeekTime::end_of_day(DAYS_PER_WEEK - 1).unwrap().minutes(),
            MINUTES_PER_WEEK
        );
        assert_eq!(WeekTime::end_of_day(DAYS_PER_WEEK), None);
    }

    #[test]
    fn accepts_the_whole_week_and_nothing_else() {
        assert_eq!(t(0, 0, 0).minutes(), 0);
        assert_eq!(t(6, 23, 59).minutes(), MINUTES_PER_WEEK - 1);
        assert_eq!(t(6, 24, 0).minutes(), MINUTES_PER_WEEK);
        assert_eq!(WeekTime::new(7, 0, 0), Err(WeekTimeError::Day(7)));
        assert_eq!(WeekTime::new(255, 99, 99), Err(WeekTimeError::Day(255)));
        assert_eq!(WeekTime::new(0, 25, 0), Err(WeekTimeError::Hour(25)));
        assert_eq!(WeekTime::new(0, 23, 60), Err(WeekTimeError::Minute(60)));
        assert_eq!(WeekTime::new(0, 24, 30), Err(WeekTimeError::Minute(30)));
    }

    #[test]
    fn from_minutes_uses_the_seeds_spelling() {
        assert_eq!(WeekTime::from_minutes(0), Some(t(0, 0, 0)));
        assert_eq!(WeekTime::from_minutes(630), Some(t(0, 10, 30)));
        assert_eq!(WeekTime::from_minutes(1439), Some(t(0, 23, 59)));
        assert_eq!(WeekTime::from_minutes(1440), Some(t(1, 0, 0)));
        assert_eq!(WeekTime::from_minutes(10079), Some(t(6, 23, 59)));
        assert_eq!(WeekTime::from_minutes(10080), Some(t(6, 24, 0)));
        assert_eq!(WeekTime::from_minutes(10081), None);
        assert_eq!(WeekTime::from_minutes(u32::MAX), None);
    }

    #[test]
    fn end_of_day_is_hour_24() {
        assert_eq!(WeekTime::end_of_day(0), Some(t(0, 24, 0)));
        assert_eq!(WeekTime::end_of_day(6), Some(t(6, 24, 0)));
        assert_eq!(WeekTime::end_of_day(7), None);
    }

    #[test]
    fn two_spellings_of_midnight_are_distinct_but_ordered() {
        let monday_end = t(0, 24, 0);
        let tuesday_start = t(1, 0, 0);
        assert_eq!(monday_end.minutes(), tuesday_start.minutes());
        assert_ne!(monday_end, tuesday_start);
        assert!(monday_end < tuesday_start);
        assert!(t(0, 23, 59) < monday_end);
        assert!(tuesday_start < t(1, 0, 1));
    }

    #[test]
    fn displays_like_the_seed() {
        assert_eq!(t(0, 10, 30).to_string(), "Mon 10:30");
        assert_eq!(t(0, 24, 0).to_string(), "Mon 24:00");
        assert_eq!(t(4, 9, 5).to_string(), "Fri 09:05");
        assert_eq!(t(6, 0, 0).to_string(), "Sun 00:00");
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert_eq!(
            WeekTimeError::Day(9).to_string(),
            "day 9 is not 0 (Mon) to 6 (Sun)"
        );
        assert_eq!(
            WeekTimeError::Hour(25).to_string(),
            "hour 25 is not 0-23 (or 24:00 for the end of a day)"
        );
        assert_eq!(
            WeekTimeError::Minute(61).to_string(),
            "minute 61 is not 0-59 (or 0 at 24:00)"
        );
    }

    #[test]
    fn minutes_round_trip_over_the_whole_week() {
        for m in 0..=MINUTES_PER_WEEK {
            let w = WeekTime::from_minutes(m).unwrap();
            assert_eq!(w.minutes(), m);
            // What from_minutes builds passes new's checks.
            assert_eq!(WeekTime::new(w.day(), w.hour(), w.minute()), Ok(w));
        }
    }

    /// Any valid time, including every end of day.
    fn week_time() -> impl Strategy<Value = WeekTime> {
        prop_oneof![
            (0u8..=6, 0u8..=23, 0u8..=59).prop_map(|(d, h, m)| t(d, h, m)),
            (0u8..=6).prop_map(|d| WeekTime::end_of_day(d).unwrap()),
        ]
    }

    proptest! {
        #[test]
        fn ordering_agrees_with_minutes(a in week_time(), b in week_time()) {
            if a.minutes() != b.minutes() {
                prop_assert_eq!(a.cmp(&b), a.minutes().cmp(&b.minutes()));
            }
            prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
        }

        #[test]
        fn minutes_round_trip(m in 0..=MINUTES_PER_WEEK) {
            prop_assert_eq!(WeekTime::from_minutes(m).map(|w| w.minutes()), Some(m));
        }

        #[test]
        fn from_minutes_inverts_minutes_up_to_spelling(w in week_time()) {
            let back = WeekTime::from_minutes(w.minutes()).unwrap();
            prop_assert_eq!(back.minutes(), w.minutes());
            if w.hour() != 24 || w.day() == 6 {
                prop_assert_eq!(back, w);
            }
        }

        #[test]
        fn new_never_panics_and_accepts_exactly_the_valid_range(d: u8, h: u8, m: u8) {
            let valid = d <= 6 && ((h <= 23 && m <= 59) || (h == 24 && m == 0));
            prop_assert_eq!(WeekTime::new(d, h, m).is_ok(), valid);
        }
    }
}
