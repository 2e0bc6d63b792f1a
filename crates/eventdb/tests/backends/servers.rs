//! The server backends, MySQL/MariaDB and PostgreSQL, when their URLs are
//! set: the same three tests for each, written once.

/// The tests for one server backend: `$name` (what `backend()` says), the
/// environment variable with its URL, its sqlx connection type, its
/// migrations, the statement that corrupts a stored result (its own
/// placeholder style), and how it drops a database others may still be
/// connected to.
macro_rules! server_tests {
    ($name:ident, $var:literal, $connection:ty, $migrations:expr, $corrupt:literal, $drop:literal) => {
        mod $name {
            use convene_eventdb::open;
            use sqlx::Connection;

            use crate::conformance;
            use crate::service_url;

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn conforms() {
                let Some(url) = service_url($var) else { return };
                let db = open(&url).await.unwrap();
                assert_eq!(db.backend(), stringify!($name));
                conformance::conformance(db).await;
            }

            /// Four nodes starting at once on a new database: one migrates,
            /// the others wait for it, and every step is applied once. (A
            /// new database each run: the shared one is long migrated.)
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn opens_a_new_database_concurrently() {
                let Some(url) = service_url($var) else { return };
                let name = format!("convene_open_{}", convene_events::ids::new_event_id());
                let mut admin = <$connection>::connect(&url).await.unwrap();
                sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let (server, _) = url.rsplit_once('/').unwrap();
                let fresh = format!("{server}/{name}");
                let mut opening = tokio::task::JoinSet::new();
                for _ in 0..4 {
                    let fresh = fresh.clone();
                    opening.spawn(async move { open(&fresh).await.map(|db| db.backend()) });
                }
                let opened = opening.join_all().await;
                let mut conn = <$connection>::connect(&fresh).await.unwrap();
                let steps: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM convene_events_schema")
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                drop(conn);
                sqlx::raw_sql(&format!($drop, name))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                for opened in opened {
                    assert_eq!(opened.unwrap(), stringify!($name));
                }
                assert_eq!(steps, convene_eventdb::migrations::latest($migrations));
            }

            #[tokio::test]
            async fn reports_a_corrupt_result() {
                let Some(url) = service_url($var) else { return };
                let db = open(&url).await.unwrap();
                conformance::corrupt_result(&db, |id| async move {
                    let mut conn = <$connection>::connect(&url).await.unwrap();
                    sqlx::query($corrupt)
                        .bind(id)
                        .execute(&mut conn)
                        .await
                        .unwrap();
                })
                .await;
            }
        }
    };
}

server_tests!(
    mysql,
    "CONVENE_TEST_MYSQL_URL",
    sqlx::MySqlConnection,
    convene_eventdb::migrations::MYSQL,
    "UPDATE events SET result = 'garbage' WHERE id = ?",
    "DROP DATABASE {}"
);
server_tests!(
    postgres,
    "CONVENE_TEST_POSTGRES_URL",
    sqlx::PgConnection,
    convene_eventdb::migrations::POSTGRES,
    "UPDATE events SET result = 'garbage' WHERE id = $1",
    "DROP DATABASE {} WITH (FORCE)"
);
