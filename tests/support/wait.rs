//! Waiting for something to become true, with a deadline: polls, never a sleep-and-hope.

use std::future::Future;
use std::time::Duration;

/// How often [`eventually`] looks again.
const POLL: Duration = Duration::from_millis(100);

/// Polls `check` until it answers `Some`, for at most `limit`; an error of `check` ends the wait.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> anyhow::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<Option<T>>>,
{
    tokio::time::timeout(limit, async {
        loop {
            if let Some(v) = check().await? {
                return Ok(v);
            }
            tokio::time::sleep(POLL).await;
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("not so within {limit:?}"))?
}
