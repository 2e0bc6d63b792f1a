//! The socket the transport drives, as a trait.
//!
//! The transport needs four things from a UDP socket. Naming them in a trait
//! lets the same driver run on tokio's real sockets and on a simulated
//! network (turmoil's sockets, in tests), so the code under test in a
//! simulation is the code that runs in production.

use std::future::Future;
use std::io;
use std::net::SocketAddr;

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
