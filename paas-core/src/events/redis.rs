//! [`EventBus`] across processes on Redis pub/sub (`<prefix>:events`). One subscription per
//! process feeds a local [`MemoryBus`], which fans events out to this process's subscribers.
//!
//! Guarantees: events reach subscribers of every process that is subscribed when they are
//! published, in publish order per publisher. Pub/sub keeps nothing: an event published while a
//! process is disconnected is missed there; when its subscription is back (Redis restarted, the
//! connection broke, or a ping went unanswered) its subscribers get [`Event::Missed`] and fill
//! what they missed from the store. If Redis cannot take a publish, the event still reaches this
//! process's own subscribers; a [`Breaker`] skips a dead Redis so publishing never waits on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::memory::MemoryBus;
use super::{Event, EventBus};
use crate::error::Result;
use crate::redis_conn::{Breaker, CALL_TIMEOUT, connect};

/// How often an idle subscription pings Redis, so that a connection that died silently is
/// noticed and replaced.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// Pause between attempts to subscribe again.
const RESUBSCRIBE_EVERY: Duration = Duration::from_millis(500);

/// Cheap to clone; clones share the subscription.
#[derive(Clone)]
pub struct RedisBus {
    conn: ConnectionManager,
    channel: String,
    local: MemoryBus,
    breaker: Breaker,
    /// Whether this process's subscription is relaying now.
    subscribed: Arc<AtomicBool>,
}

impl RedisBus {
    /// Connects and starts this process's subscription (it reconnects by itself).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let (client, conn) = connect(url).await?;
        let bus = Self {
            breaker: Breaker::new("events", conn.clone()),
            conn,
            channel: format!("{prefix}:events"),
            local: MemoryBus::default(),
            subscribed: Arc::new(AtomicBool::new(false)),
        };
        let (channel, local) = (bus.channel.clone(), bus.local.clone());
        // Subscribed before `connect` returns, so nothing published after it is missed here.
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscribe_forever(
            client,
            channel,
            local,
            ready_tx,
            bus.subscribed.clone(),
        ));
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
        Ok(bus)
    }

    /// The breaker in front of publishing (tests look at it).
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }
}

async fn subscribe_forever(
    client: redis::Client,
    channel: String,
    local: MemoryBus,
    ready: tokio::sync::oneshot::Sender<()>,
    subscribed: Arc<AtomicBool>,
) {
    let mut ready = Some(ready);
    loop {
        match tokio::time::timeout(CALL_TIMEOUT, subscribe(&client, &channel)).await {
            Ok(Ok((mut sink, mut messages))) => {
                subscribed.store(true, Ordering::Release);
                match ready.take() {
                    Some(r) => {
                        let _ = r.send(());
                    }
                    // Back after a break: whatever was published meanwhile is lost here.
                    None => {
                        tracing::info!("event subscription back; subscribers re-read the store");
                        let _ = local.publish(Event::Missed).await;
                    }
                }
                relay(&mut sink, &mut messages, &local).await;
                subscribed.store(false, Ordering::Release);
                tracing::warn!("event subscription lost; subscribing again");
            }
            Ok(Err(e)) => tracing::debug!(error = %e, "could not subscribe to events"),
            Err(_) => tracing::debug!("redis did not answer a subscription in time"),
        }
        tokio::time::sleep(RESUBSCRIBE_EVERY).await;
    }
}

async fn subscribe(
    client: &redis::Client,
    channel: &str,
) -> redis::RedisResult<(redis::aio::PubSubSink, redis::aio::PubSubStream)> {
    let (mut sink, messages) = client.get_async_pubsub().await?.split();
    sink.subscribe(channel).await?;
    Ok((sink, messages))
}

/// Passes messages to the local bus until the subscription breaks or a ping goes unanswered.
async fn relay(
    sink: &mut redis::aio::PubSubSink,
    messages: &mut redis::aio::PubSubStream,
    local: &MemoryBus,
) {
    let mut keepalive = tokio::time::interval(KEEPALIVE);
    keepalive.tick().await;
    loop {
        tokio::select! {
            msg = messages.next() => {
                let Some(msg) = msg else { return };
                let Ok(payload) = msg.get_payload::<String>() else {
                    continue;
                };
                match serde_json::from_str::<Event>(&payload) {
                    Ok(event) => {
                        let _ = local.publish(event).await;
                    }
                    Err(e) => tracing::warn!(error = %e, "unreadable event on the bus"),
                }
            }
            _ = keepalive.tick() => {
                let ping = tokio::time::timeout(CALL_TIMEOUT, sink.ping::<redis::Value>()).await;
                if !matches!(ping, Ok(Ok(_))) {
                    return;
                }
            }
        }
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: Event) -> Result<()> {
        let json = serde_json::to_string(&event)
            .map_err(|e| crate::Error::queue_from("encoding an event", e))?;
        let mut conn = self.conn.clone();
        let sent = self
            .breaker
            .call(CALL_TIMEOUT, conn.publish::<_, _, ()>(&self.channel, json))
            .await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "could not publish an event to redis; only this process sees it");
            self.local.publish(event).await?;
        }
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Event>> {
        self.local.subscribe().await
    }

    /// Subscribed, and the last publish reached Redis (a publish that failed went to this
    /// process alone: others' may be failing too).
    fn hears_others(&self) -> bool {
        self.subscribed.load(Ordering::Acquire) && !self.breaker.is_open()
    }
}
