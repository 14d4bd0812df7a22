//! The one consume loop both halves of the pipeline run on: the builder (build requests in,
//! results out) and the deployer (results in, instances out) each supply only the handler of
//! their topic.
//!
//! Expected flow of one step: pull a delivery (waiting up to the step's wait) → a delivery seen
//! more than [`crate::queue::MAX_DELIVERIES`] times goes to the dead letters and fails its
//! deployment → otherwise the handler says what the message asks for → that work runs under
//! the app's lock, while the delivery is renewed so no other consumer takes it → ack.
//!
//! Guarantees: a delivery is acked only once its work returned `Ok`; a failed step leaves it
//! unacked, so it is delivered again (every handler is idempotent). A failed step is logged and
//! followed by a pause, so a broken dependency (database down) is not hammered.
//! Assumptions: the queue redelivers an unacked, unrenewed delivery after its claim time.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;

use crate::error::{Error, Result};
use crate::model::{AppId, Deployment, DeploymentStatus};
use crate::platform::Platform;
use crate::queue::{BuildQueue, Delivery, Message, Topic};
use crate::retry::RetryPolicy;

/// What one step of a consumer did; tests drain queues by stepping until `Idle`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Idle,
    Handled,
}

/// How long one step of a loop waits for a message before looking at shutdown again.
pub(crate) const STEP_WAIT: Duration = Duration::from_secs(1);

/// The work a message asks for: run under `app`'s lock, for `purpose` (shown to whoever waits
/// for the lock).
pub(crate) struct Work<'a> {
    pub(crate) app: AppId,
    pub(crate) purpose: String,
    pub(crate) run: BoxFuture<'a, Result<()>>,
}

/// Why a deployment's step does nothing: the app moved on to a newer deployment. The step then
/// records the deployment stopped and ends its task.
pub(crate) const REPLACED: &str = "replaced by a newer deployment";

impl Platform {
    /// One step of a consumer of `topic`: see the module's expected flow. `handle` returns the
    /// work a message asks for, or `None` when it asks for none (the message is acked).
    pub(crate) async fn consume_step<'a>(
        &'a self,
        topic: Topic,
        wait: Duration,
        handle: impl FnOnce(&Message) -> Option<Work<'a>>,
    ) -> Result<Step> {
        let queue = self.queue();
        let Some(delivery) = queue.pull(topic, wait).await? else {
            return Ok(Step::Idle);
        };
        if delivery.attempt > 1 {
            crate::metrics::redelivered(topic);
        }
        if delivery.attempt > crate::queue::MAX_DELIVERIES {
            // Acked by the queue as it moves the message aside.
            crate::metrics::dead_lettered(topic);
            self.dead_letter(&delivery).await?;
            return Ok(Step::Handled);
        }
        if let Some(work) = handle(&delivery.message) {
            let locked = self.with_app_lock(work.app, &work.purpose, work.run);
            while_renewing(queue, &delivery, locked).await?;
        }
        queue.ack(&delivery).await?;
        Ok(Step::Handled)
    }

    /// Whether `dep` was replaced by a newer deployment of its app; if so it is recorded
    /// stopped with the reason and its task ends.
    pub(crate) async fn replaced(
        &self,
        current: Option<crate::model::DeploymentId>,
        dep: &mut Deployment,
    ) -> Result<bool> {
        if current == Some(dep.id) {
            return Ok(false);
        }
        dep.status = DeploymentStatus::Stopped;
        dep.error = Some(REPLACED.into());
        self.store().update_deployment(dep).await?;
        self.track(dep.id, "", Some(Some(REPLACED.into()))).await?;
        Ok(true)
    }
}

/// Which attempts of a deployment a step counts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Attempts {
    Build,
    Start,
}

impl Platform {
    /// Runs `once` under `policy` (retrying errors `retry` accepts), counting each attempt on
    /// `dep` and recording the count before the attempt runs, so a crash mid-attempt still
    /// counts it.
    pub(crate) async fn counted<T, F, Fut>(
        &self,
        policy: RetryPolicy,
        dep: &mut Deployment,
        attempts: Attempts,
        retry: impl Fn(&Error) -> bool,
        mut once: F,
    ) -> Result<T>
    where
        F: FnMut(u32, Deployment) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        policy
            .run_while(
                |attempt| {
                    match attempts {
                        Attempts::Build => dep.build_attempts += 1,
                        Attempts::Start => dep.start_attempts += 1,
                    }
                    let dep = dep.clone();
                    let work = once(attempt, dep.clone());
                    async move {
                        self.store().update_deployment(&dep).await?;
                        work.await
                    }
                },
                retry,
            )
            .await
    }
}

/// Runs `step` over and over until `shutdown` completes. A failed step is logged and followed by
/// a pause; its message stays unacked and is delivered again.
pub(crate) async fn run_steps<F, Fut>(name: &str, shutdown: impl Future<Output = ()>, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Step>>,
{
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            result = step() => {
                if let Err(e) = result {
                    tracing::error!(loop_name = name, error = %e, "step failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

/// Runs `work` on a delivery while renewing it, so the queue does not give it to another
/// consumer while this one is alive and busy.
async fn while_renewing<T>(
    queue: &Arc<dyn BuildQueue>,
    delivery: &Delivery,
    work: impl Future<Output = T>,
) -> T {
    let renew = async {
        let mut every = tokio::time::interval(queue.renew_every().max(Duration::from_millis(100)));
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = queue.renew(delivery).await {
                tracing::warn!(error = %e, "could not renew a message");
            }
        }
    };
    tokio::select! {
        out = work => out,
        never = renew => never,
    }
}
