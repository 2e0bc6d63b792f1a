//! Several futures polled together in one task, outputs taken as they finish.
//!
//! A main node asks each backend involved at once. Spawning a task per call
//! would cost an allocation, a trip through the scheduler and a cross-thread
//! wake-up each; polling the few calls from the task that waits for them
//! costs one allocation each and nothing else. (This is the core of
//! `futures::stream::FuturesUnordered`, for the handful of futures a query
//! has, without the dependency.)

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

/// Futures that run together; [`Unordered::next`] yields each output once.
pub struct Unordered<F> {
    futures: Vec<Option<Pin<Box<F>>>>,
    remaining: usize,
}

impl<F: Future> Unordered<F> {
    /// Starts nothing yet: the futures run while [`next`](Self::next) is awaited.
    pub fn new(futures: impl IntoIterator<Item = F>) -> Self {
        let futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
        let remaining = futures.len();
        Unordered { futures, remaining }
    }

    /// The next output to be ready, or `None` when every future has finished.
    pub async fn next(&mut self) -> Option<F::Output> {
        if self.remaining == 0 {
            return None;
        }
        std::future::poll_fn(|cx| {
            // Every future is polled on every wake-up: fine for the few a
            // query fans out to, and it keeps each future's waker current.
            for slot in self.futures.iter_mut() {
                if let Some(future) = slot
                    && let Poll::Ready(out) = future.as_mut().poll(cx)
                {
                    *slot = None;
                    self.remaining -= 1;
                    return Poll::Ready(Some(out));
                }
            }
            Poll::Pending
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn outputs_come_in_finishing_order_and_then_none() {
        let delays = [30u64, 10, 20];
        let mut all = Unordered::new(delays.iter().map(|&ms| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            ms
        }));
        let mut seen = Vec::new();
        while let Some(ms) = all.next().await {
            seen.push(ms);
        }
        assert_eq!(seen, [10, 20, 30]);
        assert_eq!(all.next().await, None);
        let mut none = Unordered::new(Vec::<std::future::Ready<u8>>::new());
        assert_eq!(none.next().await, None);
    }
}
