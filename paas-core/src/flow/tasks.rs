//! Running a user's task on an app under the app's lock: refused with `APP_BUSY` while the app
//! is busy, or queued and run by [`Platform::run_task_queue`] once it is free.
//!
//! Expected flow: check the request (bad input changes nothing) → take `app:<id>` and check that
//! no deployment is in flight → record the task `RUNNING` → its quick part runs at once (data
//! written, deployment added, build queued) → its slow part (starting instances) runs in the
//! background under the same lock, renewed, and ends the task. A deploy hands over to the build
//! pipeline: the worker and the deployer take the lock for each of their steps, and the
//! deployment in flight keeps other tasks off the app in between.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;

use crate::error::{Error, Result};
use crate::lock::{Lease, LockKey};
use crate::model::{AppId, Application, DeploymentId, User};
use crate::platform::Platform;
use crate::task::{Task, TaskRequest, TaskState};

/// What is left of a task after its quick part, run in the background under its lock.
pub(crate) enum Then {
    /// Nothing: the task is over.
    Done,
    /// The build pipeline carries the task on (it ends with its deployment).
    Pipeline,
    /// Start this deployment, rolling from the live one if there is one.
    Launch(DeploymentId),
    /// Replace the instance of this deployment with a new one.
    Restart(DeploymentId),
    /// Remove the app's instances: a user stopped it.
    Stop,
}

/// How long a task other than a restart waits for a lock.
const MOMENT: Duration = Duration::from_secs(2);

/// How often the task loop looks for queued tasks whose app is free.
const QUEUE_EVERY: Duration = Duration::from_millis(250);

impl Platform {
    /// Starts a task on `user`'s app. A busy app is [`Error::Busy`], unless `queue` is set: then
    /// the task is recorded `QUEUED` and runs when the app is free. A forced restart and a
    /// deletion take the app's lock from whoever holds it and cancel the deployment in flight:
    /// nobody should have to wait for a build to end (or hang) to delete its app.
    #[tracing::instrument(skip_all, fields(app_id = %id, kind = ?request.kind()), err(level = "info"))]
    pub async fn submit(
        &self,
        user: &User,
        id: AppId,
        request: TaskRequest,
        queue: bool,
    ) -> Result<Task> {
        let app = self.app_for(user, id).await?;
        self.check_request(&app, &request).await?;
        let purpose = describe(&request);
        if matches!(
            request,
            TaskRequest::Restart { force: true } | TaskRequest::Delete
        ) {
            let lease = self.locks().take_over(&LockKey::App(id), &purpose).await?;
            return self.start_task(&app, request, lease, None).await;
        }
        // A restart waits a while for the task under way. The others wait only a moment, since
        // a step that just finished (the app is already RUNNING) still holds the lock briefly.
        let wait = match request {
            TaskRequest::Restart { .. } => self.config().lock_wait,
            _ => self.config().lock_wait.min(MOMENT),
        };
        match self.claim(id, &purpose, wait).await? {
            Ok(lease) => self.start_task(&app, request, lease, None).await,
            Err(why) if queue => {
                let task = Task::queued(id, app.owner, request, &why);
                self.store().put_task(&task).await?;
                tracing::info!(task = %task.id, %why, "task queued");
                Ok(task)
            }
            Err(why) => Err(Error::Busy(why)),
        }
    }

    /// Takes the app's lock, waiting up to `wait` for it and for any deployment in flight to
    /// finish. `Ok(Err(why))` says what the app is busy with.
    pub(crate) async fn claim(
        &self,
        id: AppId,
        purpose: &str,
        wait: Duration,
    ) -> Result<std::result::Result<Lease, String>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let lease = match self.locks().acquire(&LockKey::App(id), purpose, left).await {
                Ok(lease) => lease,
                Err(Error::Busy(why)) => return Ok(Err(why)),
                Err(e) => return Err(e),
            };
            let why = self.busy_with(id).await;
            match why {
                Ok(None) => return Ok(Ok(lease)),
                Ok(Some(why)) => {
                    self.locks().release(&lease).await?;
                    if tokio::time::Instant::now() >= deadline {
                        return Ok(Err(why));
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => {
                    self.locks().release(&lease).await?;
                    return Err(e);
                }
            }
        }
    }

    /// What keeps the app from taking a new task, besides its lock: a deployment in flight.
    pub(crate) async fn busy_with(&self, id: AppId) -> Result<Option<String>> {
        let app = self.fresh(id).await?;
        if app.status == crate::AppStatus::Deleting {
            return Ok(Some("its deletion".into()));
        }
        if let Some(d) = app.deployment
            && let Some(dep) = self.store().deployment(d).await?
            && dep.in_flight()
        {
            return Ok(Some(format!(
                "deployment {} ({})",
                dep.id,
                dep.status.as_str().to_lowercase()
            )));
        }
        Ok(None)
    }

    /// Runs a task whose lock is held: its quick part now, the rest in the background.
    pub(crate) async fn start_task(
        &self,
        app: &Application,
        request: TaskRequest,
        lease: Lease,
        queued: Option<Task>,
    ) -> Result<Task> {
        let mut task = match queued {
            Some(mut t) => {
                t.state = TaskState::Running;
                t.started_at = Some(Utc::now());
                t.request = None;
                t
            }
            None => Task::running(app.id, app.owner, request.kind(), &describe(&request)),
        };
        // A pushed commit's task keeps its request while it runs: it says which commit is under
        // way, so that the same commit is not deployed twice (see `pushed.rs`).
        if matches!(request, TaskRequest::Redeploy { push: Some(_), .. }) {
            task.request = Some(request.clone());
        }
        task.progress = Some(describe(&request));
        let user_restart = matches!(request, TaskRequest::Restart { .. });
        self.store().put_task(&task).await?;
        let then = self.begin(app.id, &request, &mut task).await;
        let then = match then {
            Ok(then) => then,
            Err(e) => {
                self.locks().release(&lease).await?;
                self.end_task(&mut task, Some(e.to_string())).await?;
                return Err(e);
            }
        };
        match then {
            Then::Done => {
                self.locks().release(&lease).await?;
                self.end_task(&mut task, None).await?;
            }
            Then::Pipeline => {
                self.locks().release(&lease).await?;
                self.store().put_task(&task).await?;
            }
            Then::Stop => {
                self.store().put_task(&task).await?;
                let platform = self.clone();
                let mut record = task.clone();
                let app_id = app.id;
                tokio::spawn(async move {
                    let out = platform
                        .locks()
                        .hold(lease, platform.stop_now(app_id))
                        .await;
                    let error = out.err().map(|e| e.to_string());
                    if let Err(e) = platform.end_task(&mut record, error).await {
                        tracing::warn!(task = %record.id, error = %e, "could not record the end of a task");
                    }
                });
            }
            Then::Launch(dep) | Then::Restart(dep) => {
                self.store().put_task(&task).await?;
                let platform = self.clone();
                let restart = matches!(then, Then::Restart(_));
                let mut record = task.clone();
                let app_id = app.id;
                tokio::spawn(async move {
                    let work = async {
                        let out = if restart {
                            platform.restart_instance(app_id, dep, None).await
                        } else {
                            platform.start_deployment(app_id, dep).await
                        };
                        if let Err(e) = &out {
                            platform.settle_after(app_id, dep, e).await;
                        }
                        out
                    };
                    let out = platform.locks().hold(lease, work).await;
                    if user_restart {
                        platform.restarted(app_id, dep, &out).await;
                    }
                    platform.end_with_deployment(&mut record, dep, &out).await;
                });
            }
        }
        Ok(task)
    }

    /// Ends a background task from its work's outcome `out` and its deployment's: an error, or
    /// the deployment failed, fails the task.
    pub(crate) async fn end_with_deployment(
        &self,
        task: &mut Task,
        dep: DeploymentId,
        out: &Result<()>,
    ) {
        let error = self.rollout_error(dep, out).await;
        if let Err(e) = self.end_task(task, error).await {
            tracing::warn!(task = %task.id, error = %e, "could not record the end of a task");
        }
    }

    /// Records a user's restart of the app that went well.
    async fn restarted(&self, app: AppId, dep: DeploymentId, out: &Result<()>) {
        if self.rollout_error(dep, out).await.is_some() {
            return;
        }
        if let Ok(Some(app)) = self.store().app(app).await {
            let message = format!("{} restarted", app.name);
            self.record(crate::event_log::EventRecord::app(
                &app,
                crate::event_log::EventKind::Restarted,
                message,
            ))
            .await;
        }
    }

    /// What a task that rolled out `dep` failed with: its work's error, or the deployment's
    /// when the deployment failed; `None` when both went well.
    pub(crate) async fn rollout_error(
        &self,
        dep: DeploymentId,
        out: &Result<()>,
    ) -> Option<String> {
        match out {
            Err(e) => Some(e.to_string()),
            Ok(()) => match self.store().deployment(dep).await {
                Ok(Some(d)) if d.status == crate::model::DeploymentStatus::Failed => d.error,
                Ok(_) => None,
                Err(e) => Some(e.to_string()),
            },
        }
    }

    pub(crate) async fn end_task(&self, task: &mut Task, error: Option<String>) -> Result<()> {
        if task.state.is_over() {
            return Ok(());
        }
        task.progress = None;
        task.end(error);
        self.store().put_task(task).await
    }

    /// Moves on the task rolling out `dep`: a new step, or its end (`Some(error)`).
    pub(crate) async fn track(
        &self,
        dep: DeploymentId,
        progress: &str,
        end: Option<Option<String>>,
    ) -> Result<()> {
        let Some(mut task) = self.store().task_of_deployment(dep).await? else {
            return Ok(());
        };
        if task.state.is_over() {
            return Ok(());
        }
        match end {
            Some(error) => self.end_task(&mut task, error).await,
            None => {
                task.progress = Some(progress.to_owned());
                self.store().put_task(&task).await
            }
        }
    }

    /// Runs queued tasks whose app is free, oldest first per app, until `shutdown` completes.
    pub async fn run_task_queue(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut every = tokio::time::interval(QUEUE_EVERY);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = every.tick() => {
                    if let Err(e) = self.task_queue_step().await {
                        tracing::warn!(error = %e, "task queue step failed");
                    }
                }
            }
        }
    }

    /// Starts every queued task whose app is free (at most one per app); returns how many.
    pub async fn task_queue_step(&self) -> Result<usize> {
        let queued = self.store().tasks_in_state(TaskState::Queued, 200).await?;
        let mut seen = std::collections::HashSet::new();
        let mut started = 0;
        for task in queued {
            if !seen.insert(task.app_id) {
                continue; // an older task of this app goes first
            }
            let Some(request) = task.request.clone() else {
                continue;
            };
            let Some(app) = self.store().app(task.app_id).await? else {
                let mut task = task;
                self.end_task(&mut task, Some("the application was deleted".into()))
                    .await?;
                continue;
            };
            let lease = match self
                .claim(app.id, &describe(&request), Duration::ZERO)
                .await?
            {
                Ok(lease) => lease,
                Err(_) => continue,
            };
            // Another process may have run it between our read and our lock.
            match self.store().task(task.id).await? {
                Some(t) if t.state == TaskState::Queued => {}
                _ => {
                    self.locks().release(&lease).await?;
                    continue;
                }
            }
            let id = task.id;
            if let Err(e) = self.start_task(&app, request, lease, Some(task)).await {
                tracing::info!(task = %id, error = %e, "queued task failed");
            }
            started += 1;
        }
        Ok(started)
    }

    /// Runs a step of a deploy (build, start) under the app's lock, waiting for it as long as
    /// [`crate::PlatformConfig::step_lock_wait`].
    pub(crate) async fn with_app_lock<T>(
        &self,
        app: AppId,
        purpose: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let lease = self
            .locks()
            .acquire(&LockKey::App(app), purpose, self.config().step_lock_wait)
            .await?;
        self.locks().hold(lease, work).await
    }

    /// The app's tasks, newest first.
    pub async fn tasks_of(&self, app: &Application, limit: u64) -> Result<Vec<Task>> {
        self.store().tasks_of(app.id, limit).await
    }
}

/// What a task does, in words (shown as its progress and to tasks that wait for it).
pub(crate) fn describe(request: &TaskRequest) -> String {
    match request {
        TaskRequest::Redeploy { push: Some(p), .. } => {
            format!("a deploy of the new commit {}", p.commit)
        }
        TaskRequest::Redeploy {
            commit: Some(c), ..
        } => format!("a redeploy at {c}"),
        TaskRequest::Redeploy { commit: None, .. } => "a redeploy".into(),
        TaskRequest::Restart { force: true } => "a forced restart".into(),
        TaskRequest::Restart { force: false } => "a restart".into(),
        TaskRequest::Update { .. } => "an update".into(),
        TaskRequest::Rollback { deployment } => format!("a rollback to {deployment}"),
        TaskRequest::Stop => "a stop".into(),
        TaskRequest::Start => "a start".into(),
        TaskRequest::Delete => "a deletion".into(),
    }
}
