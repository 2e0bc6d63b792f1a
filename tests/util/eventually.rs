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
pub async fn eventually<T, O, F, Fut>(timeout: Duration, what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, O>>,
    O: Display,
{
    poll(timeout, what, Duration::from_millis(5), MAX_PAUSE, check).await
}

/// [`eventually`], checking every `every`: for a test that must catch a
/// short moment (a transfer begun and not yet done), where a pause grown to
/// 100 ms could miss it.
pub async fn eventually_every<T, O, F, Fut>(
    every: Duration,
    timeout: Duration,
    what: &str,
    check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, O>>,
    O: Display,
{
    poll(timeout, what, every, every, check).await
}

async fn poll<T, O, F, Fut>(
    timeout: Duration,
    what: &str,
    first_pause: Duration,
    max_pause: Duration,
    mut check: F,
) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, O>>,
    O: Display,
{
    let give_up = Instant::now() + timeout;
    let mut pause = first_pause;
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
        pause = (pause * 2).min(max_pause);
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

/// Whether `check` comes true within `timeout`, checked every 25 ms. Not
/// [`eventually`]: for the tests that run one scenario twice and expect
/// it to happen once (with the cluster's secret) and not at all (with an
/// impostor's), where waiting the whole time for nothing is the point.
pub async fn within(timeout: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let give_up = Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= give_up {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// `Ok(())` if `done`, else `Err(seen)`: for a check that is a condition.
pub fn ready<O>(done: bool, seen: O) -> Result<(), O> {
    if done { Ok(()) } else { Err(seen) }
}
