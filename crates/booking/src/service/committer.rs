//! Group commit: many requests' writes in one SQLite transaction.
//!
//! A request that changes a booking must be on disk, with its reply, before
//! the reply is sent. Committing each alone would cap a node at the disk's
//! commit rate; instead writes queue here, and one task commits whatever has
//! queued since its last commit in a single transaction, then releases every
//! waiting request. An idle node commits each write at once; a busy one
//! commits hundreds per transaction.

use std::sync::Arc;

use convene_store::{BookingWrite, Store};
use tokio::sync::{mpsc, oneshot};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

type Job = (BookingWrite, oneshot::Sender<Result<(), String>>);

/// Queues writes for the commit task.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Committer {
    /// Starts the commit task on `store`. It ends when every `Committer` is gone.
    pub fn start(store: Arc<Store>) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(MAX_BATCH);
            while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
                let writes: Vec<BookingWrite> = batch.iter().map(|(w, _)| w.clone()).collect();
                let store = store.clone();
                let outcome =
                    tokio::task::spawn_blocking(move || store.commit_booking_writes(&writes))
                        .await
                        .map_err(|e| format!("store task failed: {e}"))
                        .and_then(|r| r.map_err(|e| e.to_string()));
                if let Err(e) = &outcome {
                    tracing::error!("cannot store booking changes: {e}");
                }
                for (_, done) in batch.drain(..) {
                    let _ = done.send(outcome.clone());
                }
            }
        });
        Committer { jobs }
    }

    /// Writes `write` durably; returns once it is committed.
    pub async fn commit(&self, write: BookingWrite) -> Result<(), String> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send((write, done))
            .map_err(|_| "the store is closed".to_string())?;
        wait.await.map_err(|_| "the store is closed".to_string())?
    }
}
