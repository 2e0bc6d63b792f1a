//! The names the files service records under (see [`convene_metrics`]):
//! chunks served and files fetched, announcements taken, lock requests.
//! Every label is a name from here, never a path or an account.
//!
//! A fetch is one request (kind `fetch`, at the node that downloads) with
//! its outcome; each chunk served is one request (kind `chunk`, at the
//! node that serves it); the bytes both ways are counted as events
//! (`bytes_fetched`, `bytes_served`).

use super::content::FetchError;
use crate::peer_msg::{FilesReply, LockAction};

/// The service label.
pub(crate) const SERVICE: &str = "files";
/// Requests from other nodes over the peer transport.
pub(crate) const PEER: &str = "peer";
/// Requests from code on this node (the web front, through
/// [`Files`](super::Files)).
pub(crate) const WEB: &str = "web";

/// Request kinds.
pub(crate) mod kinds {
    /// A chunk of a file served to another node.
    pub const CHUNK: &str = "chunk";
    /// A whole file brought over from another node.
    pub const FETCH: &str = "fetch";
    /// Another node's record of a file, announced to this one.
    pub const ANNOUNCE: &str = "announce";
}

/// Events counted.
pub(crate) mod events {
    /// Content bytes sent to other nodes.
    pub const BYTES_SERVED: &str = "bytes_served";
    /// Content bytes received from other nodes.
    pub const BYTES_FETCHED: &str = "bytes_fetched";
    /// Chunks received from other nodes.
    pub const CHUNKS_FETCHED: &str = "chunks_fetched";
}

/// A lock request's kind.
pub(crate) fn lock_kind(action: LockAction) -> &'static str {
    match action {
        LockAction::Lock => "lock",
        LockAction::Unlock => "unlock",
        LockAction::ForceUnlock => "break",
    }
}

/// What an answer says became of a request: `ok`, or why not.
pub(crate) fn reply_outcome(reply: &FilesReply) -> &'static str {
    match reply {
        FilesReply::Refused(..) => "refused",
        FilesReply::Busy => "busy",
        FilesReply::Gone => "gone",
        FilesReply::NoFolder => "no_folder",
        FilesReply::Failed(_) => "error",
        FilesReply::StaleSnapshot => "stale",
        FilesReply::Listing { .. }
        | FilesReply::Records { .. }
        | FilesReply::Chunk { .. }
        | FilesReply::Ack
        | FilesReply::Locked(_)
        | FilesReply::LockDone(_)
        | FilesReply::Lock(_) => "ok",
    }
}

/// What became of a fetch.
pub(crate) fn fetch_outcome(result: &Result<(), FetchError>) -> &'static str {
    match result {
        Ok(()) => "ok",
        Err(FetchError::Path(_)) => "refused",
        Err(FetchError::NoAnswer) => "no_answer",
        Err(FetchError::Gone) => "gone",
        Err(FetchError::Transfer(_)) => "bad_transfer",
        Err(FetchError::Io(_)) => "io_error",
        Err(FetchError::ChangedHere) => "changed_here",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer_msg::Refusal;

    #[test]
    fn lock_answers_have_bounded_outcomes() {
        assert_eq!(reply_outcome(&FilesReply::LockDone("locked".into())), "ok");
        assert_eq!(
            reply_outcome(&FilesReply::Refused(Refusal::Held, "held by ada".into())),
            "refused"
        );
        assert_eq!(reply_outcome(&FilesReply::Busy), "busy");
        assert_eq!(lock_kind(LockAction::ForceUnlock), "break");
        assert_eq!(fetch_outcome(&Err(FetchError::NoAnswer)), "no_answer");
    }
}
