//! Group commit for the SQLite writer: many callers' writes, one `fsync`.
//!
//! The database runs with `synchronous = FULL`, so a commit returns only
//! once the write-ahead log is on disk: a change a caller was told about
//! survives a power cut. That costs one `fsync` per commit. Paid once per
//! request, it would cap a node at the disk's sync rate; so writes queue
//! here, and one thread runs whatever has queued since its last commit in a
//! single `BEGIN IMMEDIATE` transaction, commits once, and only then
//! answers every caller in it. An idle node commits each write at once; a
//! busy one commits dozens per transaction.
//!
//! Each write runs inside its own `SAVEPOINT`, so one that fails (a
//! duplicate key, a corrupt stored value) is rolled back alone and its
//! caller gets its error, while the others in the batch still commit. A
//! failed `COMMIT` (a full disk) fails every write of the batch: none of
//! them is on disk, and none is reported done.
//!
//! The committer is a plain thread blocked on a channel (as the booking
//! service's is): handing each batch to Tokio's blocking pool would add a
//! thread hand-off to every commit, which is most of the cost at low load.

use std::sync::{Arc, Mutex, mpsc};

use convene_events::DbError;
use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use crate::error::from_sqlite;

/// Most writes in one transaction: enough that the `fsync` is shared
/// widely, few enough that a batch holds the file's write lock (which the
/// other nodes on the file wait for) only briefly.
pub const MAX_BATCH: usize = 256;

/// What a write that ran does once its batch's commit is known: it sends
/// the caller the write's own result, or the commit's error.
type Answer = Box<dyn FnOnce(Result<(), DbError>) + Send>;

/// One caller's write, waiting in the queue.
trait Write: Send {
    /// Runs on the writer connection, inside a savepoint: says whether it
    /// succeeded (the savepoint is kept) or failed (rolled back), and how
    /// to answer its caller after the commit.
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Answer);
    /// Its batch failed before it ran: its caller gets the batch's error.
    fn fail(self: Box<Self>, error: DbError);
}

/// A write and the caller waiting for its result.
struct Pending<T, F> {
    write: F,
    tell: oneshot::Sender<Result<T, DbError>>,
}

impl<T, F> Write for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<T, DbError> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> (bool, Answer) {
        let Pending { write, tell } = *self;
        let result = write(conn);
        let ok = result.is_ok();
        let answer: Answer = Box::new(move |committed| {
            // A caller that stopped waiting is no one to tell.
            let _ = tell.send(committed.and(result));
        });
        (ok, answer)
    }

    fn fail(self: Box<Self>, error: DbError) {
        let _ = self.tell.send(Err(error));
    }
}

/// The queue of writes, and the thread that commits them.
pub struct GroupCommit {
    jobs: mpsc::Sender<Box<dyn Write>>,
}

impl GroupCommit {
    /// Starts the commit thread on `writer`. It locks the connection for
    /// each batch only (others may use it between batches: the in-memory
    /// database reads through it), and ends once this `GroupCommit` is
    /// dropped, after committing what was queued.
    pub fn start(writer: Arc<Mutex<Connection>>) -> std::io::Result<GroupCommit> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Write>>();
        std::thread::Builder::new()
            .name("events-sqlite-commit".into())
            .spawn(move || {
                let mut batch: Vec<Box<dyn Write>> = Vec::with_capacity(MAX_BATCH);
                while let Ok(first) = queue.recv() {
                    batch.push(first);
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    // Every change is a transaction, so a panic while the
                    // lock was held left nothing half-written.
                    let mut conn = writer.lock().unwrap_or_else(|e| e.into_inner());
                    commit_batch(&mut conn, &mut batch);
                }
            })?;
        Ok(GroupCommit { jobs })
    }

    /// Runs `write` in the next batch; returns its result once the batch
    /// is committed (durably), or the commit's error.
    pub async fn write<T, F>(&self, write: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (tell, told) = oneshot::channel();
        let closed = || DbError::Unavailable("the SQLite writer has stopped".into());
        self.jobs
            .send(Box::new(Pending { write, tell }))
            .map_err(|_| closed())?;
        told.await.map_err(|_| closed())?
    }
}

/// Runs `batch` (emptying it) in one transaction, each write in a
/// savepoint, then answers every caller with the commit's outcome.
fn commit_batch(conn: &mut Connection, batch: &mut Vec<Box<dyn Write>>) {
    let mut jobs = batch.drain(..);
    let mut answers: Vec<Answer> = Vec::with_capacity(jobs.len());
    let outcome = (|| -> Result<(), rusqlite::Error> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        for job in jobs.by_ref() {
            let savepoint = tx.savepoint()?;
            let (ok, answer) = job.run(&savepoint);
            answers.push(answer);
            if ok {
                savepoint.commit()?;
            }
            // Dropped without commit: rolled back, alone.
        }
        tx.commit()
    })()
    .map_err(from_sqlite);
    if let Err(e) = &outcome {
        tracing::error!("cannot commit a batch of events writes: {e}");
        for job in jobs {
            job.fail(e.clone());
        }
    }
    for answer in answers {
        answer(outcome.clone());
    }
}
