//! Where the service reads the time of day.
//!
//! Deadlines are wall-clock instants (Unix seconds), so the service reads a
//! wall clock: the system's in a node, the simulation's in `sim.rs`. Only
//! the driver reads it; the decisions in [`crate::plan`] are given `now`.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A wall clock: the time since the Unix epoch. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> Duration + Send + Sync>);

impl Clock {
    /// The system's clock.
    pub(crate) fn system() -> Self {
        Clock(Arc::new(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
        }))
    }

    /// A clock that reads `now` (a simulated one).
    #[cfg(test)]
    pub(crate) fn from_fn(now: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    /// Now, in Unix seconds.
    pub(crate) fn seconds(&self) -> i64 {
        (self.0)().as_secs() as i64
    }

    /// How long until this clock reaches `deadline` (Unix seconds), or
    /// `None` if it has.
    pub(crate) fn until(&self, deadline: i64) -> Option<Duration> {
        let deadline = Duration::from_secs(deadline.max(0) as u64);
        deadline.checked_sub((self.0)()).filter(|d| !d.is_zero())
    }
}
