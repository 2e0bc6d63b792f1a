//! The waits, and the loop under tokio's paused clock: virtual time only
//! moves while every task waits, so the time a loop took is exactly the
//! waits it made.

use std::cell::Cell;

use tokio::time::Instant;

use super::*;

const MS: Duration = Duration::from_millis(1);

#[test]
fn a_doubling_backoff_doubles_up_to_its_longest_wait() {
    let mut backoff = Backoff::doubling(200 * MS, 1000 * MS);
    let waits: Vec<_> = (0..5).map(|_| backoff.next_wait()).collect();
    assert_eq!(waits, [200 * MS, 400 * MS, 800 * MS, 1000 * MS, 1000 * MS]);
    let mut fixed = Backoff::fixed(50 * MS);
    assert_eq!([fixed.next_wait(), fixed.next_wait()], [50 * MS, 50 * MS]);
}

#[test]
fn a_jittered_wait_is_within_half_of_its_length_either_way() {
    let mut backoff = Backoff::doubling(100 * MS, 400 * MS).jittered();
    for length in [100, 200, 400, 400, 400] {
        let wait = backoff.next_wait();
        assert!(
            wait >= length * MS / 2 && wait < length * MS * 3 / 2,
            "{wait:?} for {length} ms"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn it_waits_only_between_attempts_as_the_backoff_says() {
    let (_trigger, shutdown) = Shutdown::new();
    let tries = Cell::new(0);
    let began = Instant::now();
    let done = retry_until(&shutdown, Backoff::doubling(200 * MS, 5000 * MS), || {
        tries.set(tries.get() + 1);
        let attempt = if tries.get() < 4 {
            Attempt::Retry
        } else {
            Attempt::Done(tries.get())
        };
        async move { attempt }
    })
    .await;
    assert_eq!(done, Some(4));
    assert_eq!(began.elapsed(), (200 + 400 + 800) * MS);
}

#[tokio::test(start_paused = true)]
async fn a_wait_the_attempt_names_does_not_advance_the_backoff() {
    let (_trigger, shutdown) = Shutdown::new();
    let tries = Cell::new(0);
    let began = Instant::now();
    let done = retry_until(&shutdown, Backoff::doubling(100 * MS, 5000 * MS), || {
        tries.set(tries.get() + 1);
        let attempt = match tries.get() {
            1 | 3 => Attempt::Retry,
            2 => Attempt::RetryAfter(1000 * MS),
            _ => Attempt::Done(()),
        };
        async move { attempt }
    })
    .await;
    assert_eq!(done, Some(()));
    assert_eq!(began.elapsed(), (100 + 1000 + 200) * MS);
}

#[tokio::test(start_paused = true)]
async fn giving_up_ends_it_at_once() {
    let (_trigger, shutdown) = Shutdown::new();
    let began = Instant::now();
    let done: Option<()> = retry_until(&shutdown, Backoff::fixed(1000 * MS), || async {
        Attempt::GiveUp
    })
    .await;
    assert_eq!(done, None);
    assert_eq!(began.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn the_shutdown_ends_a_wait_and_starts_no_attempt() {
    let (trigger, shutdown) = Shutdown::new();
    let tries = Cell::new(0);
    let began = Instant::now();
    let looping = retry_until(&shutdown, Backoff::fixed(1000 * MS), || {
        tries.set(tries.get() + 1);
        async { Attempt::<()>::Retry }
    });
    let stopping = async {
        tokio::time::sleep(2500 * MS).await;
        trigger.trigger();
    };
    let (done, ()) = tokio::join!(looping, stopping);
    assert_eq!(done, None);
    assert_eq!(tries.get(), 3, "attempts at 0, 1 and 2 s");
    assert_eq!(began.elapsed(), 2500 * MS, "the third wait was cut short");
    let again: Option<()> = retry_until(&shutdown, Backoff::fixed(MS), || async {
        panic!("no attempt after the shutdown")
    })
    .await;
    assert_eq!(again, None);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_under_way_at_the_shutdown_is_finished() {
    let (trigger, shutdown) = Shutdown::new();
    let began = Instant::now();
    let done = retry_until(&shutdown, Backoff::fixed(1000 * MS), || async {
        trigger.trigger();
        // A transaction that takes its time after the node began to stop.
        tokio::time::sleep(300 * MS).await;
        Attempt::Done("committed")
    })
    .await;
    assert_eq!(done, Some("committed"));
    assert_eq!(began.elapsed(), 300 * MS);
}
