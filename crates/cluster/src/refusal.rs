//! Telling a refused connection why, without letting the telling become
//! the next thing a flood exhausts.
//!
//! A front door that is over its [connection
//! limits](crate::admission::ConnectionLimiter) still accepts each new
//! connection (the kernel has already completed the handshake; leaving it in
//! the accept queue would only make everyone behind it wait), writes one
//! short refusal in the protocol's own terms (HTTP's 503, a chat `error`
//! line, a meet `error` line) and closes. Two rules keep that cheap:
//!
//! - [`Refusals`] runs at most a fixed number of refusals at once, each for
//!   a bounded time. Past that, a refused connection is closed without a
//!   word: a flood gets silence, and the node keeps its descriptors.
//! - [`say_and_close`] *lingers*: after writing, it closes its sending side
//!   and reads (and discards) whatever the client had already sent, until
//!   the client closes too. Closing a socket whose input was never read
//!   makes the kernel send a reset, and a reset can reach the client before
//!   it has read the refusal, which it would then never see.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Semaphore;

/// Refusals under way at once, per front door.
pub const REFUSALS_AT_ONCE: usize = 64;

/// How long one refusal may take (writing it, and lingering).
pub const REFUSAL_WITHIN: Duration = Duration::from_secs(2);

/// What a refusal reads of the client's input, at most, before closing.
const LINGER_BYTES: u64 = 64 * 1024;

/// Refused connections being told so. Cheap to clone; clones share the
/// count. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Refusals {
    slots: Arc<Semaphore>,
    within: Duration,
}

impl Default for Refusals {
    fn default() -> Self {
        Refusals::new(REFUSALS_AT_ONCE, REFUSAL_WITHIN)
    }
}

impl Refusals {
    /// At most `at_once` refusals under way, each cut off after `within`.
    pub fn new(at_once: usize, within: Duration) -> Self {
        Refusals {
            slots: Arc::new(Semaphore::new(at_once.max(1))),
            within,
        }
    }

    /// Runs `tell` (which owns the connection, writes the refusal and
    /// closes) in a task of its own, for at most the time allowed. If as
    /// many refusals as allowed are already under way, `tell` is dropped at
    /// once, and with it the connection.
    pub fn spawn<F>(&self, tell: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let Ok(slot) = self.slots.clone().try_acquire_owned() else {
            return;
        };
        let within = self.within;
        tokio::spawn(async move {
            let _ = tokio::time::timeout(within, tell).await;
            drop(slot);
        });
    }
}

/// Writes `message`, closes the sending side, then reads and discards what
/// the client sends until it closes (at most 64 KiB). Errors end it quietly:
/// the client is being turned away either way. Bound it in time with
/// [`Refusals::spawn`].
pub async fn say_and_close<S>(mut stream: S, message: &[u8])
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if stream.write_all(message).await.is_err() || stream.shutdown().await.is_err() {
        return;
    }
    let _ = tokio::io::copy(
        &mut (&mut stream).take(LINGER_BYTES),
        &mut tokio::io::sink(),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn the_client_reads_the_refusal_even_after_sending_first() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusals = Refusals::default();
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"a request the server never reads\n")
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        refusals.spawn(say_and_close(server, b"go away\n"));
        let mut heard = String::new();
        client.read_to_string(&mut heard).await.unwrap();
        assert_eq!(heard, "go away\n");
    }

    #[tokio::test]
    async fn past_the_limit_a_refused_connection_is_just_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let refusals = Refusals::new(1, Duration::from_secs(10));
        // The one slot: a refusal that waits for ever.
        refusals.spawn(std::future::pending());
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        refusals.spawn(say_and_close(server, b"go away\n"));
        let mut heard = Vec::new();
        let _ = client.read_to_end(&mut heard).await;
        assert!(heard.is_empty());
    }
}
