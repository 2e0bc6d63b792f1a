//! `convene node --socket KIND=FD` (hidden, for tests): sockets the
//! starting process bound and handed down, used instead of binding.
//!
//! Nodes in separate processes must know each other's peer ports before
//! any starts, so those cannot be 0 in a shared cluster file. A test that
//! found a free port, let it go and wrote it down would race every other
//! program on the machine for it; instead the test binds the socket itself,
//! writes its port in the cluster file, and hands the socket to the child
//! as an open file descriptor (as a service manager's socket activation
//! does). The test keeps its own copy, so a node killed and started again
//! gets the very same socket back.

use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::str::FromStr;

use anyhow::{Context, bail};
use convene_node::Inherited;

/// Which of a node's sockets an inherited descriptor is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// `peer_port` (UDP).
    Peer,
    /// `client_port` (TCP).
    Client,
    /// `booking_port` (UDP).
    Booking,
    /// `chat_port` (TCP).
    Chat,
    /// `http_port` (TCP).
    Http,
    /// `metrics_port` (TCP).
    Metrics,
}

/// One `--socket KIND=FD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InheritedSocket {
    /// Which socket.
    pub kind: SocketKind,
    /// The descriptor it is open on in this process.
    pub fd: RawFd,
}

impl FromStr for InheritedSocket {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (kind, fd) = text
            .split_once('=')
            .ok_or_else(|| format!("{text:?}: expected KIND=FD, e.g. peer=3"))?;
        let kind = match kind {
            "peer" => SocketKind::Peer,
            "client" => SocketKind::Client,
            "booking" => SocketKind::Booking,
            "chat" => SocketKind::Chat,
            "http" => SocketKind::Http,
            "metrics" => SocketKind::Metrics,
            _ => {
                return Err(format!(
                    "{kind:?}: one of peer, client, booking, chat, http, metrics"
                ));
            }
        };
        let fd = fd
            .parse::<RawFd>()
            .ok()
            .filter(|fd| *fd > 2)
            .ok_or_else(|| format!("{fd:?} is not a descriptor above 2"))?;
        Ok(InheritedSocket { kind, fd })
    }
}

/// Takes ownership of the handed-down descriptors. Call it before this
/// process opens anything that outlives the call (the runtime, the store):
/// until then the only descriptors open above 2 are the inherited ones.
pub fn adopt(sockets: &[InheritedSocket]) -> anyhow::Result<Inherited> {
    let mut inherited = Inherited::default();
    for (i, socket) in sockets.iter().enumerate() {
        if sockets[..i]
            .iter()
            .any(|s| s.fd == socket.fd || s.kind == socket.kind)
        {
            bail!("--socket {:?}={} is given twice", socket.kind, socket.fd);
        }
        let fd = take(socket.fd)?;
        match socket.kind {
            SocketKind::Peer => inherited.peer = Some(fd.into()),
            SocketKind::Client => inherited.client = Some(fd.into()),
            SocketKind::Booking => inherited.booking = Some(fd.into()),
            SocketKind::Chat => inherited.chat = Some(fd.into()),
            SocketKind::Http => inherited.http = Some(fd.into()),
            SocketKind::Metrics => inherited.metrics = Some(fd.into()),
        }
    }
    Ok(inherited)
}

/// Owns descriptor `fd`, checked open, and closed again on exec.
fn take(fd: RawFd) -> anyhow::Result<OwnedFd> {
    // SAFETY: the borrow lasts only for the check; a descriptor that is not
    // open makes the call fail with EBADF, which is all it asks.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    rustix::io::fcntl_getfd(borrowed)
        .with_context(|| format!("--socket: descriptor {fd} is not open"))?;
    // SAFETY: the descriptor is open (checked above), was handed down for
    // this flag, is taken once (`adopt` refuses repeats), and nothing else
    // in this process owns it: `adopt` runs before the process opens
    // anything it keeps, so the only descriptors above 2 are inherited.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // A program this node starts should not inherit it in turn.
    rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)
        .with_context(|| format!("--socket: descriptor {fd}"))?;
    Ok(owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_equals_descriptor() {
        let parsed: InheritedSocket = "chat=4".parse().unwrap();
        assert_eq!(
            parsed,
            InheritedSocket {
                kind: SocketKind::Chat,
                fd: 4
            }
        );
        for bad in ["peer", "peer=x", "peer=2", "udp=3", "=3"] {
            assert!(bad.parse::<InheritedSocket>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_descriptor_not_open_is_refused() {
        let error = adopt(&[InheritedSocket {
            kind: SocketKind::Peer,
            fd: 100_000,
        }])
        .unwrap_err();
        assert!(error.to_string().contains("not open"), "{error}");
    }
}
