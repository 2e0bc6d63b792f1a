//! Errors of the meet service.

use crate::availability::AvailabilityError;

/// Why the meet service could not start.
#[derive(Debug, thiserror::Error)]
pub enum MeetError {
    /// The availability file is missing or malformed; nothing was loaded.
    #[error(transparent)]
    Availability(#[from] AvailabilityError),
    /// The node's store could not be read.
    #[error(transparent)]
    Store(#[from] convene_store::StoreError),
    /// The peer router already has a meet service (a programming error).
    #[error("the meet service is already registered on this node")]
    AlreadyRegistered,
}
