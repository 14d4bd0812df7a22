//! [`Platform::deploy_pushed`]: a new head commit of an app's branch (seen by the watcher, told
//! by a webhook) becomes a redeploy task, or waits behind the task under way.
//!
//! Expected flow: take the app's push lock (`push:<id>`) → read the app → skip what needs no
//! deploy → if the app's lock is free and no deployment is in flight, start the redeploy task
//! now; else record it `QUEUED` (the task loop runs it once the app is free), or, if a pushed
//! commit already waits, put this newer one in its place: one deploy of the newest.
//!
//! Guarantees: decisions about an app's pushes are taken one at a time under its push lock,
//! which every server shares through the store; a push task names its commit while queued and
//! while it runs, and its deployment names it after. So of several servers told of one commit,
//! one deploys it and the others skip it. Never two deploys of an app at once (the task
//! machinery's rule: a queued task starts only when the app is free).
//!
//! Assumptions: the push lock is held for a few store reads, never across a build (the app's
//! lock is: a build holds it for its whole length, so a push cannot wait for it).

use std::time::Duration;

use super::tasks::describe;
use crate::error::{Error, Result};
use crate::lock::LockKey;
use crate::model::{AppId, Application, Desired, PushedCommit};
use crate::platform::Platform;
use crate::status::AppStatus;
use crate::task::{Task, TaskRequest, TaskState};

/// How long a push waits for another decision about the same app.
const DECISION_WAIT: Duration = Duration::from_secs(2);

/// What became of a pushed commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// A redeploy task started.
    Started,
    /// A redeploy task waits for the app to be free.
    Queued,
    /// A waiting push task now deploys this newer commit instead.
    Replaced,
    /// Nothing to do, and why.
    Skipped(&'static str),
    /// Another decision about the app takes long: try again a moment later.
    Busy,
}

impl Platform {
    /// Deploys `push` on the app `id` (see the module's flow). `first`: the commit is the first
    /// one a watch saw, not known to be new: it is skipped if any deployment of the app built it.
    #[tracing::instrument(skip_all, fields(app_id = %id, commit = %push.commit), err(level = "info"))]
    pub async fn deploy_pushed(
        &self,
        id: AppId,
        push: PushedCommit,
        first: bool,
    ) -> Result<PushOutcome> {
        let purpose = "deciding on a pushed commit";
        let lease = match self
            .locks()
            .acquire(&LockKey::Push(id), purpose, DECISION_WAIT)
            .await
        {
            Ok(lease) => lease,
            Err(Error::Busy(_)) => return Ok(PushOutcome::Busy),
            Err(e) => return Err(e),
        };
        let outcome = self
            .locks()
            .hold(lease, self.decide_push(id, push, first))
            .await;
        match outcome {
            Err(Error::NotFound(_)) => Ok(PushOutcome::Skipped("the application is gone")),
            Ok(o) => {
                tracing::info!(outcome = ?o, "pushed commit");
                Ok(o)
            }
            Err(e) => Err(e),
        }
    }

    /// Deploys, queues or skips `push`, under the app's push lock.
    async fn decide_push(&self, id: AppId, push: PushedCommit, first: bool) -> Result<PushOutcome> {
        let app = self.fresh(id).await?;
        if let Some(why) = not_deployable(&app) {
            return Ok(PushOutcome::Skipped(why));
        }
        let deployments = self.store().deployments_of(id).await?;
        let current = deployments.iter().find(|d| Some(d.id) == app.deployment);
        if current.is_some_and(|d| d.commit.as_ref() == Some(&push.commit)) {
            return Ok(PushOutcome::Skipped(
                "the commit is deployed or being deployed",
            ));
        }
        if first
            && deployments
                .iter()
                .any(|d| d.commit.as_ref() == Some(&push.commit))
        {
            return Ok(PushOutcome::Skipped("the commit was deployed before"));
        }
        let open: Vec<Task> = self
            .store()
            .tasks_of(id, 50)
            .await?
            .into_iter()
            .filter(|t| !t.state.is_over())
            .collect();
        if open.iter().any(|t| pushed(t) == Some(&push.commit)) {
            return Ok(PushOutcome::Skipped(
                "the commit is queued or being deployed",
            ));
        }
        let request = TaskRequest::Redeploy {
            commit: Some(push.commit.clone()),
            push: Some(push),
        };
        let queued = open.iter().filter(|t| t.state == TaskState::Queued);
        // The newest queued task, if it is a push, deploys this newer commit instead.
        if let Some(newest) = queued.clone().next() {
            if pushed(newest).is_some() {
                let mut task = newest.clone();
                task.progress = Some(format!("queued: {}", describe(&request)));
                task.request = Some(request);
                self.store().put_task(&task).await?;
                return Ok(PushOutcome::Replaced);
            }
            let why = newest.progress.clone().unwrap_or_default();
            return self.queue_push(&app, request, &why).await;
        }
        let lease = match self
            .claim(id, "a deploy of a pushed commit", Duration::ZERO)
            .await?
        {
            Ok(lease) => lease,
            Err(why) => return self.queue_push(&app, request, &why).await,
        };
        // Hands the app's lease on: the task releases it.
        self.start_task(&app, request, lease, None).await?;
        Ok(PushOutcome::Started)
    }

    async fn queue_push(
        &self,
        app: &Application,
        request: TaskRequest,
        waits_for: &str,
    ) -> Result<PushOutcome> {
        let mut task = Task::queued(app.id, app.owner, request, waits_for);
        if let Some(r) = &task.request {
            task.progress = Some(format!("queued: {}, after {waits_for}", describe(r)));
        }
        self.store().put_task(&task).await?;
        Ok(PushOutcome::Queued)
    }
}

/// Why `app` takes no deploy of a push, if it does not.
fn not_deployable(app: &Application) -> Option<&'static str> {
    if app.desired == Desired::Stopped {
        return Some("the application is stopped");
    }
    if app.status == AppStatus::Deleting {
        return Some("the application is being deleted");
    }
    None
}

/// The commit a push task deploys.
fn pushed(task: &Task) -> Option<&crate::model::CommitId> {
    match &task.request {
        Some(TaskRequest::Redeploy { push: Some(p), .. }) => Some(&p.commit),
        _ => None,
    }
}
