//! The main nodes a client may ask, in the order it tries them.
//!
//! Every main node of a cluster talks to every backend and answers alike,
//! so a client may be given several: it uses the first that answers and
//! moves on to the next when one stops answering (see
//! [`Connection`](super::Connection)).

use std::fmt;
use std::net::SocketAddr;

/// One or more main-node addresses, none twice, in the order to try them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MainServers(Vec<SocketAddr>);

/// Why a list of main nodes cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ServersError {
    /// No address at all.
    #[error("no Main Server given: name at least one HOST:PORT")]
    Empty,
    /// One address twice (perhaps under two names, as `localhost` and
    /// `127.0.0.1`): failing over to it again would only repeat a failure.
    #[error("the Main Server {0} is listed twice")]
    Duplicate(SocketAddr),
}

impl MainServers {
    /// Checks a list: at least one address, none twice.
    pub fn new(list: Vec<SocketAddr>) -> Result<Self, ServersError> {
        if list.is_empty() {
            return Err(ServersError::Empty);
        }
        for (i, addr) in list.iter().enumerate() {
            if list[..i].contains(addr) {
                return Err(ServersError::Duplicate(*addr));
            }
        }
        Ok(MainServers(list))
    }

    /// The addresses, in order.
    pub fn as_slice(&self) -> &[SocketAddr] {
        &self.0
    }

    /// How many there are (at least one).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always `false`: a list has at least one address.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<SocketAddr> for MainServers {
    fn from(one: SocketAddr) -> Self {
        MainServers(vec![one])
    }
}

impl fmt::Display for MainServers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, addr) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{addr}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_list_needs_one_address_and_none_twice() {
        assert_eq!(MainServers::new(vec![]), Err(ServersError::Empty));
        assert_eq!(
            MainServers::new(vec![addr(1), addr(2), addr(1)]),
            Err(ServersError::Duplicate(addr(1)))
        );
        let two = MainServers::new(vec![addr(2), addr(1)]).unwrap();
        assert_eq!(two.as_slice(), [addr(2), addr(1)], "the order is kept");
        assert_eq!(two.to_string(), "127.0.0.1:2, 127.0.0.1:1");
        assert_eq!(MainServers::from(addr(3)).len(), 1);
        assert!(
            ServersError::Duplicate(addr(1))
                .to_string()
                .contains("127.0.0.1:1 is listed twice")
        );
    }
}
