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

/// Sends `data` to `to` without waiting: at once if the socket can take it,
/// otherwise from a task once it can. The second case is rarer than it
/// sounds: a full send buffer, or a socket the reactor has not yet seen
/// writable (just after it was bound). A failed send is logged and treated
/// as a lost datagram, which every caller of UDP must survive anyway.
///
/// Must be called inside the tokio runtime.
pub fn send_soon<S: DatagramSocket>(socket: &Arc<S>, data: &[u8], to: SocketAddr) {
    match socket.try_send_to(data, to) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            let (socket, data) = (socket.clone(), data.to_vec());
            tokio::spawn(async move {
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
