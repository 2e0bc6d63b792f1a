//! The booking workload and its check, through the seed's UDP protocol
//! (`convene_booking::client`) under at-most-once.
//!
//! Each worker owns some half-hour windows (a facility, a day, a start) that
//! no one else touches, so it knows what each should hold. In a window it
//! books its first 10 minutes, moves the booking 10 minutes later
//! (`change`, not idempotent), and then cancels it (not idempotent) or, now
//! and then, leaves it booked.
//! After an answered cancel the window is empty again and is used anew.
//! A request with no answer, or with an answer that does not say what
//! happened (the owner "did not answer"), leaves the window uncertain
//! between the states before and after; the worker leaves it alone from
//! then on.
//!
//! At the end each facility's week is queried and every window compared
//! with what its history allows. Executing a request twice shows: a second
//! `change` leaves the booking in the window's last 10 minutes, a second
//! `cancel` is
//! answered "already cancelled", a second `book` is answered "unavailable"
//! for a window known to be empty.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use convene_booking::client::Client;
use convene_booking::wire::{ErrorCode, Reply, Request};
use convene_time::WeekTime;

use super::rng::Rng;

/// How far a `change` moves a booking, and how long a booking is.
const STEP: u32 = 10;
/// A window's length: room for the booking, its move, and a second move
/// (which only a request executed twice makes).
const WINDOW: u32 = 3 * STEP;
/// Windows in a day.
const PER_DAY: usize = (24 * 60 / WINDOW) as usize;

/// What a window holds: nothing, or a booking starting `offset` minutes
/// into the window.
type Position = Option<u32>;

/// One window's state as its worker knows it.
#[derive(Clone, Debug)]
enum Known {
    /// The history pins it down.
    Exactly(Position, Option<String>),
    /// An unanswered request: one of these.
    OneOf(Vec<Position>),
}

/// A window: facility, day, and which of the day's windows.
#[derive(Clone, Debug)]
pub struct Window {
    facility: usize,
    day: u8,
    slot: u8,
    known: Known,
    /// Whether any request was sent for it.
    touched: bool,
}

/// What the workload did, and what went wrong while it ran.
#[derive(Debug, Default)]
pub struct Tally {
    /// Requests sent, by kind: book, change, cancel.
    pub sent: [u64; 3],
    /// Of those, answered with success.
    pub acknowledged: [u64; 3],
    /// Answered with an error that says nothing happened (not counted as a
    /// violation), or with no clear outcome.
    pub uncertain: u64,
    /// Requests that needed more than one attempt.
    pub retried: u64,
    /// Violations seen from the answers (a request executed twice).
    pub violations: Vec<String>,
}

/// One worker's windows and tally, after the run.
pub struct WorkerResult {
    windows: Vec<Window>,
    tally: Tally,
}

/// Runs one worker until `stop`: its windows are those with
/// `index % workers == worker`.
pub fn worker(
    worker: usize,
    workers: usize,
    facilities: Vec<String>,
    fronts: Vec<SocketAddr>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    started: Instant,
) -> WorkerResult {
    let mut windows: Vec<Window> = (0..facilities.len() * 7 * PER_DAY)
        .filter(|i| i % workers == worker)
        .map(|i| Window {
            facility: i / (7 * PER_DAY),
            day: (i / PER_DAY % 7) as u8,
            slot: (i % PER_DAY) as u8,
            known: Known::Exactly(None, None),
            touched: false,
        })
        .collect();
    // In a random order, so every facility (and so every owner) is used
    // from the start.
    for i in (1..windows.len()).rev() {
        windows.swap(i, rng.below(i as u64 + 1) as usize);
    }
    let mut clients: Vec<Option<Client>> = fronts.iter().map(|_| None).collect();
    // Front doors that did not answer lately: avoided until the instant.
    let mut avoid: Vec<Instant> = fronts.iter().map(|_| started).collect();
    let mut tally = Tally::default();
    let mut next = 0usize;
    while !stop.load(Ordering::Relaxed) {
        // The next window this worker may still use.
        let Some(w) = (0..windows.len())
            .map(|k| (next + k) % windows.len())
            .find(|&w| matches!(windows[w].known, Known::Exactly(..)))
        else {
            break;
        };
        next = w;
        let now = Instant::now();
        let usable: Vec<usize> = (0..fronts.len()).filter(|&f| avoid[f] <= now).collect();
        let front = if usable.is_empty() {
            rng.below(fronts.len() as u64) as usize
        } else {
            usable[rng.below(usable.len() as u64) as usize]
        };
        let client = match &mut clients[front] {
            Some(c) => c,
            slot => match Client::new(fronts[front]) {
                Ok(mut c) => {
                    c.timeout = Duration::from_millis(400);
                    c.attempts = 4;
                    slot.insert(c)
                }
                Err(e) => {
                    tally.violations.push(format!("no client socket: {e}"));
                    break;
                }
            },
        };
        let (answered, retried) = step(&mut windows[w], &facilities, client, &mut tally, &mut rng);
        if !answered {
            avoid[front] = Instant::now() + Duration::from_secs(2);
        }
        if !answered || retried {
            // The seed's replies carry no request id: a late reply to this
            // request (or a second one to a retry) would be read as the
            // next request's. A new socket never receives it.
            clients[front] = None;
        }
        // A cycle ends with an empty window (or one left alone): go on to
        // the next window.
        if matches!(windows[w].known, Known::Exactly(None, _) | Known::OneOf(_)) {
            next = w + 1;
        }
        std::thread::sleep(Duration::from_millis(rng.between(5, 30)));
    }
    WorkerResult { windows, tally }
}

impl Window {
    /// Its first minute, since Monday 00:00.
    fn start(&self) -> u32 {
        u32::from(self.day) * 24 * 60 + u32::from(self.slot) * WINDOW
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let minute = u32::from(self.slot) * WINDOW;
        write!(f, "day {} {:02}:{:02}", self.day, minute / 60, minute % 60)
    }
}

/// The window's start and end of a booking at `offset`.
fn span(window: &Window, offset: u32) -> (WeekTime, WeekTime) {
    let start = window.start() + offset;
    (
        WeekTime::from_minutes(start).expect("inside the week"),
        WeekTime::from_minutes(start + STEP).expect("inside the week"),
    )
}

/// Sends the window's next request; says whether an answer came, and
/// whether the request was sent more than once.
fn step(
    window: &mut Window,
    facilities: &[String],
    client: &mut Client,
    tally: &mut Tally,
    rng: &mut Rng,
) -> (bool, bool) {
    let Known::Exactly(position, id) = window.known.clone() else {
        return (true, false);
    };
    let (kind, request, before, after) = match (position, id) {
        (None, _) => {
            let (start, end) = span(window, 0);
            let request = Request::Book {
                facility: facilities[window.facility].clone(),
                start,
                end,
            };
            (0, request, None, Some(0))
        }
        (Some(0), Some(id)) => {
            let request = Request::Change {
                confirmation: id,
                offset_minutes: STEP as i32,
            };
            (1, request, Some(0), Some(STEP))
        }
        (Some(offset), Some(id)) => {
            if rng.chance(0.2) {
                // Leave it booked: the end checks it is still there, once.
                window.known = Known::OneOf(vec![Some(offset)]);
                return (true, false);
            }
            (2, Request::Cancel { confirmation: id }, Some(offset), None)
        }
        (Some(_), None) => unreachable!("a known booking has its id"),
    };
    tally.sent[kind] += 1;
    window.touched = true;
    let mut said = Vec::new();
    let reply = client.call(&request, &mut said).ok().flatten();
    let retried = !said.is_empty();
    if retried {
        tally.retried += 1;
    }
    let what = format!(
        "{} {} {}",
        ["book", "change", "cancel"][kind],
        facilities[window.facility],
        window
    );
    let uncertain = |window: &mut Window, tally: &mut Tally| {
        tally.uncertain += 1;
        window.known = Known::OneOf(vec![before, after]);
    };
    match (kind, &reply) {
        (0, Some(Reply::Booked { confirmation })) => {
            window.known = Known::Exactly(Some(0), Some(confirmation.clone()));
        }
        (1, Some(Reply::Changed)) => {
            let Known::Exactly(_, id) = &window.known else {
                unreachable!()
            };
            window.known = Known::Exactly(Some(STEP), id.clone());
        }
        (2, Some(Reply::Cancelled { .. })) => window.known = Known::Exactly(None, None),
        (0, Some(r)) if r.error_code() == Some(ErrorCode::FacilityUnavailable) => {
            tally.violations.push(format!(
                "{what}: answered \"unavailable\" for a window known to be empty \
                 (the request executed twice?)"
            ));
            uncertain(window, tally);
            return (true, retried);
        }
        (2, Some(r)) if r.error_code() == Some(ErrorCode::AlreadyCancelled) => {
            tally.violations.push(format!(
                "{what}: answered \"already cancelled\" to its only cancel (executed twice)"
            ));
            window.known = Known::OneOf(vec![None]);
            return (true, retried);
        }
        (_, Some(_)) => {
            uncertain(window, tally);
            return (true, retried);
        }
        (_, None) => {
            uncertain(window, tally);
            return (false, retried);
        }
    }
    tally.acknowledged[kind] += 1;
    (true, retried)
}

/// The result of the final check.
#[derive(Debug, Default)]
pub struct Checked {
    /// Windows compared with the facilities' availability.
    pub windows: u64,
    /// Acknowledged bookings found where their history puts them, once.
    pub present: u64,
    /// Windows whose last answered request was a cancel, found empty.
    pub cancelled_absent: u64,
    /// Windows never used, found empty.
    pub untouched: u64,
    /// Windows left uncertain whose state is one their history allows.
    pub uncertain_ok: u64,
    /// What is wrong.
    pub violations: Vec<String>,
    /// Each used window: what its history allows and what was found.
    pub history: Vec<String>,
}

/// Queries every facility's week (through any front door that answers,
/// each for up to `patience`) and compares every window.
pub fn check(
    results: Vec<WorkerResult>,
    facilities: &[String],
    fronts: &[SocketAddr],
    patience: Duration,
) -> (Tally, Checked) {
    let mut tally = Tally::default();
    let mut windows = Vec::new();
    for r in results {
        for k in 0..3 {
            tally.sent[k] += r.tally.sent[k];
            tally.acknowledged[k] += r.tally.acknowledged[k];
        }
        tally.uncertain += r.tally.uncertain;
        tally.retried += r.tally.retried;
        tally.violations.extend(r.tally.violations);
        windows.extend(r.windows);
    }
    let mut checked = Checked::default();
    for (f, facility) in facilities.iter().enumerate() {
        let Some(free) = week(facility, fronts, patience) else {
            checked.violations.push(format!(
                "{facility}: no front door answered a query within {patience:?}"
            ));
            continue;
        };
        for window in windows.iter().filter(|w| w.facility == f) {
            checked.windows += 1;
            let found = position(&free, window.start());
            let what = format!("{facility} {window}");
            if window.touched {
                checked.history.push(format!(
                    "{what}: allowed {:?}, found {found:?}",
                    window.known
                ));
            }
            match (&window.known, found) {
                (_, Err(busy)) => checked.violations.push(format!(
                    "{what}: busy minutes {busy:?}, which no history allows"
                )),
                (Known::Exactly(expected, _), Ok(found)) if *expected == found => {
                    if found.is_some() {
                        checked.present += 1;
                    } else if window.touched {
                        checked.cancelled_absent += 1;
                    } else {
                        checked.untouched += 1;
                    }
                }
                (Known::OneOf(allowed), Ok(found)) if allowed.contains(&found) => {
                    if allowed.len() == 1 && found.is_some() {
                        checked.present += 1;
                    } else {
                        checked.uncertain_ok += 1;
                    }
                }
                (known, Ok(found)) => checked.violations.push(format!(
                    "{what}: holds {}, its history allows {}",
                    show(found),
                    match known {
                        Known::Exactly(p, _) => show(*p),
                        Known::OneOf(ps) =>
                            ps.iter().map(|p| show(*p)).collect::<Vec<_>>().join(" or "),
                    }
                )),
            }
        }
    }
    (tally, checked)
}

fn show(position: Position) -> String {
    match position {
        None => "nothing".into(),
        Some(o) => format!("a booking {o}-{} minutes into the window", o + STEP),
    }
}

/// The free minutes of `facility`'s week, as `[start, end)` pairs in
/// minutes since Monday 00:00; `None` if no front door answered.
fn week(facility: &str, fronts: &[SocketAddr], patience: Duration) -> Option<Vec<(u32, u32)>> {
    let deadline = Instant::now() + patience;
    let request = Request::Query {
        facility: facility.to_string(),
        days: (0..7).collect(),
    };
    loop {
        for front in fronts {
            let Ok(mut client) = Client::new(*front) else {
                continue;
            };
            client.timeout = Duration::from_millis(500);
            client.attempts = 2;
            if let Ok(Some(Reply::Availability { days, .. })) =
                client.call(&request, &mut Vec::new())
            {
                return Some(
                    days.iter()
                        .flat_map(|d| d.slots.iter().map(|(s, e)| (s.minutes(), e.minutes())))
                        .collect(),
                );
            }
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// What the window starting at minute `start` holds: nothing, or one
/// booking of `STEP` minutes at an offset a history could give (0, 1 or 2
/// steps in);
/// `Err` with the busy minutes for anything else.
fn position(free: &[(u32, u32)], start: u32) -> Result<Position, Vec<u32>> {
    let busy: Vec<u32> = (start..start + WINDOW)
        .filter(|m| !free.iter().any(|&(s, e)| s <= *m && *m < e))
        .collect();
    match busy.as_slice() {
        [] => Ok(None),
        [first, .., last]
            if busy.len() == STEP as usize
                && last - first == STEP - 1
                && (first - start).is_multiple_of(STEP) =>
        {
            Ok(Some(first - start))
        }
        _ => Err(busy),
    }
}

#[cfg(test)]
mod tests {
    use super::position;

    #[test]
    fn a_window_holds_nothing_or_one_booking_at_a_step() {
        let day = |gaps: &[(u32, u32)]| {
            // Free everywhere except the gaps.
            let mut free = Vec::new();
            let mut at = 0;
            for &(s, e) in gaps {
                free.push((at, s));
                at = e;
            }
            free.push((at, 1440));
            free
        };
        assert_eq!(position(&day(&[]), 600), Ok(None));
        assert_eq!(position(&day(&[(600, 610)]), 600), Ok(Some(0)));
        assert_eq!(position(&day(&[(610, 620)]), 600), Ok(Some(10)));
        assert_eq!(position(&day(&[(620, 630)]), 600), Ok(Some(20)));
        assert!(position(&day(&[(600, 620)]), 600).is_err());
        assert!(position(&day(&[(605, 615)]), 600).is_err());
        // The next window's booking is not this one's.
        assert_eq!(position(&day(&[(630, 640)]), 600), Ok(None));
    }
}
