//! Group commit: many requests' writes in one SQLite transaction.
//!
//! A request that changes a booking must be on disk, with its reply, before
//! the reply is sent. Committing each alone would cap a node at the disk's
//! commit rate; instead writes queue here, and one thread commits whatever
//! has queued since its last commit in a single transaction, then releases
//! every waiting request. An idle node commits each write at once (one
//! wake-up each way); a busy one commits hundreds per transaction.
//!
//! The committer is a plain thread blocked on a channel rather than a task
//! that hands each batch to tokio's blocking pool: that would add a thread
//! hand-off to every commit, which is most of the cost at low load.

use std::sync::Arc;
use std::sync::mpsc;

use convene_store::{BookingWrite, Store};
use tokio::sync::oneshot;

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

type Job = (BookingWrite, oneshot::Sender<Result<(), String>>);

/// Queues writes for the commit thread.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
}

impl Committer {
    /// Starts the commit thread on `store`. It ends when every `Committer`
    /// is gone, after committing what was queued.
    pub fn start(store: Arc<Store>) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("booking-store".into())
            .spawn(move || {
                let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
                let mut writes: Vec<BookingWrite> = Vec::with_capacity(MAX_BATCH);
                while let Ok(first) = queue.recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    writes.extend(batch.iter().map(|(w, _)| w.clone()));
                    let outcome = store
                        .commit_booking_writes(&writes)
                        .map_err(|e| e.to_string());
                    if let Err(e) = &outcome {
                        tracing::error!("cannot store booking changes: {e}");
                    }
                    writes.clear();
                    for (_, done) in batch.drain(..) {
                        let _ = done.send(outcome.clone());
                    }
                }
            })
            .expect("spawning the booking store thread");
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
