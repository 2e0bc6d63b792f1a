//! The OS file watcher on the shared folder (inotify on Linux), debounced.
//!
//! An editor saving a file produces a burst of events (create, several
//! writes, a rename over the original). The debouncer waits until a path has
//! been quiet for [`QUIET`] and hands over one batch, so a file is looked at
//! once its writer has paused rather than at every write; a file still being
//! written when looked at is caught anyway, since its content will not match
//! what is announced by the time a peer fetches it, and the next quiet
//! moment announces it again. The paths go to the sync task, which looks at
//! each and announces what changed. A burst is coalesced there, never
//! dropped (see `queue.rs`).

use std::time::Duration;

use notify_debouncer_full::notify::RecursiveMode;
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::sync::Sync;

/// How long a path must be quiet before it is looked at: short, because
/// the target is a change on every node within 200 ms.
pub const QUIET: Duration = Duration::from_millis(50);

/// A running watcher; dropping it stops watching.
pub(crate) type Watcher =
    Debouncer<notify_debouncer_full::notify::RecommendedWatcher, RecommendedCache>;

/// Starts watching `sync`'s folder; `None` (logged) if the OS refuses, in
/// which case changes are still found at the next start.
pub(crate) fn start(sync: &Sync) -> Option<Watcher> {
    let noticed = sync.noticed();
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
    let _ = std::fs::create_dir_all(&sync.root);
    if let Err(e) = debouncer.watch(&sync.root, RecursiveMode::Recursive) {
        tracing::warn!(root = %sync.root.display(), "cannot watch the shared folder: {e}");
        return None;
    }
    Some(debouncer)
}
