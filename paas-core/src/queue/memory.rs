//! In-process build queue with at-least-once delivery: a delivered message stays pending until
//! acked and is delivered again once its visibility timeout passes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::{BuildQueue, Delivery, Message, Topic};
use crate::error::Result;

/// How long a delivered message may stay unacked before it is delivered again.
const DEFAULT_VISIBILITY: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
struct TopicState {
    ready: VecDeque<(u64, Message, u32)>,
    /// Delivered, not acked: id → (message, deliveries so far, redeliver after).
    pending: HashMap<u64, (Message, u32, Instant)>,
}

#[derive(Default)]
struct State {
    next_id: u64,
    topics: HashMap<Topic, TopicState>,
}

/// Cheap to clone; clones share the queue.
#[derive(Clone)]
pub struct MemoryQueue {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    visibility: Duration,
}

impl Default for MemoryQueue {
    fn default() -> Self {
        Self::with_visibility(DEFAULT_VISIBILITY)
    }
}

impl MemoryQueue {
    pub fn with_visibility(visibility: Duration) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            notify: Arc::new(Notify::new()),
            visibility,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn take(&self, topic: Topic) -> Option<Delivery> {
        let visibility = self.visibility;
        self.with(|s| {
            let t = s.topics.entry(topic).or_default();
            let now = Instant::now();
            // Redeliveries first: they are the oldest work.
            let expired = t
                .pending
                .iter()
                .filter(|(_, (_, _, due))| *due <= now)
                .map(|(id, _)| *id)
                .min();
            let (id, message, attempt) = match expired {
                Some(id) => {
                    let (m, n, _) = t.pending.remove(&id)?;
                    (id, m, n + 1)
                }
                None => {
                    let (id, m, n) = t.ready.pop_front()?;
                    (id, m, n + 1)
                }
            };
            t.pending
                .insert(id, (message.clone(), attempt, now + visibility));
            Some(Delivery {
                id: id.to_string(),
                topic,
                message,
                attempt,
            })
        })
    }
}

#[async_trait]
impl BuildQueue for MemoryQueue {
    async fn push(&self, topic: Topic, message: Message) -> Result<()> {
        self.with(|s| {
            s.next_id += 1;
            let id = s.next_id;
            s.topics
                .entry(topic)
                .or_default()
                .ready
                .push_back((id, message, 0));
        });
        self.notify.notify_waiters();
        Ok(())
    }

    async fn pull(&self, topic: Topic, wait: Duration) -> Result<Option<Delivery>> {
        let deadline = Instant::now() + wait;
        loop {
            // Register interest before looking, so a push between look and wait is not missed.
            let notified = self.notify.notified();
            if let Some(d) = self.take(topic) {
                return Ok(Some(d));
            }
            let next_due = self.with(|s| {
                s.topics
                    .get(&topic)
                    .and_then(|t| t.pending.values().map(|(_, _, due)| *due).min())
            });
            let until = next_due.map_or(deadline, |d| d.min(deadline));
            if tokio::time::timeout_at(until, notified).await.is_err() && Instant::now() >= deadline
            {
                return Ok(None);
            }
        }
    }

    async fn depth(&self, topic: Topic) -> Result<u64> {
        Ok(self.with(|s| {
            s.topics
                .get(&topic)
                .map_or(0, |t| (t.ready.len() + t.pending.len()) as u64)
        }))
    }

    async fn dead_letter(&self, delivery: &Delivery, reason: &str) -> Result<()> {
        tracing::warn!(id = %delivery.id, attempt = delivery.attempt, reason, "message dead-lettered");
        self.ack(delivery).await
    }

    async fn renew(&self, delivery: &Delivery) -> Result<()> {
        if let Ok(id) = delivery.id.parse::<u64>() {
            let visibility = self.visibility;
            self.with(|s| {
                if let Some((_, _, due)) = s
                    .topics
                    .get_mut(&delivery.topic)
                    .and_then(|t| t.pending.get_mut(&id))
                {
                    *due = Instant::now() + visibility;
                }
            });
        }
        Ok(())
    }

    fn renew_every(&self) -> Duration {
        self.visibility / 3
    }

    async fn ack(&self, delivery: &Delivery) -> Result<()> {
        if let Ok(id) = delivery.id.parse::<u64>() {
            self.with(|s| {
                if let Some(t) = s.topics.get_mut(&delivery.topic) {
                    t.pending.remove(&id);
                }
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppId, DeploymentId};

    fn msg() -> Message {
        Message::BuildRequest {
            app: AppId::new(),
            deployment: DeploymentId::new(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn unacked_messages_come_back_after_the_visibility_timeout() {
        let q = MemoryQueue::with_visibility(Duration::from_secs(10));
        let m = msg();
        q.push(Topic::Builds, m.clone()).await.expect("push");
        let first = q
            .pull(Topic::Builds, Duration::from_secs(1))
            .await
            .expect("pull")
            .expect("a message");
        assert_eq!((first.attempt, &first.message), (1, &m));
        // Not visible while pending.
        assert!(
            q.pull(Topic::Builds, Duration::from_secs(1))
                .await
                .expect("pull")
                .is_none()
        );
        // The consumer "died": after the timeout the message is delivered again.
        let again = q
            .pull(Topic::Builds, Duration::from_secs(30))
            .await
            .expect("pull")
            .expect("redelivered");
        assert_eq!((again.attempt, &again.message), (2, &m));
        q.ack(&again).await.expect("ack");
        assert!(
            q.pull(Topic::Builds, Duration::from_secs(60))
                .await
                .expect("pull")
                .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn topics_are_separate_and_fifo() {
        let q = MemoryQueue::default();
        let (a, b) = (msg(), msg());
        q.push(Topic::Builds, a.clone()).await.expect("push");
        q.push(Topic::Builds, b.clone()).await.expect("push");
        assert!(
            q.pull(Topic::Results, Duration::from_millis(10))
                .await
                .expect("pull")
                .is_none()
        );
        let d1 = q
            .pull(Topic::Builds, Duration::ZERO)
            .await
            .expect("pull")
            .expect("a");
        let d2 = q
            .pull(Topic::Builds, Duration::ZERO)
            .await
            .expect("pull")
            .expect("b");
        assert_eq!((d1.message, d2.message), (a, b));
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_pull_wakes_on_push() {
        let q = MemoryQueue::default();
        let q2 = q.clone();
        let waiter =
            tokio::spawn(async move { q2.pull(Topic::Builds, Duration::from_secs(60)).await });
        tokio::task::yield_now().await;
        q.push(Topic::Builds, msg()).await.expect("push");
        let got = waiter.await.expect("join").expect("pull");
        assert!(got.is_some());
    }
}
