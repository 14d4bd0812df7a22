//! The Redis adapters through a Redis that dies and comes back empty (a private `redis-server`
//! each, never the shared one): the cache skips a dead Redis instead of waiting on it, the queue
//! makes its groups again and says it may have lost messages, the bus subscribes again and tells
//! its subscribers they may have missed events.

use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use paas_core::AppStatus;
use paas_core::cache::Cache;
use paas_core::cache::redis::RedisCache;
use paas_core::events::redis::RedisBus;
use paas_core::events::{Event, EventBus, StatusEvent};
use paas_core::model::{AppId, DeploymentId, UserId};
use paas_core::queue::redis::RedisQueue;
use paas_core::queue::{BuildQueue, Message, Topic};
use paas_tests::redis::{PrivateRedis, unique_prefix};

const DEADLINE: Duration = Duration::from_secs(20);

fn request() -> Message {
    Message::BuildRequest {
        app: AppId::new(),
        deployment: DeploymentId::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_is_skipped_until_it_answers_again() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start().await?;
    let cache = RedisCache::connect(
        &redis.url(),
        &unique_prefix(),
        Duration::from_secs(60),
        paas_core::secrets::Keyring::ephemeral(),
    )
    .await?;
    let user = UserId::new();
    assert!(cache.user(user).await.is_none());
    assert!(!cache.breaker().is_open());

    redis.kill().await?;
    // The first lookup finds Redis gone; the others do not even try.
    let n = 20;
    for _ in 0..n {
        assert!(
            cache.user(user).await.is_none(),
            "a miss, the store answers"
        );
    }
    assert!(cache.breaker().is_open());
    assert_eq!(cache.breaker().trips(), 1);
    assert!(
        cache.breaker().skipped() >= n - 1,
        "only the first lookup waited on Redis: {} skipped",
        cache.breaker().skipped()
    );

    redis.restart().await?;
    tokio::time::timeout(DEADLINE, async {
        while cache.breaker().is_open() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await?;
    let skipped = cache.breaker().skipped();
    cache.user(user).await;
    assert_eq!(cache.breaker().skipped(), skipped, "Redis is asked again");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_makes_its_groups_again_after_redis_restarts_empty() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start().await?;
    let prefix = unique_prefix();
    let queue = RedisQueue::connect(&redis.url(), &prefix, "c1", Duration::from_secs(30)).await?;
    let mut resets = queue.resets();
    queue.push(Topic::Builds, request()).await?;

    redis.kill().await?;
    redis.restart().await?;

    // Pushed after the restart: the stream is made again, its group is not.
    let after = request();
    let pushed = tokio::time::timeout(DEADLINE, async {
        loop {
            if queue.push(Topic::Builds, after.clone()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    pushed.await?;
    let got = tokio::time::timeout(DEADLINE, async {
        loop {
            match queue.pull(Topic::Builds, Duration::from_millis(100)).await {
                Ok(Some(d)) => return d,
                Ok(None) | Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await?;
    assert_eq!(
        got.message, after,
        "what was pushed since the restart is delivered"
    );
    queue.ack(&got).await?;
    // The message from before the restart is lost: the queue says so, for the platform to
    // queue again what the database says is waiting.
    tokio::time::timeout(DEADLINE, resets.changed()).await??;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bus_subscribes_again_and_says_events_may_be_missed() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start().await?;
    let prefix = unique_prefix();
    let here = RedisBus::connect(&redis.url(), &prefix).await?;
    let other_process = RedisBus::connect(&redis.url(), &prefix).await?;
    let mut events = here.subscribe().await?;

    redis.kill().await?;
    redis.restart().await?;
    let missed = tokio::time::timeout(DEADLINE, async {
        while let Some(e) = events.next().await {
            if e == Event::Missed {
                return true;
            }
        }
        false
    })
    .await?;
    assert!(missed, "subscribers are told they may have missed events");

    // Events from another process arrive again.
    let app = AppId::new();
    let arrived = tokio::time::timeout(DEADLINE, async {
        loop {
            other_process
                .publish(Event::Status(StatusEvent {
                    app_id: app,
                    owner: UserId::new(),
                    version: 1,
                    status: AppStatus::Pending,
                    deployment: None,
                    reason: None,
                    at: Utc::now(),
                }))
                .await?;
            let next = tokio::time::timeout(Duration::from_millis(200), events.next()).await;
            if let Ok(Some(Event::Status(s))) = next
                && s.app_id == app
            {
                return anyhow::Ok(());
            }
        }
    });
    arrived.await??;
    Ok(())
}
