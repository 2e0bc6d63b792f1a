//! The availability grid of an open event, to paint as in When2meet and
//! Rallly: a week of days side by side, half-hour cells from morning to
//! evening, in the viewer's time zone.
//!
//! Each cell is a checkbox named `cell` whose value is its start as a wall
//! clock time (`2026-12-07T09:30`), so the grid is a plain form: it works
//! by keyboard and without JavaScript; the page's script only adds painting
//! by dragging ([`crate::scripts::GRID`]). The server reads the checked
//! cells back in the viewer's zone ([`cells_to_availability`]); touching
//! cells merge into one interval, as the events service keeps them.
//!
//! A wall clock time skipped when clocks go forward has no cell (it would
//! read as the next hour); the hour repeated when they go back shows once,
//! as its first occurrence.

use convene_events::interval::{Availability, Interval};
use convene_events::zone::Zone;
use jiff::ToSpan;
use jiff::civil::{Date, DateTime};
use maud::{Markup, html};

/// Days the grid shows at once.
pub const DAYS: i32 = 7;
/// The first hour shown (local time).
pub const FIRST_HOUR: i8 = 7;
/// The hour the last cell ends (local time).
pub const LAST_HOUR: i8 = 22;
/// A cell's length.
pub const CELL_MINUTES: i8 = 30;
/// Most cells one submission may carry: every cell of a week, whatever the
/// hours shown, so a crafted form cannot make the server build a huge set.
pub const MAX_CELLS: usize = (DAYS as usize) * 24 * 60 / CELL_MINUTES as usize;

/// One week of cells, from `first`.
#[derive(Debug)]
pub struct Grid {
    /// The first day shown.
    pub first: Date,
    /// Each day, with its cells in time order.
    pub days: Vec<(Date, Vec<Cell>)>,
}

/// One cell: its form value and what a screen reader says for it.
#[derive(Debug)]
pub struct Cell {
    /// The cell's start as a wall clock time, `2026-12-07T09:30`.
    pub value: String,
    /// `Mon 7 Dec, 09:30 to 10:00`.
    pub label: String,
    /// The time of day, `09:30`, for the row headings.
    pub time: String,
}

/// Today's date in `zone` at Unix second `now`.
pub fn today(zone: &Zone, now: i64) -> Date {
    zone.to_local_input(now)
        .get(..10)
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| Date::constant(2026, 1, 1))
}

/// A `?week=` date, if it is one.
pub fn week_start(text: Option<&str>, fallback: Date) -> Date {
    text.and_then(|t| t.trim().parse::<Date>().ok())
        .unwrap_or(fallback)
}

impl Grid {
    /// The week from `first`, its cells in `zone`.
    pub fn week(zone: &Zone, first: Date) -> Grid {
        let mut days = Vec::new();
        for offset in 0..DAYS {
            let Ok(date) = first.checked_add(offset.days()) else {
                break;
            };
            let mut cells = Vec::new();
            let mut minute = i32::from(FIRST_HOUR) * 60;
            while minute < i32::from(LAST_HOUR) * 60 {
                let (h, m) = ((minute / 60) as i8, (minute % 60) as i8);
                let value = format!("{date}T{h:02}:{m:02}");
                // A skipped wall clock time reads as another one: no cell.
                let exists = zone
                    .parse_local(&value)
                    .map(|s| zone.to_local_input(s) == value)
                    .unwrap_or(false);
                if exists {
                    let end = minute + i32::from(CELL_MINUTES);
                    cells.push(Cell {
                        label: format!(
                            "{}, {h:02}:{m:02} to {:02}:{:02}",
                            date.strftime("%a %-d %b"),
                            end / 60,
                            end % 60
                        ),
                        time: format!("{h:02}:{m:02}"),
                        value,
                    });
                }
                minute += i32::from(CELL_MINUTES);
            }
            days.push((date, cells));
        }
        Grid { first, days }
    }

    /// The grid as a table of checkboxes inside the caller's form, with
    /// links to the weeks before and after (`base?week=`).
    pub fn render(&self, base: &str, zone_name: &str) -> Markup {
        let rows = (i32::from(LAST_HOUR) - i32::from(FIRST_HOUR)) * 60 / i32::from(CELL_MINUTES);
        let earlier = self.first.checked_sub(DAYS.days()).ok();
        let later = self.first.checked_add(DAYS.days()).ok();
        html! {
            fieldset.grid {
                legend {
                    "Paint the times you can make "
                    span.hint { "(" (zone_name) "; press and drag, or tick cells with the keyboard)" }
                }
                p.weeks {
                    @if let Some(d) = earlier { a href={ (base) "?week=" (d) } { "← Earlier week" } }
                    " "
                    @if let Some(d) = later { a href={ (base) "?week=" (d) } { "Later week →" } }
                }
                div.grid-scroll {
                    table.paint data-paint="" {
                        thead {
                            tr {
                                th scope="col" { span.offscreen { "Time" } }
                                @for (date, _) in &self.days {
                                    th scope="col" { (date.strftime("%a %-d %b")) }
                                }
                            }
                        }
                        tbody {
                            @for row in 0..rows {
                                @let minute = i32::from(FIRST_HOUR) * 60 + row * i32::from(CELL_MINUTES);
                                @let time = format!("{:02}:{:02}", minute / 60, minute % 60);
                                tr {
                                    th scope="row" { @if minute % 60 == 0 { (time) } }
                                    @for (_, cells) in &self.days {
                                        @match cells.iter().find(|c| c.time == time) {
                                            Some(cell) => {
                                                @let id = format!("cell-{}", cell.value.replace([':', '-'], ""));
                                                td.cell {
                                                    input type="checkbox" name="cell" value=(cell.value) id=(id);
                                                    label for=(id) aria-label=(cell.label) title=(cell.label) {}
                                                }
                                            }
                                            None => { td.cell.none {} }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The time the checked cells give, read in `zone`: each `value` is a cell
/// start (`2026-12-07T09:30`, on a half hour); touching cells merge. An
/// error names the first value that is not a cell.
pub fn cells_to_availability<'a>(
    zone: &Zone,
    values: impl Iterator<Item = &'a str>,
) -> Result<Availability, String> {
    let mut intervals = Vec::new();
    for (count, value) in values.enumerate() {
        if count >= MAX_CELLS {
            return Err(format!("at most {MAX_CELLS} cells can be sent at once"));
        }
        let not_a_cell = || format!("{value:?} is not a cell of the grid");
        let start: DateTime = value.trim().parse().map_err(|_| not_a_cell())?;
        if start.second() != 0
            || start.subsec_nanosecond() != 0
            || start.minute() % CELL_MINUTES != 0
        {
            return Err(not_a_cell());
        }
        let end = start
            .checked_add(i64::from(CELL_MINUTES).minutes())
            .map_err(|_| not_a_cell())?;
        let text = |t: DateTime| t.strftime("%Y-%m-%dT%H:%M").to_string();
        let from = zone.parse_local(&text(start)).map_err(|e| e.to_string())?;
        let to = zone.parse_local(&text(end)).map_err(|e| e.to_string())?;
        // Around a clock change a cell may read as nothing: skip it.
        if let Ok(interval) = Interval::new(from, to) {
            intervals.push(interval);
        }
    }
    Ok(Availability::normalize(intervals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rome() -> Zone {
        Zone::named("Europe/Rome").unwrap()
    }

    #[test]
    fn a_week_has_seven_days_of_half_hours_in_the_viewers_zone() {
        let grid = Grid::week(&rome(), Date::constant(2026, 12, 7));
        assert_eq!(grid.days.len(), 7);
        let (monday, cells) = &grid.days[0];
        assert_eq!(monday.to_string(), "2026-12-07");
        assert_eq!(cells.len(), 30);
        assert_eq!(cells[0].value, "2026-12-07T07:00");
        assert_eq!(cells[0].label, "Mon 7 Dec, 07:00 to 07:30");
        assert_eq!(cells[29].value, "2026-12-07T21:30");
        let text = grid.render("/events/x", "Europe/Rome").into_string();
        assert!(text.contains("value=\"2026-12-13T21:30\""));
        assert!(text.contains("?week=2026-11-30"));
        assert!(text.contains("?week=2026-12-14"));
        assert!(text.contains("aria-label=\"Sun 13 Dec, 21:30 to 22:00\""));
    }

    #[test]
    fn a_skipped_hour_has_no_cells() {
        // New York springs forward at 02:00 on 8 March 2026: a grid from
        // midnight would lose 02:00 and 02:30; ours starts at 07:00, so
        // check the rule directly on the zone.
        let zone = Zone::named("America/New_York").unwrap();
        let skipped = zone.parse_local("2026-03-08T02:30").unwrap();
        assert_ne!(zone.to_local_input(skipped), "2026-03-08T02:30");
        let grid = Grid::week(&zone, Date::constant(2026, 3, 8));
        assert_eq!(grid.days[0].1.len(), 30);
    }

    #[test]
    fn touching_cells_become_one_interval_in_utc() {
        let zone = rome();
        let values = ["2026-12-07T09:00", "2026-12-07T09:30", "2026-12-07T11:00"];
        let got = cells_to_availability(&zone, values.into_iter()).unwrap();
        let at = |t: &str| convene_events::zone::parse_rfc3339(t).unwrap();
        let want = Availability::normalize(vec![
            Interval::new(at("2026-12-07T08:00:00Z"), at("2026-12-07T09:00:00Z")).unwrap(),
            Interval::new(at("2026-12-07T10:00:00Z"), at("2026-12-07T10:30:00Z")).unwrap(),
        ]);
        assert_eq!(got, want);
    }

    #[test]
    fn what_is_not_a_cell_is_refused_by_name() {
        let zone = rome();
        for bad in ["2026-12-07T09:15", "tomorrow", "2026-12-07T09:00:30", ""] {
            let error = cells_to_availability(&zone, [bad].into_iter()).unwrap_err();
            assert!(error.contains("is not a cell"), "{bad}: {error}");
        }
        let many = vec!["2026-12-07T09:00"; MAX_CELLS + 1];
        assert!(
            cells_to_availability(&zone, many.into_iter())
                .unwrap_err()
                .contains("at most")
        );
        assert!(
            cells_to_availability(&zone, std::iter::empty())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn the_week_comes_from_the_query_or_today() {
        let today = today(&rome(), 1_796_000_000);
        assert_eq!(
            week_start(Some("2026-12-14"), today).to_string(),
            "2026-12-14"
        );
        assert_eq!(week_start(Some("junk"), today), today);
        assert_eq!(week_start(None, today), today);
    }
}
