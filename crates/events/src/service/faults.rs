//! Faults a test injects into the events service.
//!
//! A test that kills a leader in the middle of its work, or checks the
//! safety net under the coordinator, needs the service to misbehave in one
//! precise way. It passes the faults in [`EventsContext::faults`]; a node
//! process gets them from the hidden `convene node --fault` flag, which is
//! for tests only. The default is no fault, and nothing but a test sets
//! one: production code reads no environment variable for them.
//!
//! [`EventsContext::faults`]: super::EventsContext::faults

use std::time::Duration;

/// The faults to inject: none by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventsFaults {
    /// A leader waits this long between collecting the servers' partials
    /// and storing the result (to kill it in between).
    pub pause_before_store: Option<Duration>,
    /// The coordinator never hands a dead server's share over (to see the
    /// sweep's safety net work alone).
    pub no_hand_over: bool,
}
