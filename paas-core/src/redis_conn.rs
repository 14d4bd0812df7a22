//! Connecting to Redis so that a Redis that is down costs little: few reconnect tries, short
//! timeouts. Callers treat a failed call as "Redis is not there right now", and a [`Breaker`]
//! makes the calls after it skip Redis at once until it answers again.

pub mod breaker;

pub use breaker::{Breaker, CallError, PROBE_MAX};

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::error::{Error, Result};

/// How long one Redis call may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_millis(500);

/// A self-reconnecting connection to `url`.
pub async fn connect(url: &str) -> Result<(redis::Client, ConnectionManager)> {
    let client = redis::Client::open(url).map_err(|e| Error::queue_from("redis url", e))?;
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_connection_timeout(Some(CALL_TIMEOUT))
        .set_response_timeout(Some(CALL_TIMEOUT));
    let conn = ConnectionManager::new_with_config(client.clone(), config)
        .await
        .map_err(|e| Error::queue_from("connecting to redis", e))?;
    Ok((client, conn))
}
