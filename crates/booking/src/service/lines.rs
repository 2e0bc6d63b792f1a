//! The seed server's on-screen lines ("The server prints every request and
//! reply it handles"), worded as the seed prints them.

use std::fmt::{self, Display};
use std::net::SocketAddr;

/// An address as the seed prints it: Python's tuple, `('127.0.0.1', 5000)`.
pub fn addr(a: SocketAddr) -> impl Display {
    fmt::from_fn(move |f| match a {
        SocketAddr::V4(v4) => write!(f, "('{}', {})", v4.ip(), v4.port()),
        SocketAddr::V6(v6) => write!(f, "('{}', {}, 0, 0)", v6.ip(), v6.port()),
    })
}

/// A probability as Python prints a float (`0.0`, `0.2`).
pub fn probability(p: f64) -> impl Display {
    fmt::from_fn(move |f| write!(f, "{p:?}"))
}

/// A list of days as Python prints a list (`[0, 1, 2]`).
pub fn days(days: &[u8]) -> impl Display + '_ {
    fmt::from_fn(move |f| {
        f.write_str("[")?;
        for (i, d) in days.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{d}")?;
        }
        f.write_str("]")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_spellings() {
        assert_eq!(
            addr("127.0.0.1:5000".parse().unwrap()).to_string(),
            "('127.0.0.1', 5000)"
        );
        assert_eq!(
            addr("[::1]:5000".parse().unwrap()).to_string(),
            "('::1', 5000, 0, 0)"
        );
        assert_eq!(probability(0.0).to_string(), "0.0");
        assert_eq!(probability(0.2).to_string(), "0.2");
        assert_eq!(days(&[0, 1, 2]).to_string(), "[0, 1, 2]");
        assert_eq!(days(&[]).to_string(), "[]");
    }
}
