//! [`FolderWatcher`]: the OS file watcher on the shared folder (inotify on
//! Linux), debounced.
//!
//! An editor saving a file produces a burst of events (create, several
//! writes, a rename over the original). The debouncer waits until a path has
//! been quiet for [`QUIET`] and hands over one batch, so a file is looked at
//! once its writer has paused rather than at every write; a file still being
//! written when looked at is caught anyway, since its content will not match
//! what is announced by the time a peer fetches it, and the next quiet
//! moment announces it again. The paths go to the sync task's queue of what
//! this node noticed ([`Noticed`]), where a burst is coalesced, never
//! dropped; the task looks at each and announces what changed.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use notify_debouncer_full::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::queue::Noticed;

/// How long a path must be quiet before it is looked at: short, because
/// the target is a change on every node within 200 ms.
pub const QUIET: Duration = Duration::from_millis(50);

/// A running watcher of the shared folder; dropping it stops watching.
pub(crate) struct FolderWatcher {
    _debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl FolderWatcher {
    /// Starts watching the folder at `root` (created if missing), telling
    /// `noticed` what changed; `None` (logged) if the OS refuses, in which
    /// case changes are still found by the next walk.
    pub fn start(root: &Path, noticed: Arc<Noticed>) -> Option<FolderWatcher> {
        let handler = move |result: DebounceEventResult| match result {
            Ok(events) => {
                let paths: Vec<_> = events
                    .into_iter()
                    .flat_map(|event| event.event.paths)
                    .collect();
                if !paths.is_empty() {
                    noticed.changed(paths);
                }
            }
            Err(errors) => {
                for e in errors {
                    tracing::warn!("file watcher: {e}");
                }
            }
        };
        let mut debouncer = match new_debouncer(QUIET, None, handler) {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("cannot start the file watcher: {e}");
                return None;
            }
        };
        let _ = std::fs::create_dir_all(root);
        if let Err(e) = debouncer.watch(root, RecursiveMode::Recursive) {
            tracing::warn!(root = %root.display(), "cannot watch the shared folder: {e}");
            return None;
        }
        Some(FolderWatcher {
            _debouncer: debouncer,
        })
    }
}
