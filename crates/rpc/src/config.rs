//! [`Config`]: the knobs of the request/reply protocol.

use std::time::Duration;

/// How an [`Endpoint`](crate::Endpoint) times out, retries and bounds
/// datagrams.
///
/// With the defaults a request is sent up to four times, 500 ms apart, so a
/// peer that never answers is reported after about two seconds.
///
/// ```
/// use std::time::Duration;
/// use convene_rpc::Config;
///
/// let fast = Config { timeout: Duration::from_millis(50), ..Config::default() };
/// assert_eq!(fast.retries, 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How long to wait for a reply to one attempt before sending the
    /// request again (or giving up, after the last attempt).
    pub timeout: Duration,
    /// Extra attempts after the first send: a request is sent at most
    /// `retries + 1` times.
    pub retries: u32,
    /// Largest datagram, header included, that the endpoint will produce.
    ///
    /// The default stays under the 65,507-byte limit of a UDP payload over
    /// IPv4, and the transport's 64 KiB receive buffer, so nothing is
    /// truncated in flight. Peers that cross real networks may want a value
    /// under the path MTU (about 1,200 bytes) to avoid IP fragmentation.
    pub max_datagram: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            timeout: Duration::from_millis(500),
            retries: 3,
            max_datagram: 65_000,
        }
    }
}
