//! Graceful shutdown as one small type every task holds.
//!
//! The node's owner keeps a [`ShutdownTrigger`]; every task gets a clone of
//! [`Shutdown`] and either polls [`Shutdown::is_triggered`] or awaits
//! [`Shutdown::wait`] inside a `select!`. Built on a `watch` channel so a task
//! that subscribes after the trigger still sees it.

use tokio::sync::watch;

/// Tells the tasks of a node to stop.
#[derive(Debug)]
pub struct ShutdownTrigger {
    tx: watch::Sender<bool>,
}

/// A task's view of the node's shutdown signal.
#[derive(Clone, Debug)]
pub struct Shutdown {
    rx: watch::Receiver<bool>,
}

impl Shutdown {
    /// A new signal and the trigger that fires it.
    pub fn new() -> (ShutdownTrigger, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (ShutdownTrigger { tx }, Shutdown { rx })
    }

    /// Whether shutdown has begun.
    pub fn is_triggered(&self) -> bool {
        *self.rx.borrow()
    }

    /// Resolves once shutdown has begun (at once if it already has, or if the
    /// trigger was dropped: an owner that vanished cannot keep a node alive).
    pub async fn wait(&self) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

impl ShutdownTrigger {
    /// Begins shutdown; every [`Shutdown::wait`] resolves.
    pub fn trigger(&self) {
        let _ = self.tx.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn late_subscribers_see_the_trigger() {
        let (trigger, shutdown) = Shutdown::new();
        assert!(!shutdown.is_triggered());
        trigger.trigger();
        let late = shutdown.clone();
        late.wait().await;
        assert!(late.is_triggered());
    }

    #[tokio::test]
    async fn dropping_the_trigger_releases_waiters() {
        let (trigger, shutdown) = Shutdown::new();
        drop(trigger);
        shutdown.wait().await;
    }
}
