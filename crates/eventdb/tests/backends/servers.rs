//! The server backends, MySQL/MariaDB and PostgreSQL, when their URLs are
//! set: the same three tests for each, written once.

/// The tests for one server backend: `$name` (what `backend()` says), the
/// environment variable with its URL, its sqlx connection type, and the
/// statement that corrupts a stored result (its own placeholder style).
macro_rules! server_tests {
    ($name:ident, $var:literal, $connection:ty, $corrupt:literal) => {
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

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn opens_concurrently() {
                let Some(url) = service_url($var) else { return };
                let mut opening = tokio::task::JoinSet::new();
                for _ in 0..4 {
                    let url = url.clone();
                    opening.spawn(async move { open(&url).await.map(|db| db.backend()) });
                }
                for opened in opening.join_all().await {
                    assert_eq!(opened.unwrap(), stringify!($name));
                }
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
    "UPDATE events SET result = 'garbage' WHERE id = ?"
);
server_tests!(
    postgres,
    "CONVENE_TEST_POSTGRES_URL",
    sqlx::PgConnection,
    "UPDATE events SET result = 'garbage' WHERE id = $1"
);
