//! The Redis working set: each event server's entries in a Redis server,
//! as the seed did it.
//!
//! An entry is one Redis string, [`Entry::encode`]'s text, under the key
//! [`key`]`(server, event)`: `convene:events:ws:{server}:{event}`. Each
//! server writes only its own keys, one event at a time (the service holds
//! a per-event lock), so plain `GET`/`SET`/`DEL` suffice: no Redis
//! transaction or script is needed.
//!
//! # Connection
//!
//! One multiplexed connection carries every call (Redis answers in order,
//! so many requests share one socket without waiting for each other). If
//! it breaks (Redis restarted, network cut), the failing call reports
//! [`DbError::Unavailable`] and the next call connects again. Every
//! connect and every reply has a time limit ([`TIMEOUT`]), so a hung
//! Redis turns into errors, not stuck tasks.

use std::time::Duration;

use convene_events::DbError;
use convene_events::db::DbFuture;
use convene_events::working::{Entry, WorkingSet};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, RedisError};
use tokio::sync::Mutex;

use crate::error::{OpenError, redact};

/// The limit on connecting and on each reply.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The key prefix of every working-set entry.
pub const KEY_PREFIX: &str = "convene:events:ws:";

/// The Redis key of `server`'s entry for `event`.
pub fn key(server: &str, event: &str) -> String {
    format!("{KEY_PREFIX}{server}:{event}")
}

/// Working-set entries in Redis.
pub struct RedisWorkingSet {
    client: Client,
    /// The shared connection, or `None` after it broke (or before the
    /// first call after a failed reconnect).
    conn: Mutex<Option<MultiplexedConnection>>,
    /// The URL with its password hidden, for messages.
    shown: String,
}

impl RedisWorkingSet {
    /// Connects to the Redis server at `url` (`redis://HOST:PORT/DB`,
    /// `redis://:PASSWORD@HOST`, `rediss://` for TLS if built with it) and
    /// checks it answers.
    pub async fn open(url: &str) -> Result<RedisWorkingSet, OpenError> {
        let shown = redact(url);
        let failed = |e: RedisError| OpenError::Redis {
            url: shown.clone(),
            error: Box::new(e),
        };
        let client = Client::open(url).map_err(failed)?;
        let set = RedisWorkingSet {
            client,
            conn: Mutex::new(None),
            shown: shown.clone(),
        };
        let mut conn = set.connect().await.map_err(failed)?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map_err(failed)?;
        *set.conn.lock().await = Some(conn);
        Ok(set)
    }

    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }

    /// The shared connection, connecting if there is none. The handle is a
    /// cheap clone: calls do not hold the lock while they wait for Redis.
    async fn conn(&self) -> Result<MultiplexedConnection, DbError> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Ok(conn.clone());
        }
        let conn = self.connect().await.map_err(|e| self.unavailable(&e))?;
        *slot = Some(conn.clone());
        Ok(conn)
    }

    /// Turns a failed call into a [`DbError`], dropping the connection if
    /// the failure means it is broken, so the next call makes a new one.
    async fn failed(&self, e: RedisError) -> DbError {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_unrecoverable_error()
        {
            *self.conn.lock().await = None;
            self.unavailable(&e)
        } else {
            DbError::Query(format!("Redis at {}: {e}", self.shown))
        }
    }

    fn unavailable(&self, e: &RedisError) -> DbError {
        DbError::Unavailable(format!("Redis at {}: {e}", self.shown))
    }
}

impl WorkingSet for RedisWorkingSet {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn get<'a>(&'a self, server: &'a str, event: &'a str) -> DbFuture<'a, Option<Entry>> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            let text: Option<String> = match redis::cmd("GET")
                .arg(key(server, event))
                .query_async(&mut conn)
                .await
            {
                Ok(text) => text,
                Err(e) => return Err(self.failed(e).await),
            };
            text.as_deref().map(Entry::decode).transpose()
        })
    }

    fn put<'a>(&'a self, server: &'a str, event: &'a str, entry: &'a Entry) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            match redis::cmd("SET")
                .arg(key(server, event))
                .arg(entry.encode())
                .query_async::<()>(&mut conn)
                .await
            {
                Ok(()) => Ok(()),
                Err(e) => Err(self.failed(e).await),
            }
        })
    }

    fn remove<'a>(&'a self, server: &'a str, event: &'a str) -> DbFuture<'a, ()> {
        Box::pin(async move {
            let mut conn = self.conn().await?;
            match redis::cmd("DEL")
                .arg(key(server, event))
                .query_async::<()>(&mut conn)
                .await
            {
                Ok(()) => Ok(()),
                Err(e) => Err(self.failed(e).await),
            }
        })
    }
}
