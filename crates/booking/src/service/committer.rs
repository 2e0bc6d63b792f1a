//! Group commit: many requests' writes in one database transaction.
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
//!
//! The queue is bounded ([`MAX_QUEUED`]): a request takes a place
//! ([`Committer::reserve`]) before it changes anything, and gives it back
//! once its write is committed. When every place is taken (a flood faster
//! than the disk), the request is dropped unanswered before it touches any
//! state, and the client's retry comes back later.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use tokio::sync::oneshot;

use crate::db::{BookingDb, Committed, FencedWrite};

/// Most writes in one transaction.
const MAX_BATCH: usize = 512;

/// Most writes queued or being committed at once.
pub const MAX_QUEUED: usize = 8 * MAX_BATCH;

type Job = (
    FencedWrite,
    Place,
    oneshot::Sender<Result<Committed, String>>,
);

/// Queues writes for the commit thread.
#[derive(Clone)]
pub struct Committer {
    jobs: mpsc::Sender<Job>,
    queued: Arc<AtomicUsize>,
}

/// A place in the commit queue, given back when dropped (after the commit,
/// or unused).
pub struct Place {
    queued: Arc<AtomicUsize>,
}

impl Drop for Place {
    fn drop(&mut self) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Committer {
    /// Starts the commit thread on `db`. It ends when every `Committer`
    /// is gone, after committing what was queued.
    pub fn start(db: Arc<dyn BookingDb>) -> Self {
        // Unbounded as a channel, bounded by the places: a job carries one.
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("booking-store".into())
            .spawn(move || {
                let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
                let mut writes: Vec<FencedWrite> = Vec::with_capacity(MAX_BATCH);
                while let Ok(first) = queue.recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    writes.extend(batch.iter().map(|(w, _, _)| w.clone()));
                    let outcome = db.commit(&writes).map_err(|e| e.to_string());
                    if let Err(e) = &outcome {
                        tracing::error!("cannot store booking changes: {e}");
                    }
                    writes.clear();
                    for (i, (_, place, done)) in batch.drain(..).enumerate() {
                        drop(place);
                        let _ = done.send(match &outcome {
                            Ok(each) => Ok(each.get(i).copied().unwrap_or(Committed::Fenced)),
                            Err(e) => Err(e.clone()),
                        });
                    }
                }
            })
            .expect("spawning the booking store thread");
        Committer {
            jobs,
            queued: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// A place in the queue, or `None` if [`MAX_QUEUED`] writes are waiting.
    pub fn reserve(&self) -> Option<Place> {
        if self.queued.fetch_add(1, Ordering::Relaxed) >= MAX_QUEUED {
            self.queued.fetch_sub(1, Ordering::Relaxed);
            return None;
        }
        Some(Place {
            queued: self.queued.clone(),
        })
    }

    /// Writes `write` durably in the place taken for it; returns once it is
    /// committed, or refused by the fence.
    pub async fn commit(&self, place: Place, write: FencedWrite) -> Result<Committed, String> {
        let (done, wait) = oneshot::channel();
        self.jobs
            .send((write, place, done))
            .map_err(|_| "the store is closed".to_string())?;
        wait.await.map_err(|_| "the store is closed".to_string())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_has_a_bounded_number_of_places() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::sqlite::SqliteBookingDb::open(&dir.path().join("b.db")).unwrap();
        let committer = Committer::start(Arc::new(db));
        let places: Vec<Place> = (0..MAX_QUEUED).map_while(|_| committer.reserve()).collect();
        assert_eq!(places.len(), MAX_QUEUED);
        assert!(committer.reserve().is_none());
        drop(places);
        assert!(committer.reserve().is_some());
    }
}
