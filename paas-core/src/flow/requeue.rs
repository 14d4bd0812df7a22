//! Queueing again what the database says is waiting, when the queue may have lost it: Redis came
//! back empty, or a push failed while it was unreachable. The database is the truth: an app
//! whose current deployment waits for a build (or for its start after one) gets that message
//! again.
//!
//! Expected flow: the queue bumps its `resets` (or a push fails here) → this process's requeue
//! loop takes the `task:requeue` lock → for each app in flight whose app lock is free (a holder
//! is working on it and needs no message), it pushes the build request (`QUEUED`/`BUILDING`
//! deployments) or the build result (`BUILT`/`STARTING` ones). A push that fails leaves the
//! rest for the next try, with backoff.
//!
//! Guarantees: nothing waiting in the database stays without a message once the queue answers
//! again. A message may be delivered twice (it may not have been lost after all); every step is
//! idempotent, so a duplicate changes nothing.

use std::time::Duration;

use crate::error::Result;
use crate::lock::LockKey;
use crate::model::DeploymentStatus;
use crate::platform::Platform;
use crate::queue::{Message, Topic};
use crate::retry::RetryPolicy;
use crate::status::AppStatus;

impl Platform {
    /// Asks the requeue loop to run (a push just failed).
    pub(crate) fn want_requeue(&self) {
        self.requeue_wanted().notify_one();
    }

    /// Queues again what is waiting whenever the queue says it may have lost messages, or a
    /// push failed, until `shutdown` completes.
    pub async fn run_requeue(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut resets = self.queue().resets();
        let backoff = RetryPolicy {
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            ..RetryPolicy::attempts(u32::MAX)
        };
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = next_reset(&mut resets) => {}
                () = self.requeue_wanted().notified() => {}
            }
            let mut attempt = 1;
            loop {
                match self.requeue_waiting().await {
                    Ok(n) => {
                        tracing::info!(queued = n, "what was waiting is queued again");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "could not queue again what is waiting");
                        // The queue coming back ends the wait early.
                        tokio::select! {
                            () = &mut shutdown => return,
                            () = tokio::time::sleep(backoff.delay(attempt)) => {}
                            () = next_reset(&mut resets) => {}
                        }
                        attempt = attempt.saturating_add(1);
                    }
                }
            }
        }
    }

    /// Pushes again the message each waiting app needs; returns how many were pushed.
    #[tracing::instrument(skip_all, err)]
    pub async fn requeue_waiting(&self) -> Result<usize> {
        let lock = self
            .locks()
            .acquire(
                &LockKey::Task("requeue"),
                "queueing again what the queue lost",
                self.config().lock_wait,
            )
            .await?;
        self.locks().hold(lock, self.requeue_all()).await
    }

    async fn requeue_all(&self) -> Result<usize> {
        let apps = self
            .store()
            .apps_in_status(&[
                AppStatus::Pending,
                AppStatus::Building,
                AppStatus::Starting,
                AppStatus::Running,
            ])
            .await?;
        let mut pushed = 0;
        for app in apps {
            let Some(current) = app.deployment else {
                continue;
            };
            let Some(dep) = self.store().deployment(current).await? else {
                continue;
            };
            let (app_id, deployment) = (app.id, dep.id);
            let (topic, message) = match dep.status {
                DeploymentStatus::Queued | DeploymentStatus::Building => (
                    Topic::Builds,
                    Message::BuildRequest {
                        app: app_id,
                        deployment,
                    },
                ),
                DeploymentStatus::Built | DeploymentStatus::Starting => (
                    Topic::Results,
                    Message::BuildSucceeded {
                        app: app_id,
                        deployment,
                    },
                ),
                _ => continue,
            };
            // Held: someone is building or starting it and needs no message.
            let Ok(lease) = self
                .locks()
                .try_acquire(&LockKey::App(app_id), "queueing its deployment again")
                .await?
            else {
                continue;
            };
            let sent = self.queue().push(topic, message).await;
            self.locks().release(&lease).await?;
            sent?;
            pushed += 1;
        }
        Ok(pushed)
    }
}

/// The queue's next reset; never, for a queue that does not lose messages.
async fn next_reset(resets: &mut tokio::sync::watch::Receiver<u64>) {
    if resets.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}
