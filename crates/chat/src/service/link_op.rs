//! [`LinkOp`]: what a chat server tells the coordinator, as the hub and the
//! client handling queue it for the [link](super::link) to send in order.
//!
//! A leaf, so that the hub and the node that queue these and the link that
//! sends them need not know each other.

use crate::registry::Kind;
use crate::server::Claim;

/// Something to tell the coordinator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum LinkOp {
    /// "I am up" (sent first, so a restart is noticed before any claim).
    Hello,
    /// A claim the server made; answered with `decide`.
    Claim(Claim),
    /// A name the server no longer uses.
    Release(Kind, String),
    /// An identity whose `movejoin` the server accepted.
    Moved {
        /// The identity.
        identity: String,
        /// The room it left on its former server.
        former: String,
    },
}
