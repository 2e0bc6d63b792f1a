//! Trying again until something works, the node stops, or the caller gives
//! up: the one retry loop above the peer transport.
//!
//! The transport already retransmits a request for about two seconds. Some
//! work needs more patience than that: a main node waits for a backend that
//! is not up yet, a chat server for a coordinator to be elected, a files
//! node for a peer whose queue is full. [`retry_until`] is that patience,
//! with one rule for every service:
//!
//! - It waits only *between* attempts, as a [`Backoff`] says (fixed, or
//!   doubling up to a longest wait, optionally jittered), or as the attempt
//!   itself says ([`Attempt::RetryAfter`]).
//! - It starts no attempt once the node's [`Shutdown`] is triggered, and a
//!   wait ends at it. An attempt under way is not cut short: it may be a
//!   database transaction, and a peer call ends by itself, with
//!   [`RpcError::Closed`](convene_rpc::RpcError::Closed), when the node's
//!   transport stops.
//! - A caller with a patience of its own wraps the whole loop in
//!   [`tokio::time::timeout_at`], which also ends an attempt under way.
//!
//! ```
//! # async fn example(peers: convene_cluster::Peers, to: std::net::SocketAddr, shutdown: convene_cluster::Shutdown) {
//! use std::time::Duration;
//! use convene_cluster::ServiceTag;
//! const HELLO: ServiceTag = ServiceTag::new(15, "hello");
//! use convene_cluster::retry::{Attempt, Backoff, retry_until};
//!
//! let backoff = Backoff::doubling(Duration::from_millis(200), Duration::from_secs(5));
//! let answer = retry_until(&shutdown, backoff, || async {
//!     match peers.call(to, HELLO, b"hello").await {
//!         Ok(answer) => Attempt::Done(answer),
//!         Err(_) => Attempt::Retry,
//!     }
//! })
//! .await;
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

use crate::shutdown::Shutdown;

/// What one attempt came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attempt<T> {
    /// It worked: [`retry_until`] returns this.
    Done(T),
    /// Try again after the [`Backoff`]'s next wait.
    Retry,
    /// Try again after this wait, which the attempt knows better (another
    /// kind of failure than the backoff is for); the backoff does not
    /// advance.
    RetryAfter(Duration),
    /// Stop trying: [`retry_until`] returns `None`.
    GiveUp,
}

/// How long to wait before each next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    next: Duration,
    longest: Duration,
    jitter: bool,
}

impl Backoff {
    /// The same wait every time.
    pub const fn fixed(wait: Duration) -> Backoff {
        Backoff {
            next: wait,
            longest: wait,
            jitter: false,
        }
    }

    /// `first`, then twice as long each time, up to `longest`.
    pub const fn doubling(first: Duration, longest: Duration) -> Backoff {
        Backoff {
            next: first,
            longest,
            jitter: false,
        }
    }

    /// The same waits, each drawn between half and one and a half times
    /// its length: callers refused together (a burst of requests to a full
    /// queue) come back spread out, not all at once again.
    pub const fn jittered(self) -> Backoff {
        Backoff {
            jitter: true,
            ..self
        }
    }

    /// The wait before the next attempt; the one after is longer, if the
    /// backoff doubles.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.next;
        self.next = self.next.saturating_mul(2).min(self.longest);
        if self.jitter { jittered(wait) } else { wait }
    }
}

/// `wait`, give or take half.
fn jittered(wait: Duration) -> Duration {
    let half = wait / 2;
    let spread = half.as_millis().max(1) as u64 * 2;
    half + Duration::from_millis(convene_rpc::os_random_u64() % spread)
}

/// Runs `attempt` until it is [`Done`](Attempt::Done), waiting between
/// attempts as `backoff` says (see the [module docs](self) for the rule).
/// `None` if an attempt gives up or `shutdown` is triggered first.
pub async fn retry_until<T, F, Fut>(
    shutdown: &Shutdown,
    mut backoff: Backoff,
    mut attempt: F,
) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T>>,
{
    loop {
        if shutdown.is_triggered() {
            return None;
        }
        let wait = match attempt().await {
            Attempt::Done(value) => return Some(value),
            Attempt::GiveUp => return None,
            Attempt::Retry => backoff.next_wait(),
            Attempt::RetryAfter(wait) => wait,
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.wait() => return None,
        }
    }
}

#[cfg(test)]
mod tests;
