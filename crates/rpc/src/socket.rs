//! The tokio transport: runs an [`Endpoint`] on a real UDP socket.
//!
//! This module moves bytes and time and nothing else; every protocol
//! decision (ids, retries, which replies count) is the endpoint's. The shape
//! is chosen for throughput through one socket:
//!
//! * The socket is shared (`Arc`) by everyone who sends: a [`Client::call`]
//!   sends its own request, a handler task sends its own reply. No datagram
//!   takes a detour through a central task.
//! * The endpoint sits behind a `std::sync::Mutex` that is held only for a
//!   few map operations and never across an `.await`, so it is cheap and
//!   never blocks the runtime for long.
//! * One background task receives: it loops on `recv_from`, feeds each
//!   datagram to the endpoint, wakes the caller waiting for a reply through
//!   that call's `oneshot` channel, and spawns one task per incoming request
//!   to run the [`Handler`]. The same task sleeps until the endpoint's next
//!   deadline to drive retransmissions; a [`Notify`] wakes it early when a
//!   call creates a deadline earlier than the one it sleeps towards.
//!
//! Nothing the network sends can stop the loop: malformed and unexpected
//! datagrams are logged at `debug` and counted in [`Stats`]; send and receive
//! errors (for example an ICMP "port unreachable" surfacing as
//! `ConnectionRefused`) are logged and the loop carries on.
//!
//! Time is read through [`tokio::time::Instant`], so tests running with
//! tokio's paused clock drive retries as well.
//!
//! # Authentication
//!
//! Started with [`start_authenticated`], the transport seals every datagram
//! it sends and opens every datagram it receives (see [`auth`](crate::auth)):
//! a datagram that is not from a member, fails its MAC or has acted before
//! is dropped before the endpoint sees it, counted in [`AuthStats`], and
//! logged at most once per [`DROP_LOG_EVERY`] per reason, with the sender
//! and what to check. Sealing happens as each datagram leaves (a
//! retransmission is sealed anew, with a new sequence number), opening in
//! the receive task; neither holds the lock that callers share.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::datagram::{DatagramSocket, send_soon};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, warn};

use crate::auth::{AuthError, AuthStats, MacKey, Member, Opener, Sealer};
use crate::config::Config;
use crate::endpoint::{Endpoint, Event, Transmit};
use crate::envelope::RequestId;
use crate::error::RpcError;
use crate::rng::os_random_u64;
use crate::stats::Stats;

/// Size of the receive buffer: the largest possible UDP payload fits, so no
/// datagram is silently truncated.
const RECV_BUFFER: usize = 64 * 1024;

/// Most request handlers running at once. A request arriving beyond this is
/// dropped (and logged); its sender will retransmit. This is UDP's natural
/// back-pressure, and it keeps a flood of requests from growing tasks and
/// memory without bound.
pub const MAX_CONCURRENT_HANDLERS: usize = 8192;

/// Pause after a receive error that is not about one peer, so a broken
/// socket makes the loop retry slowly instead of spinning.
const RECV_ERROR_BACKOFF: Duration = Duration::from_millis(10);

/// Datagrams dropped for one reason are logged at most this often (the
/// count of the others goes into the next line), so a flood of forgeries
/// cannot flood the log.
pub const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

/// What an authenticated transport needs: the cluster's MAC key, every
/// member (this node among them, unless it is the operator) and this run's
/// boot number.
#[derive(Clone)]
pub struct PeerAuth {
    /// The key derived from the cluster secret for datagram MACs.
    pub key: MacKey,
    /// Every node of the cluster: id and peer address.
    pub members: Vec<Member>,
    /// This node's position in `members`; `None` for the operator (see
    /// [`auth`](crate::auth#the-operator)).
    pub me: Option<usize>,
    /// This run's boot number: larger than any earlier run's.
    pub boot: u64,
}

impl std::fmt::Debug for PeerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerAuth")
            .field("members", &self.members)
            .field("me", &self.me)
            .field("boot", &self.boot)
            .finish_non_exhaustive()
    }
}

/// What a node does with an incoming request: returns the reply payload, or
/// `None` to send no reply (the requester will eventually time out).
///
/// Each request runs in its own task, so a slow handler delays only its own
/// reply. A handler may run more than once for one logical request, because
/// requests are retransmitted until a reply gets through: make it idempotent.
///
/// For a closure, use [`handler_fn`].
pub trait Handler: Send + Sync + 'static {
    /// Answers the request `payload` sent by `from`.
    fn handle(
        &self,
        from: SocketAddr,
        payload: Vec<u8>,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send;

    /// Takes a one-way notice (see [`Client::notify`]). Runs on the receive
    /// task, so it must be quick; the default ignores notices.
    fn notice(&self, from: SocketAddr, payload: Vec<u8>) {
        let _ = (from, payload);
    }
}

/// A [`Handler`] made from an async closure; see [`handler_fn`].
#[derive(Debug, Clone)]
pub struct HandlerFn<F>(F);

/// Turns a closure returning a future into a [`Handler`].
///
/// ```
/// use std::sync::Arc;
/// use convene_rpc::socket::handler_fn;
///
/// // Echo every request back.
/// let echo = Arc::new(handler_fn(|_from, payload: Vec<u8>| async move { Some(payload) }));
/// # let _ = echo;
/// ```
pub fn handler_fn<F, Fut>(f: F) -> HandlerFn<F>
where
    F: Fn(SocketAddr, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Vec<u8>>> + Send,
{
    HandlerFn(f)
}

impl<F, Fut> Handler for HandlerFn<F>
where
    F: Fn(SocketAddr, Vec<u8>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Option<Vec<u8>>> + Send,
{
    fn handle(
        &self,
        from: SocketAddr,
        payload: Vec<u8>,
    ) -> impl Future<Output = Option<Vec<u8>>> + Send {
        (self.0)(from, payload)
    }
}

/// A handle for sending requests through a running transport.
///
/// Cheap to clone (one `Arc`), `Send + Sync`: give every task that talks to
/// peers its own clone.
pub struct Client<S = UdpSocket> {
    shared: Arc<Shared<S>>,
}

impl<S> Clone for Client<S> {
    fn clone(&self) -> Self {
        Client {
            shared: self.shared.clone(),
        }
    }
}

impl<S> std::fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("local_addr", &self.shared.local_addr)
            .finish_non_exhaustive()
    }
}

/// Everything the clients, the receive task and the handler tasks share.
struct Shared<S> {
    socket: Arc<S>,
    local_addr: SocketAddr,
    /// Seals each datagram as it leaves, if the transport authenticates.
    sealer: Option<Sealer>,
    /// What the receive task's opener let through and dropped, copied out
    /// after each datagram (the opener itself lives in that task, so the
    /// MAC is checked without holding `state`).
    auth_stats: Option<Mutex<AuthStats>>,
    state: Mutex<State>,
    /// Wakes the receive task to re-read the endpoint's next deadline.
    timer: Notify,
}

/// The part behind the mutex.
struct State {
    endpoint: Endpoint,
    /// The caller waiting on each pending request.
    waiters: HashMap<RequestId, oneshot::Sender<Result<Vec<u8>, RpcError>>>,
    /// Set once the transport has stopped; calls fail fast from then on.
    closed: bool,
}

impl<S> Shared<S> {
    /// Locks the state. A panic while it was held cannot leave the endpoint
    /// half-updated in a way that matters more than stopping the node would,
    /// so a poisoned lock is simply taken over.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: DatagramSocket> Shared<S> {
    /// Sends datagrams, logging failures. A failed send is treated like a
    /// lost datagram: the request's retries cover it.
    async fn send_all(&self, transmits: impl IntoIterator<Item = Transmit>) {
        for t in transmits {
            let Some(data) = self.sealed(&t) else {
                continue;
            };
            if let Err(error) = self.socket.send_to(&data, t.to).await {
                debug!(to = %t.to, %error, "send failed");
            }
        }
    }

    /// Sends datagrams without waiting (see [`send_soon`]).
    fn send_soon_all(&self, transmits: impl IntoIterator<Item = Transmit>) {
        for t in transmits {
            if let Some(data) = self.sealed(&t) {
                send_soon(&self.socket, &data, t.to);
            }
        }
    }
}

impl<S> Shared<S> {
    /// The bytes to put on the wire for `t`: sealed for its receiver if the
    /// transport authenticates. `None` (logged) if `t` goes to an address
    /// that is no member's, which an authenticated transport cannot seal for.
    fn sealed<'t>(&self, t: &'t Transmit) -> Option<std::borrow::Cow<'t, [u8]>> {
        let Some(sealer) = &self.sealer else {
            return Some(std::borrow::Cow::Borrowed(&t.data));
        };
        match sealer.seal(&t.data, t.to, wall_ms()) {
            Some(sealed) => Some(std::borrow::Cow::Owned(sealed)),
            None => {
                debug!(to = %t.to, "not sent: no node of the cluster is at that address");
                None
            }
        }
    }
}

/// The current time, from tokio's clock so a paused test clock applies.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The wall clock in milliseconds since the Unix epoch: what sealed
/// datagrams are stamped with.
fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl<S: DatagramSocket> Client<S> {
    /// Sends `payload` to `to` and waits for the reply payload.
    ///
    /// The request is retransmitted every [`Config::timeout`] until a reply
    /// arrives from `to`, at most [`Config::retries`] times; then the call
    /// fails with [`RpcError::TimedOut`]. It fails at once with
    /// [`RpcError::TooLarge`] if the payload does not fit in one datagram,
    /// and with [`RpcError::Closed`] if the transport has stopped or stops
    /// while waiting.
    ///
    /// Dropping the future cancels the request: no more retransmissions.
    pub async fn call(&self, to: SocketAddr, payload: Vec<u8>) -> Result<Vec<u8>, RpcError> {
        let (tx, rx) = oneshot::channel();
        let (id, transmits, rearm) = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(RpcError::Closed);
            }
            let earliest = state.endpoint.poll_timeout();
            let id = state.endpoint.request(now(), to, payload)?;
            state.waiters.insert(id, tx);
            // With a fixed timeout a new deadline is never earlier than an
            // existing one, so this is true only when nothing was pending:
            // one wake-up per idle period, not one per call.
            let rearm = match (earliest, state.endpoint.poll_timeout()) {
                (None, _) => true,
                (Some(before), Some(after)) => after < before,
                (Some(_), None) => false,
            };
            (id, drain_transmits(&mut state.endpoint), rearm)
        };
        let mut guard = CancelOnDrop {
            shared: &self.shared,
            id,
            armed: true,
        };
        if rearm {
            self.shared.timer.notify_one();
        }
        self.shared.send_all(transmits).await;
        let result = rx.await;
        guard.armed = false;
        // A dropped sender means the transport went away without answering.
        result.unwrap_or(Err(RpcError::Closed))
    }

    /// Sends a one-way notice to `to`: once, no retry, no reply. Must be
    /// called inside the tokio runtime.
    pub fn notify(&self, to: SocketAddr, payload: Vec<u8>) -> Result<(), RpcError> {
        let transmits = {
            let mut state = self.shared.lock();
            if state.closed {
                return Err(RpcError::Closed);
            }
            state.endpoint.notify(to, payload)?;
            drain_transmits(&mut state.endpoint)
        };
        self.shared.send_soon_all(transmits);
        Ok(())
    }

    /// The address the transport's socket is bound to (with port 0 resolved
    /// to the real port).
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.local_addr
    }

    /// The endpoint's traffic counters so far.
    pub fn stats(&self) -> Stats {
        self.shared.lock().endpoint.stats()
    }

    /// What authentication let through and dropped so far, if the
    /// transport authenticates.
    pub fn auth_stats(&self) -> Option<AuthStats> {
        self.shared
            .auth_stats
            .as_ref()
            .map(|stats| *stats.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// This run's boot number, if the transport authenticates.
    pub fn boot(&self) -> Option<u64> {
        self.shared.sealer.as_ref().map(Sealer::boot)
    }
}

/// Cancels a call's request if the call's future is dropped before the
/// outcome arrives, so an abandoned call stops retransmitting.
struct CancelOnDrop<'a, S> {
    shared: &'a Shared<S>,
    id: RequestId,
    armed: bool,
}

impl<S> Drop for CancelOnDrop<'_, S> {
    fn drop(&mut self) {
        if self.armed {
            let mut state = self.shared.lock();
            state.waiters.remove(&self.id);
            state.endpoint.cancel(self.id);
        }
    }
}

/// Marks the transport closed and fails every waiting call with
/// [`RpcError::Closed`]. Held by the receive task, so this happens however
/// the task ends: shutdown, panic, or the runtime dropping it.
struct CloseOnDrop<S>(Arc<Shared<S>>);

impl<S> Drop for CloseOnDrop<S> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        let State {
            endpoint,
            waiters,
            closed,
            ..
        } = &mut *state;
        *closed = true;
        for (id, waiter) in waiters.drain() {
            endpoint.cancel(id);
            let _ = waiter.send(Err(RpcError::Closed));
        }
    }
}

/// Starts the transport on an already bound socket and returns a [`Client`]
/// for it and the handle of its receive task.
///
/// Incoming requests go to `handler`. The transport runs until `shutdown`
/// resolves; then waiting and later calls fail with [`RpcError::Closed`].
/// Handlers already running may still finish, but their replies are not
/// sent.
///
/// Taking a bound socket (rather than an address) lets tests bind port 0 and
/// lets a simulator substitute its own.
///
/// # Panics
///
/// If called outside a tokio runtime.
pub fn start<S: DatagramSocket, H: Handler>(
    socket: S,
    config: Config,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (Client<S>, JoinHandle<()>) {
    start_with(socket, config, None, handler, shutdown)
}

/// As [`start`], but every datagram is sealed and opened with `auth`
/// (see [`auth`](crate::auth)): only the members in `auth` can reach the
/// handler, each datagram acts at most once, and calls can be made only
/// to members.
pub fn start_authenticated<S: DatagramSocket, H: Handler>(
    socket: S,
    config: Config,
    auth: PeerAuth,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (Client<S>, JoinHandle<()>) {
    start_with(socket, config, Some(auth), handler, shutdown)
}

fn start_with<S: DatagramSocket, H: Handler>(
    socket: S,
    config: Config,
    auth: Option<PeerAuth>,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (Client<S>, JoinHandle<()>) {
    let local_addr = socket.local_addr().unwrap_or_else(|error| {
        warn!(%error, "cannot read the socket's local address");
        SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0))
    });
    let (sealer, opener) = match auth {
        None => (None, None),
        Some(auth) => (
            Some(Sealer::new(
                auth.key,
                auth.members.clone(),
                auth.me,
                auth.boot,
            )),
            Some(Opener::new(auth.key, auth.members, auth.me, wall_ms())),
        ),
    };
    let shared = Arc::new(Shared {
        socket: Arc::new(socket),
        local_addr,
        sealer,
        auth_stats: opener.as_ref().map(|_| Mutex::default()),
        state: Mutex::new(State {
            endpoint: Endpoint::new(config, os_random_u64()),
            waiters: HashMap::new(),
            closed: false,
        }),
        timer: Notify::new(),
    });
    let task = tokio::spawn(run(shared.clone(), opener, handler, shutdown));
    (Client { shared }, task)
}

/// The receive task: datagrams in, deadlines, until shutdown.
async fn run<S: DatagramSocket, H: Handler>(
    shared: Arc<Shared<S>>,
    mut opener: Option<Opener>,
    handler: Arc<H>,
    shutdown: impl Future<Output = ()>,
) {
    let _close = CloseOnDrop(shared.clone());
    let limiter = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDLERS));
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut drops = DropLog::default();
    // Reused across iterations so the hot path does not allocate.
    let mut requests = Vec::new();
    let mut transmits = Vec::new();

    // One timer, re-armed in place; `armed` says whether it means anything.
    let sleep = tokio::time::sleep(Duration::ZERO);
    tokio::pin!(sleep, shutdown);
    let mut armed = false;

    loop {
        tokio::select! {
            () = &mut shutdown => break,

            received = shared.socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => {
                    // Authenticated first, outside the lock that callers
                    // and handlers share: a MAC takes a few hundred ns.
                    let opened = match &mut opener {
                        None => Ok(None),
                        Some(opener) => {
                            let opened = opener.open(&buf[..len], from, wall_ms());
                            if let Some(stats) = &shared.auth_stats {
                                *stats.lock().unwrap_or_else(PoisonError::into_inner) = opener.stats();
                            }
                            opened.map(Some).inspect_err(|error| {
                                drops.report(opener.members(), from, error);
                            })
                        }
                    };
                    if let Ok(opened) = opened {
                        let mut state = shared.lock();
                        let handled = match opened {
                            None => state.endpoint.handle_datagram(now(), from, &buf[..len]),
                            Some(opened) => state.endpoint.handle_envelope(now(), from, opened.envelope),
                        };
                        if let Err(error) = handled {
                            debug!(%from, len, %error, "dropped datagram");
                        }
                        dispatch_events(&mut state, &mut requests);
                    }
                    for incoming in requests.drain(..) {
                        match incoming {
                            Incoming::Request(from, id, payload) => {
                                spawn_handler(&shared, &handler, &limiter, from, id, payload)
                            }
                            Incoming::Notice(from, payload) => handler.notice(from, payload),
                        }
                    }
                }
                Err(error) => {
                    if is_peer_error(&error) {
                        debug!(%error, "receive error from a peer's ICMP message");
                    } else {
                        warn!(%error, "receive failed");
                        tokio::time::sleep(RECV_ERROR_BACKOFF).await;
                    }
                }
            },

            () = shared.timer.notified() => {
                armed = rearm(&shared, sleep.as_mut());
            }

            () = &mut sleep, if armed => {
                {
                    let mut state = shared.lock();
                    state.endpoint.handle_timeout(now());
                    dispatch_events(&mut state, &mut requests);
                    transmits.extend(std::iter::from_fn(|| state.endpoint.poll_transmit()));
                }
                shared.send_all(transmits.drain(..)).await;
                armed = rearm(&shared, sleep.as_mut());
            }
        }
    }
    debug!(local_addr = %shared.local_addr, "RPC transport shut down");
}

/// Points the timer at the endpoint's next deadline; returns whether there
/// is one.
fn rearm<S>(shared: &Shared<S>, sleep: std::pin::Pin<&mut tokio::time::Sleep>) -> bool {
    match shared.lock().endpoint.poll_timeout() {
        Some(deadline) => {
            sleep.reset(tokio::time::Instant::from_std(deadline));
            true
        }
        None => false,
    }
}

/// Delivers the endpoint's events: outcomes go to their waiting callers,
/// incoming requests are collected into `requests` for the caller to spawn
/// once the lock is released.
fn dispatch_events(state: &mut State, requests: &mut Vec<Incoming>) {
    while let Some(event) = state.endpoint.poll_event() {
        match event {
            Event::Request { from, id, payload } => {
                requests.push(Incoming::Request(from, id, payload))
            }
            Event::Notice { from, payload } => requests.push(Incoming::Notice(from, payload)),
            Event::Reply { id, payload } => complete(state, id, Ok(payload)),
            Event::Failed { id, error } => complete(state, id, Err(error)),
        }
    }
}

/// Something a peer sent, to run once the lock is released.
enum Incoming {
    /// A request: run the handler, send its reply.
    Request(SocketAddr, RequestId, Vec<u8>),
    /// A one-way notice: hand it to the handler.
    Notice(SocketAddr, Vec<u8>),
}

/// Hands an outcome to the caller waiting for `id`, if it is still waiting.
fn complete(state: &mut State, id: RequestId, outcome: Result<Vec<u8>, RpcError>) {
    if let Some(waiter) = state.waiters.remove(&id) {
        // The caller may have given up in the meantime; that is fine.
        let _ = waiter.send(outcome);
    }
}

/// Runs the handler for one request.
///
/// Most handlers answer without waiting for anything (an intersection, a
/// directory lookup), so the handler is first polled right here: if it is
/// done, its reply goes out at once with a non-blocking send, and no task is
/// spawned. A handler that has to wait (a store write, a lock) moves into its
/// own task, whose first poll registers its real waker.
fn spawn_handler<S: DatagramSocket, H: Handler>(
    shared: &Arc<Shared<S>>,
    handler: &Arc<H>,
    limiter: &Arc<Semaphore>,
    from: SocketAddr,
    id: RequestId,
    payload: Vec<u8>,
) {
    let Ok(permit) = limiter.clone().try_acquire_owned() else {
        debug!(%from, %id, "too many requests in progress; dropping one");
        return;
    };
    let handler = handler.clone();
    let mut work = Box::pin(async move {
        let _permit: OwnedSemaphorePermit = permit;
        handler.handle(from, payload).await
    });
    let mut cx = Context::from_waker(Waker::noop());
    match work.as_mut().poll(&mut cx) {
        Poll::Ready(reply) => {
            let transmits = reply_transmits(shared, from, id, reply);
            shared.send_soon_all(transmits);
        }
        Poll::Pending => {
            let shared = shared.clone();
            tokio::spawn(async move {
                let reply = work.await;
                let transmits = reply_transmits(&shared, from, id, reply);
                shared.send_all(transmits).await;
            });
        }
    }
}

/// Queues a handler's reply (if any) and takes the datagrams to send; none
/// once the transport has stopped.
fn reply_transmits<S>(
    shared: &Shared<S>,
    from: SocketAddr,
    id: RequestId,
    reply: Option<Vec<u8>>,
) -> Vec<Transmit> {
    let Some(reply) = reply else {
        return Vec::new();
    };
    let mut state = shared.lock();
    if state.closed {
        return Vec::new();
    }
    if let Err(error) = state.endpoint.reply(from, id, reply) {
        warn!(%from, %id, %error, "reply not sent");
    }
    drain_transmits(&mut state.endpoint)
}

/// Takes every queued datagram out of the endpoint.
fn drain_transmits(endpoint: &mut Endpoint) -> Vec<Transmit> {
    std::iter::from_fn(|| endpoint.poll_transmit()).collect()
}

/// Logs dropped datagrams at a bounded rate: the first of each reason at
/// once, then at most one line per [`DROP_LOG_EVERY`] saying how many more
/// there were.
#[derive(Default)]
struct DropLog {
    /// Per reason: when it was last logged, and how many were not since.
    last: HashMap<&'static str, (Instant, u64)>,
}

impl DropLog {
    fn report(&mut self, members: &[Member], from: SocketAddr, error: &AuthError) {
        let at = Instant::now();
        let more = match self.last.get_mut(error.reason()) {
            Some((last, suppressed)) if at.duration_since(*last) < DROP_LOG_EVERY => {
                *suppressed += 1;
                return;
            }
            Some((last, suppressed)) => {
                *last = at;
                std::mem::take(suppressed)
            }
            None => {
                self.last.insert(error.reason(), (at, 0));
                0
            }
        };
        let sender = members
            .iter()
            .find(|m| {
                m.addr.ip().to_canonical() == from.ip().to_canonical()
                    && m.addr.port() == from.port()
            })
            .map_or_else(|| format!("{from}"), |m| format!("node {} ({from})", m.id));
        let also = if more > 0 {
            format!(" ({more} more dropped for this reason since the last report)")
        } else {
            String::new()
        };
        warn!("peer datagram from {sender} dropped: {error}{also}");
    }
}

/// Whether a receive error is about one peer (an ICMP error for an earlier
/// send, reported on the next receive on some platforms) rather than about
/// the socket itself.
fn is_peer_error(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}
