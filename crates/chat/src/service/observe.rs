//! The names the chat service records under (see [`convene_metrics`]):
//! each line a client sends is a request of its protocol type (a fixed set,
//! [`ClientMessage::kind`](crate::ClientMessage::kind)), lines sent to
//! clients are counted, and each claim the coordinator decides is a request
//! of its own with the decision as its outcome. No identity or room name
//! is ever a label.

/// The service label.
pub(crate) const SERVICE: &str = "chat";
/// The chat port.
pub(crate) const TCP: &str = "tcp";
/// A browser's connection through the web front.
pub(crate) const WEBSOCKET: &str = "websocket";
/// This server's questions to the coordinator.
pub(crate) const CLUSTER: &str = "cluster";

/// The kind of a line that is no message (not UTF-8, not JSON, an unknown
/// type).
pub(crate) const INVALID: &str = "invalid";

/// Outcomes.
pub(crate) mod outcomes {
    /// A message handled.
    pub const OK: &str = "ok";
    /// A line that is no message: answered with an `error` line.
    pub const BAD_REQUEST: &str = "bad_request";
    /// The coordinator granted a name.
    pub const APPROVED: &str = "approved";
    /// The coordinator refused a name (someone holds it).
    pub const REFUSED: &str = "refused";
    /// No coordinator answered in time: refused to the client.
    pub const NO_COORDINATOR: &str = "no_coordinator";
}

/// Events counted.
pub(crate) mod events {
    /// A line from a client (a message or not).
    pub const MESSAGE_IN: &str = "message_in";
    /// A line queued to a client.
    pub const MESSAGE_OUT: &str = "message_out";
}
