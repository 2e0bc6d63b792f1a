//! Choosing where a node keeps booking state.
//!
//! Booking state outlives its node only in a database the other nodes can
//! read: with a SQLite `database_url` (the default, for nodes on one
//! machine) the booking tables live in that shared file and facilities move
//! off a dead node. This build keeps booking tables in SQLite only, so with
//! a MySQL or PostgreSQL `database_url` each node keeps its facilities in
//! its own file (`booking.db` in its data directory) and a facility waits
//! for its node to come back, as before; the node says so at start.

use std::path::Path;
use std::sync::Arc;

use convene_booking::db::sqlite::SqliteBookingDb;
use convene_booking::db::{BookingDb, BookingDbError};
use convene_cluster::config::ClusterConfig;
use convene_eventdb::open::Target;

/// The booking database for a node whose data directory is `data_dir`,
/// and whether facilities fail over (the database is shared).
pub async fn open(
    cluster: &ClusterConfig,
    data_dir: &Path,
) -> Result<(Arc<dyn BookingDb>, bool), BookingDbError> {
    let (path, shared) = match Target::parse(&cluster.events.database_url) {
        Ok(Target::SqliteFile(path)) => (path, true),
        other => {
            if matches!(other, Ok(Target::MySql(_) | Target::Postgres(_))) {
                tracing::warn!(
                    "booking state is kept in each node's own file: this build keeps booking \
                     tables in a SQLite database_url only, so a facility waits for its node \
                     to come back instead of moving"
                );
            }
            (data_dir.join("booking.db"), false)
        }
    };
    let db = tokio::task::spawn_blocking(move || SqliteBookingDb::open(&path))
        .await
        .map_err(|e| BookingDbError::Engine {
            name: "booking database".into(),
            message: format!("opening task failed: {e}"),
        })??;
    Ok((Arc::new(db), shared))
}
