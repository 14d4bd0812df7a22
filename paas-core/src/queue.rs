//! The `BuildQueue` port: build requests to workers, and build results back to the deployer.
//! Adapters: [`memory::MemoryQueue`] for one process, [`redis::RedisQueue`] (Redis streams with a
//! consumer group) for many.
//!
//! Guarantees: at-least-once. A message stays pending after delivery until it is acked; one not
//! acked within the visibility timeout (its consumer died) is delivered again. Consumers must
//! therefore make every step idempotent: a redelivered message for a step already done changes
//! nothing.

pub mod memory;
pub mod redis;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{AppId, DeploymentId};

/// The two streams of the create flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Topic {
    /// Build requests, taken by workers.
    Builds,
    /// Build results, taken by the deployer.
    Results,
}

/// What travels on the queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Message {
    BuildRequest {
        app: AppId,
        deployment: DeploymentId,
    },
    BuildSucceeded {
        app: AppId,
        deployment: DeploymentId,
    },
    BuildFailed {
        app: AppId,
        deployment: DeploymentId,
        reason: String,
    },
}

/// One delivery of a message; ack it once its effect is recorded.
#[derive(Clone, Debug)]
pub struct Delivery {
    pub id: String,
    pub topic: Topic,
    pub message: Message,
    /// 1 on first delivery, higher on redeliveries.
    pub attempt: u32,
}

#[async_trait]
pub trait BuildQueue: Send + Sync {
    async fn push(&self, topic: Topic, message: Message) -> Result<()>;
    /// Waits up to `wait` for a message.
    async fn pull(&self, topic: Topic, wait: Duration) -> Result<Option<Delivery>>;
    async fn ack(&self, delivery: &Delivery) -> Result<()>;
    /// Tells the queue the consumer is still working on `delivery`, so it is not given to
    /// another one (a long build holds its message this way; a dead consumer stops renewing).
    async fn renew(&self, delivery: &Delivery) -> Result<()>;
    /// How often a consumer working on a message should renew it.
    fn renew_every(&self) -> std::time::Duration;
    /// Whether messages outlive this process (a restarted platform finds them still queued);
    /// an in-memory queue loses them, and recovery queues them again.
    fn durable(&self) -> bool {
        false
    }
    /// Messages of `topic` waiting or in work (not yet acked), for `GET /metrics`.
    async fn depth(&self, topic: Topic) -> Result<u64>;
    /// Moves a message that keeps failing out of the way (acked, kept aside with `reason`).
    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()>;
    /// Bumped whenever messages may have been lost (the backend came back empty, or pushes
    /// failed while it was unreachable): the platform then queues again, from the database,
    /// what is waiting. A queue that never loses messages this way never bumps it.
    fn resets(&self) -> tokio::sync::watch::Receiver<u64> {
        tokio::sync::watch::channel(0).1
    }
}

/// Deliveries of one message after which it is dead-lettered instead of handled again.
pub const MAX_DELIVERIES: u32 = 5;
