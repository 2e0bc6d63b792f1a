//! The accept loop of every TCP front door (meet's `client_port`, chat's
//! `chat_port`, the web front's `http_port`), in the shape of mini-redis'
//! `server.rs`, written once.
//!
//! [`accept_until`] takes connections until the shutdown, with one rule:
//!
//! 1. **An accept error about one connection** (it was aborted, refused or
//!    reset while waiting in the queue) is skipped at once: the listener is
//!    fine, and the next connection is already there.
//! 2. **Any other accept error** (usually the process out of file
//!    descriptors, or the kernel out of buffers) is logged and waited out,
//!    1 ms the first time, doubling up to 1 s, back to 1 ms after the next
//!    success. Spinning would only burn the CPU the node needs to close
//!    connections and give descriptors back. The wait ends at the shutdown.
//! 3. **A connection past a cap** of the front door's
//!    [`ConnectionLimiter`] is told why by the front door's refusal, run
//!    under [`Refusals`] (bounded in number and in time; past that, closed
//!    without a word).
//! 4. **An admitted connection** runs the future the front door makes for
//!    it, holding its [`ConnectionPermit`], in a [`JoinSet`]. Connections are
//!    reaped as they end, so the set holds only open ones; at the shutdown
//!    the listener is closed and the set handed back: the web front drains
//!    it, meet and chat detach it (their connections watch the shutdown
//!    themselves).

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use crate::admission::{ConnectionLimiter, ConnectionPermit, Refused};
use crate::refusal::Refusals;

/// The first wait after an accept error.
pub const FIRST_PAUSE: Duration = Duration::from_millis(1);

/// The longest wait between two failing accepts.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// Where connections come from: a bound [`TcpListener`], or a test's
/// stand-in.
pub trait Listener: Send {
    /// One accepted connection.
    type Stream: Send + 'static;

    /// The next connection and its peer's address. Must be cancel safe, as
    /// [`TcpListener::accept`] is: the loop drops it at the shutdown.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Stream, SocketAddr)>> + Send;
}

impl Listener for TcpListener {
    type Stream = TcpStream;

    fn accept(&mut self) -> impl Future<Output = io::Result<(TcpStream, SocketAddr)>> + Send {
        TcpListener::accept(self)
    }
}

/// Accepts connections on `listener` until `shutdown` resolves; see the
/// [module docs](self) for the rule. `door` names the front door in logs
/// ("meet", "chat", "web").
///
/// `admitted` makes the future that serves an admitted connection (it must
/// keep the permit for as long as the connection is open); `refused` makes
/// the future that tells a refused one why and closes it. Returns the
/// connections still open, with the listener already closed.
pub async fn accept_until<L, A, F, R, G>(
    door: &'static str,
    mut listener: L,
    limiter: ConnectionLimiter,
    shutdown: impl Future<Output = ()>,
    mut admitted: A,
    mut refused: R,
) -> JoinSet<()>
where
    L: Listener,
    A: FnMut(L::Stream, SocketAddr, ConnectionPermit) -> F,
    F: Future<Output = ()> + Send + 'static,
    R: FnMut(L::Stream, Refused) -> G,
    G: Future<Output = ()> + Send + 'static,
{
    let refusals = Refusals::default();
    let mut connections = JoinSet::new();
    let mut pause = Pause::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    pause.reset();
                    match limiter.admit(peer.ip()) {
                        Ok(permit) => {
                            connections.spawn(admitted(stream, peer, permit));
                        }
                        Err(why) => {
                            tracing::debug!(door, %peer, refused = %why, "connection refused");
                            refusals.spawn(refused(stream, why));
                        }
                    }
                }
                Err(error) if is_about_one_connection(&error) => {}
                Err(error) => {
                    let wait = pause.after_error();
                    tracing::warn!(door, %error, "accept failed; retrying in {wait:?}");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = &mut shutdown => break,
                    }
                }
            },
            // Reap finished connections, so the set holds only open ones.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    connections
}

/// Whether an accept error concerns only the connection being accepted
/// (gone before we took it), not the listener: nothing to wait for.
pub fn is_about_one_connection(error: &io::Error) -> bool {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    matches!(
        error.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    )
}

/// The wait after a failing accept: [`FIRST_PAUSE`], doubling up to
/// [`LONGEST_PAUSE`], from the start again after a success.
#[derive(Debug)]
struct Pause {
    next: Duration,
}

impl Default for Pause {
    fn default() -> Self {
        Pause { next: FIRST_PAUSE }
    }
}

impl Pause {
    fn after_error(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(LONGEST_PAUSE);
        wait
    }

    fn reset(&mut self) {
        self.next = FIRST_PAUSE;
    }
}

#[cfg(test)]
mod tests;
