//! [`Stats`]: counters an [`Endpoint`](crate::Endpoint) keeps about its traffic.

/// Running totals since the endpoint was created.
///
/// The counters nest: `retransmitted` is part of `sent`, and
/// `dropped_malformed` and `dropped_unexpected` are part of `received`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Datagrams queued for sending: first attempts, retransmissions and
    /// replies.
    pub sent: u64,
    /// Requests sent again because an attempt timed out.
    pub retransmitted: u64,
    /// Datagrams handed to [`Endpoint::handle_datagram`](crate::Endpoint::handle_datagram).
    pub received: u64,
    /// Received datagrams dropped because they were not a valid envelope.
    pub dropped_malformed: u64,
    /// Received replies dropped because they matched no pending request or
    /// came from the wrong address.
    pub dropped_unexpected: u64,
    /// Requests that failed with [`RpcError::TimedOut`](crate::RpcError::TimedOut).
    pub timed_out: u64,
}
