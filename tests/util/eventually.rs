//! Waiting for a condition: one helper instead of a polling loop in every
//! test, with one failure message that says what was awaited and what was
//! last seen.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// The longest pause between two checks.
const MAX_PAUSE: Duration = Duration::from_millis(100);

/// Calls `check` until it returns `Ok(value)`, and returns the value.
/// `Err(seen)` means "not yet": if `timeout` passes first, the test fails
/// naming `what` it waited for and the last `seen`. A check that does not
/// return by the timeout fails the test too.
///
/// It checks at once, then after 5 ms, doubling the pause up to 100 ms: a
/// quick condition costs little, a slow one few wake-ups. The clock is
/// tokio's, so under paused time it waits virtually.
pub async fn eventually<T, O, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, O>>,
    O: Display,
{
    let give_up = Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    let mut seen = String::from("(no check returned)");
    loop {
        match tokio::time::timeout_at(give_up, check()).await {
            Ok(Ok(value)) => return value,
            Ok(Err(now)) => seen = now.to_string(),
            Err(_) => panic!(
                "waited {timeout:?} for {what}; the last check did not return; before it: {seen}"
            ),
        }
        if Instant::now() >= give_up {
            panic!("waited {timeout:?} for {what}; last seen: {seen}");
        }
        tokio::time::sleep(pause.min(give_up - Instant::now())).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// [`eventually`] for a test with no runtime: `check` runs on this thread,
/// which sleeps between checks.
pub fn eventually_blocking<T, O, F>(timeout: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Result<T, O>,
    O: Display,
{
    let give_up = std::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(5);
    loop {
        let seen = match check() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        let now = std::time::Instant::now();
        if now >= give_up {
            panic!("waited {timeout:?} for {what}; last seen: {seen}");
        }
        std::thread::sleep(pause.min(give_up - now));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// `Ok(())` if `done`, else `Err(seen)`: for a check that is a condition.
pub fn ready<O>(done: bool, seen: O) -> Result<(), O> {
    if done { Ok(()) } else { Err(seen) }
}
