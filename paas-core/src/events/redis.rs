//! [`EventBus`] across processes on Redis pub/sub (`<prefix>:events`). One subscription per
//! process feeds a local [`MemoryBus`], which fans events out to this process's subscribers.
//!
//! Guarantees: events reach subscribers of every process that is subscribed when they are
//! published, in publish order per publisher. Pub/sub keeps nothing: an event published while a
//! process is disconnected is missed there, which status subscribers notice by the gap in
//! versions and fill from the store. If Redis cannot take a publish, the event still reaches
//! this process's own subscribers.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;

use super::memory::MemoryBus;
use super::{Event, EventBus};
use crate::error::Result;
use crate::redis_conn::{CALL_TIMEOUT, connect};

/// Cheap to clone; clones share the subscription.
#[derive(Clone)]
pub struct RedisBus {
    conn: ConnectionManager,
    channel: String,
    local: MemoryBus,
}

impl RedisBus {
    /// Connects and starts this process's subscription (it reconnects by itself).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let (client, conn) = connect(url).await?;
        let bus = Self {
            conn,
            channel: format!("{prefix}:events"),
            local: MemoryBus::default(),
        };
        let (channel, local) = (bus.channel.clone(), bus.local.clone());
        // Subscribed before `connect` returns, so nothing published after it is missed here.
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(subscribe_forever(client, channel, local, ready_tx));
        let _ = tokio::time::timeout(Duration::from_secs(5), ready_rx).await;
        Ok(bus)
    }
}

async fn subscribe_forever(
    client: redis::Client,
    channel: String,
    local: MemoryBus,
    ready: tokio::sync::oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                Ok(()) => {
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    let mut messages = pubsub.into_on_message();
                    while let Some(msg) = messages.next().await {
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
                    tracing::warn!("event subscription lost; reconnecting");
                }
                Err(e) => tracing::warn!(error = %e, "could not subscribe to events"),
            },
            Err(e) => tracing::debug!(error = %e, "redis unreachable for events"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[async_trait]
impl EventBus for RedisBus {
    async fn publish(&self, event: Event) -> Result<()> {
        let json = serde_json::to_string(&event).map_err(|e| crate::Error::Queue(e.to_string()))?;
        let mut conn = self.conn.clone();
        let sent =
            tokio::time::timeout(CALL_TIMEOUT, conn.publish::<_, _, ()>(&self.channel, json)).await;
        if !matches!(sent, Ok(Ok(()))) {
            tracing::warn!("could not publish an event to redis; only this process sees it");
            self.local.publish(event).await?;
        }
        Ok(())
    }

    async fn subscribe(&self) -> Result<BoxStream<'static, Event>> {
        self.local.subscribe().await
    }
}
