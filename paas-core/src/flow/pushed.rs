//! [`Platform::deploy_pushed`]: a new head commit of an app's branch (seen by the watcher, told
//! by a webhook) becomes a redeploy task, or waits behind the task under way.
//!
//! Expected flow: take the app's lock (not waiting: a holder means work under way, and the caller
//! tries again) → read the app → skip what needs no deploy → start the redeploy task now, or record
//! it `QUEUED` behind the deployment in flight (a queued push not yet run is replaced by the newer
//! commit: one deploy of the newest).
//!
//! Guarantees: the decision is taken under the app's lock, which every server shares through the
//! store, so of several servers told of one commit one deploys it and the others find it deployed
//! or queued and skip it; never two deploys of an app at once (the task machinery's rule).

use crate::error::{Error, Result};
use crate::lock::LockKey;
use crate::model::{AppId, PushedCommit};
use crate::platform::Platform;
use crate::status::AppStatus;
use crate::task::{Task, TaskRequest, TaskState};

/// What became of a pushed commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// A redeploy task started.
    Started,
    /// A redeploy task waits for the app (a queued push was replaced by this newer one, or a new
    /// task was queued).
    Queued,
    /// Nothing to do, and why.
    Skipped(&'static str),
    /// The app's lock is held: try again a moment later.
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
        let purpose = "a deploy of a pushed commit";
        let Ok(lease) = self.locks().try_acquire(&LockKey::App(id), purpose).await? else {
            return Ok(PushOutcome::Busy);
        };
        let decided = self.decide_push(id, &push, first).await;
        let request = TaskRequest::Redeploy {
            commit: Some(push.commit.clone()),
            push: Some(push),
        };
        let outcome = match decided {
            Ok(Decision::Start(app)) => {
                // Hands the lease on: the task releases it.
                self.start_task(&app, request, lease, None).await?;
                return Ok(PushOutcome::Started);
            }
            Ok(Decision::Replace(mut task)) => {
                task.request = Some(request);
                self.store()
                    .put_task(&task)
                    .await
                    .map(|_| PushOutcome::Queued)
            }
            Ok(Decision::Queue(app, why)) => {
                let task = Task::queued(app.id, app.owner, request, &why);
                self.store()
                    .put_task(&task)
                    .await
                    .map(|_| PushOutcome::Queued)
            }
            Ok(Decision::Skip(why)) => Ok(PushOutcome::Skipped(why)),
            Err(Error::NotFound(_)) => Ok(PushOutcome::Skipped("the application is gone")),
            Err(e) => Err(e),
        };
        self.locks().release(&lease).await?;
        if let Ok(o) = &outcome {
            tracing::info!(outcome = ?o, "pushed commit");
        }
        outcome
    }

    /// What to do with `push`, under the app's lock.
    async fn decide_push(&self, id: AppId, push: &PushedCommit, first: bool) -> Result<Decision> {
        let app = self.fresh(id).await?;
        if app.desired == crate::model::Desired::Stopped {
            return Ok(Decision::Skip("the application is stopped"));
        }
        if app.status == AppStatus::Deleting {
            return Ok(Decision::Skip("the application is being deleted"));
        }
        let deployments = self.store().deployments_of(id).await?;
        let current = deployments.iter().find(|d| Some(d.id) == app.deployment);
        if current.is_some_and(|d| d.commit.as_ref() == Some(&push.commit)) {
            return Ok(Decision::Skip("the commit is deployed or being deployed"));
        }
        if first
            && deployments
                .iter()
                .any(|d| d.commit.as_ref() == Some(&push.commit))
        {
            return Ok(Decision::Skip("the commit was deployed before"));
        }
        let queued: Vec<Task> = self
            .store()
            .tasks_of(id, 50)
            .await?
            .into_iter()
            .filter(|t| t.state == TaskState::Queued)
            .collect();
        let pushed = |t: &Task| match &t.request {
            Some(TaskRequest::Redeploy { push: Some(p), .. }) => Some(p.commit.clone()),
            _ => None,
        };
        if queued
            .iter()
            .any(|t| pushed(t) == Some(push.commit.clone()))
        {
            return Ok(Decision::Skip("the commit is queued for a deploy"));
        }
        // The newest queued push, if nothing else is queued after it, takes the newer commit.
        if let Some(newest) = queued.first()
            && pushed(newest).is_some()
        {
            return Ok(Decision::Replace(newest.clone()));
        }
        if let Some(t) = queued.first() {
            let why = t.progress.clone().unwrap_or_else(|| "a queued task".into());
            return Ok(Decision::Queue(app, why));
        }
        match self.busy_with(id).await? {
            Some(why) => Ok(Decision::Queue(app, why)),
            None => Ok(Decision::Start(app)),
        }
    }
}

enum Decision {
    Start(crate::model::Application),
    Replace(Task),
    Queue(crate::model::Application, String),
    Skip(&'static str),
}
