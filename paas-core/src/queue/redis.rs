//! [`BuildQueue`] on Redis streams: one stream per topic (`<prefix>:queue:<topic>`), one consumer
//! group per topic, one consumer name per process.
//!
//! Expected flow: `push` is XADD; `pull` first claims (XAUTOCLAIM) one message that another
//! consumer took but has not acked for `claim_after` (that consumer died), else reads a new one
//! (XREADGROUP, blocking up to `wait`); `ack` is XACK after the result is recorded.
//!
//! Guarantees: at-least-once; a message held by a dead consumer is delivered again after
//! `claim_after`; the delivery count comes from Redis, so a message that keeps failing is
//! dead-lettered (to `<prefix>:queue:dead`) after [`MAX_DELIVERIES`](super::MAX_DELIVERIES).
//!
//! Redis restarting empty (it keeps nothing on disk here) takes the streams, the groups and the
//! messages with it. A read that answers `NOGROUP` makes the group again (from the start of the
//! stream, so what was pushed since is delivered) and bumps [`BuildQueue::resets`]: the platform
//! queues again what the database says is waiting. A [`Breaker`] skips a dead Redis (calls fail
//! at once instead of each waiting for a timeout); when it closes, `resets` is bumped too, since
//! pushes made meanwhile were lost. Acks and renewals of messages Redis no longer has succeed:
//! there is nothing left to ack.

use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamReadOptions, StreamReadReply,
};

use super::{BuildQueue, Delivery, Message, Topic};
use crate::error::{Error, Result};
use crate::redis_conn::{Breaker, CALL_TIMEOUT, CallError, connect};

/// Blocking reads may take this much longer than their block time before they count as failed.
const BLOCK_SLACK: Duration = Duration::from_secs(5);
/// Longest a pull blocks in Redis.
const MAX_BLOCK: Duration = Duration::from_secs(10);

/// Cheap to clone.
#[derive(Clone)]
pub struct RedisQueue {
    client: redis::Client,
    /// One connection per topic for the blocking reads: Redis serves a connection's commands in
    /// order, so a blocked XREADGROUP would hold up everything else sent on it (the worker's and
    /// the deployer's reads, every ack).
    blocking: std::sync::Arc<
        tokio::sync::Mutex<std::collections::HashMap<Topic, redis::aio::MultiplexedConnection>>,
    >,
    conn: ConnectionManager,
    prefix: String,
    consumer: String,
    claim_after: Duration,
    breaker: Breaker,
    /// Bumped when messages may have been lost (see [`BuildQueue::resets`]).
    resets: tokio::sync::watch::Sender<u64>,
}

fn qerr(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::queue_from(format_args!("redis {what}"), e)
}

/// Whether Redis says the consumer group (or its stream) is gone.
fn is_nogroup(e: &redis::RedisError) -> bool {
    e.code() == Some("NOGROUP") || e.to_string().contains("NOGROUP")
}

/// Whether a guarded call failed because the group is gone.
fn lost_group(e: &CallError) -> bool {
    matches!(e, CallError::Redis(e) if is_nogroup(e))
}

fn topic_name(t: Topic) -> &'static str {
    match t {
        Topic::Builds => "builds",
        Topic::Results => "results",
    }
}

impl RedisQueue {
    /// Connects and makes sure both streams and their groups exist. `consumer` names this
    /// process (unique per process); `claim_after` is how long a delivered message may stay
    /// unacked before another consumer takes it.
    pub async fn connect(
        url: &str,
        prefix: &str,
        consumer: &str,
        claim_after: Duration,
    ) -> Result<Self> {
        let (client, conn) = connect(url).await?;
        let resets = tokio::sync::watch::channel(0).0;
        let q = Self {
            client,
            blocking: Default::default(),
            breaker: Breaker::with_hooks("queue", conn.clone(), None, resets.clone()),
            resets,
            conn,
            prefix: prefix.to_owned(),
            consumer: consumer.to_owned(),
            claim_after,
        };
        for t in [Topic::Builds, Topic::Results] {
            q.ensure_group(t).await?;
        }
        Ok(q)
    }

    /// The breaker in front of Redis (tests look at it).
    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    /// Makes the stream and its group if they are missing; true if this call made the group.
    async fn ensure_group(&self, t: Topic) -> Result<bool> {
        let mut conn = self.conn.clone();
        let created = self
            .breaker
            .call(
                CALL_TIMEOUT,
                conn.xgroup_create_mkstream::<_, _, _, ()>(self.stream(t), self.group(t), "0"),
            )
            .await;
        match created {
            Ok(()) => Ok(true),
            Err(CallError::Redis(e)) if e.to_string().contains("BUSYGROUP") => Ok(false),
            Err(e) => Err(qerr("creating the consumer group", e)),
        }
    }

    /// The group of `t` was gone (Redis restarted empty): make it again, and say that messages
    /// may have been lost.
    async fn group_lost(&self, t: Topic) -> Result<()> {
        if self.ensure_group(t).await? {
            tracing::warn!(
                topic = topic_name(t),
                "the build queue was gone (redis restarted empty?); made it again, and what is \
                 waiting is queued again"
            );
            self.resets.send_modify(|n| *n += 1);
        }
        Ok(())
    }

    fn stream(&self, t: Topic) -> String {
        format!("{}:queue:{}", self.prefix, topic_name(t))
    }

    fn group(&self, t: Topic) -> String {
        format!("{}-group", topic_name(t))
    }

    fn delivery(
        &self,
        topic: Topic,
        id: String,
        fields: &std::collections::HashMap<String, redis::Value>,
        attempt: u32,
    ) -> Delivery {
        let message = fields
            .get("msg")
            .and_then(|v| redis::from_redis_value::<String>(v.clone()).ok())
            .and_then(|s| serde_json::from_str::<Message>(&s).ok());
        match message {
            Some(message) => Delivery {
                id,
                topic,
                message,
                attempt,
            },
            // Unreadable: deliver with an attempt count past the limit, so it is dead-lettered.
            None => Delivery {
                id,
                topic,
                message: Message::BuildFailed {
                    app: crate::model::AppId::new(),
                    deployment: crate::model::DeploymentId::new(),
                    reason: "unreadable message".into(),
                },
                attempt: u32::MAX,
            },
        }
    }

    /// A message another consumer holds for too long, claimed for this one.
    async fn claim(&self, topic: Topic) -> Result<Option<Delivery>> {
        let mut conn = self.conn.clone();
        let min_idle = usize::try_from(self.claim_after.as_millis()).unwrap_or(usize::MAX);
        let claimed = self
            .breaker
            .call(
                CALL_TIMEOUT,
                conn.xautoclaim_options(
                    self.stream(topic),
                    self.group(topic),
                    &self.consumer,
                    min_idle,
                    "0-0",
                    StreamAutoClaimOptions::default().count(1),
                ),
            )
            .await;
        let reply: StreamAutoClaimReply = match claimed {
            Ok(r) => r,
            Err(e) if lost_group(&e) => {
                self.group_lost(topic).await?;
                return Ok(None);
            }
            Err(e) => return Err(qerr("claim", e)),
        };
        let Some(entry) = reply.claimed.into_iter().next() else {
            return Ok(None);
        };
        // XAUTOCLAIM counted this delivery; XPENDING tells how many there were.
        let pending: redis::streams::StreamPendingCountReply = self
            .breaker
            .call(
                CALL_TIMEOUT,
                conn.xpending_count(
                    self.stream(topic),
                    self.group(topic),
                    &entry.id,
                    &entry.id,
                    1,
                ),
            )
            .await
            .map_err(|e| qerr("pending", e))?;
        let attempt = pending
            .ids
            .first()
            .map_or(2, |p| u32::try_from(p.times_delivered).unwrap_or(u32::MAX));
        tracing::info!(id = %entry.id, attempt, topic = topic_name(topic), "claimed a message a dead consumer held");
        Ok(Some(self.delivery(
            topic,
            entry.id.clone(),
            &entry.map,
            attempt,
        )))
    }
}

#[async_trait]
impl BuildQueue for RedisQueue {
    async fn push(&self, topic: Topic, message: Message) -> Result<()> {
        let json = serde_json::to_string(&message)
            .map_err(|e| Error::queue_from("encoding a message", e))?;
        let mut conn = self.conn.clone();
        self.breaker
            .call(
                CALL_TIMEOUT,
                conn.xadd::<_, _, _, _, ()>(self.stream(topic), "*", &[("msg", json)]),
            )
            .await
            .map_err(|e| qerr("push", e))
    }

    async fn depth(&self, topic: Topic) -> Result<u64> {
        let mut conn = self.conn.clone();
        let groups: redis::streams::StreamInfoGroupsReply = self
            .breaker
            .call(CALL_TIMEOUT, conn.xinfo_groups(self.stream(topic)))
            .await
            .map_err(|e| qerr("xinfo groups", e))?;
        let group = self.group(topic);
        Ok(groups
            .groups
            .iter()
            .find(|g| g.name == group)
            .map_or(0, |g| (g.pending + g.lag.unwrap_or(0)) as u64))
    }

    async fn pull(&self, topic: Topic, wait: Duration) -> Result<Option<Delivery>> {
        if let Some(d) = self.claim(topic).await? {
            return Ok(Some(d));
        }
        let wait = wait.min(MAX_BLOCK);
        let opts = StreamReadOptions::default()
            .group(self.group(topic), &self.consumer)
            .count(1)
            .block(usize::try_from(wait.as_millis().max(1)).unwrap_or(1000));
        let mut blocking = self.blocking.lock().await;
        let mut conn = match blocking.get(&topic) {
            Some(c) => c.clone(),
            None => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(crate::redis_conn::CALL_TIMEOUT))
                    .set_response_timeout(Some(MAX_BLOCK + BLOCK_SLACK));
                let c = match self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                {
                    Ok(c) => c,
                    Err(e) => {
                        self.breaker.trip();
                        return Err(qerr("connect", e));
                    }
                };
                blocking.insert(topic, c.clone());
                c
            }
        };
        drop(blocking);
        let reply: Option<StreamReadReply> = match conn
            .xread_options(&[self.stream(topic)], &[">"], &opts)
            .await
        {
            Ok(r) => r,
            Err(e) if is_nogroup(&e) => {
                self.group_lost(topic).await?;
                return Ok(None);
            }
            Err(e) => {
                // A broken connection is replaced on the next pull.
                self.blocking.lock().await.remove(&topic);
                if crate::redis_conn::breaker::unreachable(&e) {
                    self.breaker.trip();
                }
                return Err(qerr("read", e));
            }
        };
        let entry = reply
            .and_then(|r| r.keys.into_iter().next())
            .and_then(|k| k.ids.into_iter().next());
        Ok(entry.map(|e| self.delivery(topic, e.id.clone(), &e.map, 1)))
    }

    async fn ack(&self, delivery: &Delivery) -> Result<()> {
        let mut conn = self.conn.clone();
        let acked = self
            .breaker
            .call(
                CALL_TIMEOUT,
                conn.xack::<_, _, _, ()>(
                    self.stream(delivery.topic),
                    self.group(delivery.topic),
                    &[&delivery.id],
                ),
            )
            .await;
        match acked {
            // Redis lost it (restarted empty): nothing is left to ack.
            Err(e) if lost_group(&e) => Ok(()),
            other => other.map_err(|e| qerr("ack", e)),
        }
    }

    async fn renew(&self, delivery: &Delivery) -> Result<()> {
        // XCLAIM to ourselves with no minimum idle time resets the message's idle time.
        let mut conn = self.conn.clone();
        let mut cmd = redis::cmd("XCLAIM");
        cmd.arg(self.stream(delivery.topic))
            .arg(self.group(delivery.topic))
            .arg(&self.consumer)
            .arg(0)
            .arg(&delivery.id)
            .arg("JUSTID");
        match self
            .breaker
            .call(CALL_TIMEOUT, cmd.query_async::<()>(&mut conn))
            .await
        {
            // Redis lost it: the work goes on; what is waiting is queued again from the database.
            Err(e) if lost_group(&e) => Ok(()),
            other => other.map_err(|e| qerr("renew", e)),
        }
    }

    fn renew_every(&self) -> Duration {
        self.claim_after / 3
    }

    fn durable(&self) -> bool {
        true
    }

    fn resets(&self) -> tokio::sync::watch::Receiver<u64> {
        self.resets.subscribe()
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()> {
        let json = serde_json::to_string(&delivery.message)
            .map_err(|e| Error::queue_from("encoding a message", e))?;
        let mut conn = self.conn.clone();
        self.breaker
            .call(
                CALL_TIMEOUT,
                conn.xadd::<_, _, _, _, ()>(
                    format!("{}:queue:dead", self.prefix),
                    "*",
                    &[
                        ("msg", json),
                        ("topic", topic_name(delivery.topic).to_owned()),
                        ("reason", reason.to_owned()),
                        ("deliveries", delivery.attempt.to_string()),
                    ],
                ),
            )
            .await
            .map_err(|e| qerr("dead-letter", e))?;
        tracing::warn!(id = %delivery.id, attempt = delivery.attempt, reason, "message dead-lettered");
        self.ack(delivery).await
    }
}
