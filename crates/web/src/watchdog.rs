//! A web connection's timers: how long a client may take to send a request,
//! and how long a connection may sit idle between requests.
//!
//! A server that waits for ever on its clients can be held by anyone who
//! opens connections and then sends slowly, or not at all ("slowloris"):
//! each one costs a task, a buffer and a file descriptor, and the sender
//! almost nothing. So every moment a connection waits *for the client* has
//! a deadline:
//!
//! | the connection is…                              | it is closed if nothing completes within |
//! |-------------------------------------------------|---------------------------------|
//! | new (TLS handshake, then the first request's headers) | `http_header_timeout` from the accept |
//! | reading a request's headers (from its first byte) | `http_header_timeout`          |
//! | reading a request's body (from the headers' end) | `http_header_timeout` (the request fails) |
//! | idle between requests (keep-alive)              | `http_idle_timeout`              |
//! | running a handler, writing a response           | no deadline: the server is working, not waiting |
//! | upgraded to another protocol (a WebSocket)      | no deadline: the new protocol keeps its own time |
//!
//! A header deadline counts from the *first* byte and does not restart on
//! each later byte: otherwise a client sending one byte every few seconds
//! would never be cut off.
//!
//! # How it fits around hyper
//!
//! [`Watchdog`] is the state machine: it takes `now` in each call, does no
//! I/O, and is tested on its own. Three pieces feed it, all polled inside the
//! connection's one task:
//!
//! - [`Watched`] wraps the connection's stream. Each read that brings bytes
//!   tells the watchdog; each read that must wait also waits on the current
//!   deadline, and fails with `TimedOut` when it passes, which makes hyper
//!   drop the connection. hyper is always reading while it waits for a
//!   request (its head, or its body), so this is exactly where waiting
//!   happens.
//! - The server's service calls [`Watchdog::request_started`] when hyper
//!   hands it a request (its headers are complete), and wraps the body in a
//!   [`DueBody`] that fails once the body deadline passes.
//! - The response body is wrapped in a [`Finished`] guard: when hyper has
//!   written it and lets it go, the connection is idle again, and the read
//!   hyper left waiting is woken to take up the idle deadline (hyper itself
//!   would not look again until the client sent something).
//!
//! hyper has a header timer of its own, but it starts when hyper begins to
//! wait for a request, so on a kept-alive connection it also ends the idle
//! time: there would be one timeout where there should be two.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Why a connection's deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// A request's headers (or a new connection's handshake and first
    /// headers) did not arrive in time.
    Headers,
    /// The connection sat idle between requests too long.
    Idle,
}

impl Expired {
    fn describe(self) -> &'static str {
        match self {
            Expired::Headers => "request headers not complete in time",
            Expired::Idle => "idle connection closed",
        }
    }
}

/// What the connection is waiting for. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A request's headers, whose first byte came (or whose connection was
    /// accepted) at `since`.
    Headers { since: Instant },
    /// The server is handling a request.
    Busy,
    /// The next request, since the last response ended at `since`.
    Idle { since: Instant },
    /// The connection switched protocols (`101`): HTTP's timers no longer
    /// apply. A chat member may be silent for hours; what the new protocol
    /// needs of its client (an identity in time) it enforces itself.
    Upgraded,
}

/// The timing rules of one connection, without I/O. See the [module
/// docs](self).
#[derive(Debug)]
pub struct Watchdog {
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    /// Requests handed to the service whose responses are not yet written
    /// (HTTP/1.1 handles one at a time; counted to stay right regardless).
    in_flight: usize,
}

impl Watchdog {
    /// A connection accepted at `accepted`: its first request's headers are
    /// due `header_timeout` later.
    pub fn new(accepted: Instant, header_timeout: Duration, idle_timeout: Duration) -> Self {
        Watchdog {
            header_timeout,
            idle_timeout,
            phase: Phase::Headers { since: accepted },
            in_flight: 0,
        }
    }

    /// Bytes arrived at `now`. On an idle connection they are the start of
    /// the next request, whose headers are now due.
    pub fn bytes_read(&mut self, now: Instant) {
        if let Phase::Idle { .. } = self.phase {
            self.phase = Phase::Headers { since: now };
        }
    }

    /// A request's headers are complete at `now`: the server works on it.
    /// Returns when its body is due.
    pub fn request_started(&mut self, now: Instant) -> Instant {
        self.in_flight += 1;
        if self.phase != Phase::Upgraded {
            self.phase = Phase::Busy;
        }
        now + self.header_timeout
    }

    /// A response was written (or abandoned) at `now`. With none left in
    /// flight the connection is idle.
    pub fn response_finished(&mut self, now: Instant) {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 && self.phase != Phase::Upgraded {
            self.phase = Phase::Idle { since: now };
        }
    }

    /// When the connection is closed unless something happens first, and
    /// why; `None` while the server is busy.
    pub fn deadline(&self) -> Option<(Instant, Expired)> {
        match self.phase {
            Phase::Headers { since } => Some((since + self.header_timeout, Expired::Headers)),
            Phase::Idle { since } => Some((since + self.idle_timeout, Expired::Idle)),
            Phase::Busy | Phase::Upgraded => None,
        }
    }

    /// The response switched protocols: from now on, no deadline.
    pub fn upgraded(&mut self) {
        self.phase = Phase::Upgraded;
    }
}

/// A [`Watchdog`] shared by the pieces of one connection, with the waker
/// of the read waiting on its deadline.
///
/// When a response ends, the deadline moves from none to the idle one, but
/// hyper does not read again until the socket has something: the read
/// already waiting must be woken to take up the new deadline.
#[derive(Clone, Debug)]
pub struct SharedWatchdog(Arc<Mutex<Shared>>);

#[derive(Debug)]
struct Shared {
    dog: Watchdog,
    reader: Option<Waker>,
}

impl SharedWatchdog {
    /// Shares `watchdog`.
    pub fn new(watchdog: Watchdog) -> Self {
        SharedWatchdog(Arc::new(Mutex::new(Shared {
            dog: watchdog,
            reader: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // Every change is one assignment; a panic cannot leave it half-done.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// See [`Watchdog::bytes_read`].
    pub fn bytes_read(&self, now: Instant) {
        self.lock().dog.bytes_read(now);
    }

    /// See [`Watchdog::request_started`].
    pub fn request_started(&self, now: Instant) -> Instant {
        self.lock().dog.request_started(now)
    }

    /// See [`Watchdog::response_finished`]; wakes the waiting read.
    pub fn response_finished(&self, now: Instant) {
        let mut shared = self.lock();
        shared.dog.response_finished(now);
        if let Some(reader) = shared.reader.take() {
            reader.wake();
        }
    }

    /// See [`Watchdog::upgraded`].
    pub fn upgraded(&self) {
        self.lock().dog.upgraded();
    }

    /// The current deadline, for a read that waits with `cx`'s waker.
    fn deadline_for(&self, cx: &Context<'_>) -> Option<(Instant, Expired)> {
        let mut shared = self.lock();
        match &shared.reader {
            Some(reader) if reader.will_wake(cx.waker()) => {}
            _ => shared.reader = Some(cx.waker().clone()),
        }
        shared.dog.deadline()
    }
}

/// A connection's stream, reporting reads to its watchdog and failing a
/// read that waits past the deadline. See the [module docs](self).
pub struct Watched<S> {
    inner: S,
    watchdog: SharedWatchdog,
    /// The timer, set to `armed_for` (re-armed only when the deadline moves).
    timer: Pin<Box<Sleep>>,
    armed_for: Option<Instant>,
}

impl<S> Watched<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, watchdog: SharedWatchdog) -> Self {
        Watched {
            inner,
            watchdog,
            timer: Box::pin(tokio::time::sleep_until(Instant::now())),
            armed_for: None,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.watchdog.bytes_read(Instant::now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some((due, why)) = this.watchdog.deadline_for(cx) else {
                    return Poll::Pending;
                };
                if this.armed_for != Some(due) {
                    this.timer.as_mut().reset(due);
                    this.armed_for = Some(due);
                }
                match this.timer.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, why.describe())))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// A request body that must arrive whole by a deadline: a client that
/// trickles its body is a slowloris too. Past the deadline the next read
/// fails, so the handler answers 400 and hyper closes the connection.
pub struct DueBody<B> {
    inner: B,
    due: Instant,
    /// Made on the first read that has to wait: most bodies never do.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<B> DueBody<B> {
    /// `inner`, due by `due`.
    pub fn new(inner: B, due: Instant) -> Self {
        DueBody {
            inner,
            due,
            timer: None,
        }
    }
}

/// The error of a [`DueBody`] past its deadline.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTooSlow;

impl<B> Body for DueBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => {
                let due = this.due;
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(BodyTooSlow.into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the watchdog when hyper is done with it
/// (written whole, or the connection gone): the connection is then idle.
pub struct Finished<B> {
    inner: B,
    watchdog: SharedWatchdog,
}

impl<B> Finished<B> {
    /// `inner`, reporting its end to `watchdog`.
    pub fn new(inner: B, watchdog: SharedWatchdog) -> Self {
        Finished { inner, watchdog }
    }
}

impl<B> Drop for Finished<B> {
    fn drop(&mut self) {
        self.watchdog.response_finished(Instant::now());
    }
}

impl<B: Body + Unpin> Body for Finished<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADERS: Duration = Duration::from_secs(30);
    const IDLE: Duration = Duration::from_secs(60);

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn a_new_connection_owes_its_first_headers_from_the_accept() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, HEADERS, IDLE);
        assert_eq!(dog.deadline(), Some((t0 + HEADERS, Expired::Headers)));
        // Trickled bytes do not move the deadline: one byte every few
        // seconds must not keep a connection for ever.
        dog.bytes_read(t0 + secs(10));
        dog.bytes_read(t0 + secs(20));
        assert_eq!(dog.deadline(), Some((t0 + HEADERS, Expired::Headers)));
    }

    #[test]
    fn a_request_in_hand_has_no_deadline_and_its_body_is_due() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, HEADERS, IDLE);
        let body_due = dog.request_started(t0 + secs(1));
        assert_eq!(body_due, t0 + secs(1) + HEADERS);
        assert_eq!(dog.deadline(), None);
        // Body bytes while busy change nothing.
        dog.bytes_read(t0 + secs(2));
        assert_eq!(dog.deadline(), None);
    }

    #[test]
    fn after_a_response_the_idle_timer_runs_until_the_next_request_starts() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, HEADERS, IDLE);
        dog.request_started(t0);
        dog.response_finished(t0 + secs(1));
        assert_eq!(dog.deadline(), Some((t0 + secs(1) + IDLE, Expired::Idle)));
        // The next request's first byte: its headers are due from then,
        // even though that is sooner than the idle deadline was.
        dog.bytes_read(t0 + secs(5));
        assert_eq!(
            dog.deadline(),
            Some((t0 + secs(5) + HEADERS, Expired::Headers))
        );
        dog.request_started(t0 + secs(6));
        assert_eq!(dog.deadline(), None);
    }

    #[test]
    fn an_upgraded_connection_has_no_deadline_again() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, HEADERS, IDLE);
        dog.request_started(t0);
        dog.upgraded();
        // The 101 is written; a WebSocket may then be quiet for hours.
        dog.response_finished(t0 + secs(1));
        dog.bytes_read(t0 + secs(3600));
        assert_eq!(dog.deadline(), None);
    }

    #[test]
    fn idle_only_when_every_response_is_done() {
        let t0 = Instant::now();
        let mut dog = Watchdog::new(t0, HEADERS, IDLE);
        dog.request_started(t0);
        dog.request_started(t0);
        dog.response_finished(t0 + secs(1));
        assert_eq!(dog.deadline(), None);
        dog.response_finished(t0 + secs(2));
        assert_eq!(dog.deadline(), Some((t0 + secs(2) + IDLE, Expired::Idle)));
    }

    // Real time, but short: a paused clock needs tokio's `test-util`, which
    // would build the whole tree twice.
    const SHORT: Duration = Duration::from_millis(50);

    #[tokio::test]
    async fn a_read_that_waits_past_the_deadline_fails() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(64);
        let dog = SharedWatchdog::new(Watchdog::new(Instant::now(), SHORT, IDLE));
        let mut watched = Watched::new(server, dog.clone());
        let mut client = client;
        client.write_all(b"GET / HT").await.unwrap();
        let mut buf = [0u8; 64];
        assert_eq!(watched.read(&mut buf).await.unwrap(), 8);
        let error = watched.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(error.to_string(), Expired::Headers.describe());
    }

    #[tokio::test]
    async fn a_body_past_its_deadline_fails() {
        struct Never;
        impl Body for Never {
            type Data = Bytes;
            type Error = std::convert::Infallible;
            fn poll_frame(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
                Poll::Pending
            }
        }
        let mut body = DueBody::new(Never, Instant::now() + SHORT);
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let error = frame.unwrap().unwrap_err();
        assert!(error.is::<BodyTooSlow>());
    }
}
