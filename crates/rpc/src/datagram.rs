//! The socket the transport drives, as a trait.
//!
//! The transport needs four things from a UDP socket. Naming them in a trait
//! lets the same driver run on tokio's real sockets and on a simulated
//! network (turmoil's sockets, in tests), so the code under test in a
//! simulation is the code that runs in production.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A datagram socket the transport can drive.
pub trait DatagramSocket: Send + Sync + 'static {
    /// Sends one datagram, waiting for room if the socket is busy.
    fn send_to(&self, buf: &[u8], to: SocketAddr)
    -> impl Future<Output = io::Result<usize>> + Send;
    /// Receives one datagram.
    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send;
    /// Sends one datagram if the socket can take it now (`WouldBlock` if not).
    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize>;
    /// Where the socket is bound.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

/// Most datagrams that may wait in tasks for a busy socket at once, over
/// the whole process; beyond, [`send_soon`] drops (see [`dropped_sends`]).
///
/// A flood of requests whose replies find the socket full would otherwise
/// grow one task and one copy of a datagram per request without bound. At
/// most this many times the largest datagram (64 KiB) is held: 64 MiB.
pub const MAX_PENDING_SENDS: usize = 1024;

static PENDING_SENDS: AtomicUsize = AtomicUsize::new(0);
static DROPPED_SENDS: AtomicU64 = AtomicU64::new(0);

/// Datagrams [`send_soon`] dropped because [`MAX_PENDING_SENDS`] were
/// already waiting, since the process started.
pub fn dropped_sends() -> u64 {
    DROPPED_SENDS.load(Ordering::Relaxed)
}

/// Gives a pending send's place back when its task ends, however it ends.
struct PendingSend;

impl Drop for PendingSend {
    fn drop(&mut self) {
        PENDING_SENDS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Sends `data` to `to` without waiting: at once if the socket can take it,
/// otherwise from a task once it can. The second case is rarer than it
/// sounds: a full send buffer, or a socket the reactor has not yet seen
/// writable (just after it was bound). A failed send is logged and treated
/// as a lost datagram, which every caller of UDP must survive anyway; so is
/// a send beyond [`MAX_PENDING_SENDS`] waiting ones, which is dropped and
/// counted ([`dropped_sends`]).
///
/// Must be called inside the tokio runtime.
pub fn send_soon<S: DatagramSocket>(socket: &Arc<S>, data: &[u8], to: SocketAddr) {
    match socket.try_send_to(data, to) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            if PENDING_SENDS.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING_SENDS {
                PENDING_SENDS.fetch_sub(1, Ordering::Relaxed);
                DROPPED_SENDS.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%to, "datagram dropped: too many sends waiting for the socket");
                return;
            }
            let place = PendingSend;
            let (socket, data) = (socket.clone(), data.to_vec());
            tokio::spawn(async move {
                let _place = place;
                if let Err(error) = socket.send_to(&data, to).await {
                    tracing::debug!(%to, %error, "datagram not sent");
                }
            });
        }
        Err(error) => tracing::debug!(%to, %error, "datagram not sent"),
    }
}

impl DatagramSocket for tokio::net::UdpSocket {
    fn send_to(
        &self,
        buf: &[u8],
        to: SocketAddr,
    ) -> impl Future<Output = io::Result<usize>> + Send {
        tokio::net::UdpSocket::send_to(self, buf, to)
    }

    fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> impl Future<Output = io::Result<(usize, SocketAddr)>> + Send {
        tokio::net::UdpSocket::recv_from(self, buf)
    }

    fn try_send_to(&self, buf: &[u8], to: SocketAddr) -> io::Result<usize> {
        tokio::net::UdpSocket::try_send_to(self, buf, to)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        tokio::net::UdpSocket::local_addr(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that is always full and never drains.
    struct Jammed;

    impl DatagramSocket for Jammed {
        async fn send_to(&self, _: &[u8], _: SocketAddr) -> io::Result<usize> {
            std::future::pending().await
        }
        async fn recv_from(&self, _: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
            std::future::pending().await
        }
        fn try_send_to(&self, _: &[u8], _: SocketAddr) -> io::Result<usize> {
            Err(io::ErrorKind::WouldBlock.into())
        }
        fn local_addr(&self) -> io::Result<SocketAddr> {
            Ok(SocketAddr::from(([127, 0, 0, 1], 9)))
        }
    }

    #[tokio::test]
    async fn a_full_socket_holds_a_bounded_number_of_sends() {
        let socket = Arc::new(Jammed);
        let to = SocketAddr::from(([127, 0, 0, 1], 10));
        let before = dropped_sends();
        for _ in 0..MAX_PENDING_SENDS + 500 {
            send_soon(&socket, &[0u8; 1000], to);
        }
        assert!(PENDING_SENDS.load(Ordering::Relaxed) <= MAX_PENDING_SENDS);
        // Other tests of this process may drop some too; never fewer than ours.
        assert!(dropped_sends() - before >= 500);
        // Strong count: the socket, plus one per waiting task.
        assert!(Arc::strong_count(&socket) <= MAX_PENDING_SENDS + 1);
    }
}
