//! Where a node keeps the state that must outlive it: booking's tables and
//! the files service's lock book.
//!
//! Both live in the cluster's `database_url`, which the other nodes can
//! read. With SQLite (the default, for nodes on one machine) they are in
//! that shared file; with MySQL or PostgreSQL, in that server's database
//! next to the events tables. Either way a facility, or the role of lock
//! holder, moves off a dead node. Only an in-memory SQLite URL (tests)
//! cannot be shared: then each node keeps its facilities in its own file
//! (`booking.db` in its data directory) and nothing moves.

use std::path::Path;
use std::sync::Arc;

use convene_booking::db::sqlite::SqliteBookingDb;
use convene_booking::db::{BookingDb, BookingDbError};
use convene_cluster::config::ClusterConfig;
use convene_eventdb::open::Target;
use convene_files::service::lock_book::LockBookDb;

/// The booking database for a node whose data directory is `data_dir`,
/// and whether facilities fail over (the database is shared). A node that
/// runs no booking service (`runs_booking` false) gets an empty one in
/// memory: it reads and writes nothing, and holds no file open.
pub async fn booking(
    cluster: &ClusterConfig,
    data_dir: &Path,
    runs_booking: bool,
) -> Result<(Arc<dyn BookingDb>, bool), BookingDbError> {
    if !runs_booking {
        let db = SqliteBookingDb::open(Path::new(":memory:"))?;
        return Ok((Arc::new(db), false));
    }
    let url = &cluster.events.database_url;
    let engine = |message: String| BookingDbError::Engine {
        name: "booking database".into(),
        message,
    };
    let (path, shared) = match Target::parse(url).map_err(|e| engine(e.to_string()))? {
        Target::SqliteFile(path) => (path, true),
        Target::SqliteMemory => (data_dir.join("booking.db"), false),
        Target::MySql(_) | Target::Postgres(_) => {
            let db = convene_eventdb::open_booking(url)
                .await
                .map_err(|e| engine(e.to_string()))?;
            return Ok((db, true));
        }
    };
    let db = tokio::task::spawn_blocking(move || SqliteBookingDb::open(&path))
        .await
        .map_err(|e| engine(format!("opening task failed: {e}")))??;
    Ok((Arc::new(db), shared))
}

/// The files lock book on a MySQL or PostgreSQL `database_url`; `None` for
/// SQLite, whose file the files service opens itself.
pub async fn lock_book(
    cluster: &ClusterConfig,
) -> Result<Option<Arc<dyn LockBookDb>>, convene_eventdb::OpenError> {
    let url = &cluster.events.database_url;
    match Target::parse(url)? {
        Target::MySql(_) | Target::Postgres(_) => {
            Ok(Some(convene_eventdb::open_lock_book(url).await?))
        }
        Target::SqliteFile(_) | Target::SqliteMemory => Ok(None),
    }
}
