//! What each task does to an app: [`Platform::check_request`] refuses bad requests before
//! anything changes, [`Platform::begin`] runs the quick part under the app's lock and says what
//! is left ([`Then`]).

use chrono::Utc;

use super::tasks::Then;
use crate::error::{Error, Result};
use crate::event_log::{EventKind, EventRecord};
use crate::model::{
    AppId, AppUpdate, Application, CommitId, Deployment, DeploymentId, DeploymentStatus,
    DeploymentTrigger, Desired, UpdateEffect,
};
use crate::platform::Platform;
use crate::queue::{Message, Topic};
use crate::status::AppStatus;
use crate::task::{Task, TaskRequest};

impl Platform {
    /// Refuses a request that cannot run on the app, before anything is written.
    pub(crate) async fn check_request(
        &self,
        app: &Application,
        request: &TaskRequest,
    ) -> Result<()> {
        match request {
            TaskRequest::Redeploy { .. } | TaskRequest::Delete => Ok(()),
            TaskRequest::Restart { .. } => self.restartable(app).await.map(|_| ()),
            TaskRequest::Stop => self.stoppable(app),
            TaskRequest::Start => self.startable(app).await.map(|_| ()),
            TaskRequest::Update {
                update,
                expected_version,
            } => {
                if let Some(v) = expected_version
                    && *v != app.version
                {
                    let found = self.fresh(app.id).await?.version;
                    if found != *v {
                        return Err(Error::VersionConflict {
                            expected: *v,
                            found,
                        });
                    }
                }
                // Settings out of bounds are refused before any task is recorded.
                let next = update.apply(app, self.config().scaler.bounds)?;
                self.replicas_fit(next.port, &next.scaling)?;
                if let Some(name) = &update.name
                    && *name != app.name
                    && !self.name_available(name).await?
                {
                    return Err(Error::NameTaken(name.to_string()));
                }
                Ok(())
            }
            TaskRequest::Rollback { deployment } => {
                self.rollback_target(app, *deployment).await.map(|_| ())
            }
        }
    }

    /// The quick part of a task, under the app's lock.
    pub(crate) async fn begin(
        &self,
        id: AppId,
        request: &TaskRequest,
        task: &mut Task,
    ) -> Result<Then> {
        let app = self.fresh(id).await?;
        match request {
            // A push that waited while its user stopped the app leaves it stopped.
            TaskRequest::Redeploy { push: Some(_), .. } if app.desired == Desired::Stopped => {
                Ok(Then::Done)
            }
            TaskRequest::Redeploy { commit, push } => {
                let commit = push.as_ref().map(|p| p.commit.clone()).or(commit.clone());
                let commit = self.resolve_commit(&app, commit).await?;
                let run = |a: &mut Application| {
                    a.desired = Desired::Running;
                    Ok(())
                };
                let mut dep = Deployment::queued(app.id, commit, Utc::now());
                if let Some(p) = push {
                    dep.trigger = p.trigger;
                    dep.commit_message = p.message.clone();
                    dep.commit_author = p.author.clone();
                }
                let dep = self.queue_build(&app, dep, run).await?;
                task.deployment = Some(dep);
                Ok(Then::Pipeline)
            }
            TaskRequest::Restart { force } => {
                if *force {
                    self.cancel_in_flight(&app, "cancelled by a forced restart")
                        .await?;
                }
                let dep = self.restartable(&app).await?;
                self.update_app(id, |a| {
                    a.desired = Desired::Running;
                    a.deployment = Some(dep.id);
                    if a.status != AppStatus::Starting {
                        a.status = AppStatus::Starting;
                    }
                    a.status_reason = Some("restarting".into());
                    Ok(())
                })
                .await?;
                task.deployment = Some(dep.id);
                Ok(Then::Restart(dep.id))
            }
            TaskRequest::Update {
                update,
                expected_version,
            } => {
                self.apply_update(&app, update, *expected_version, task)
                    .await
            }
            TaskRequest::Rollback { deployment } => {
                let target = self.rollback_target(&app, *deployment).await?;
                let run = |a: &mut Application| {
                    a.desired = Desired::Running;
                    Ok(())
                };
                let dep = self
                    .roll_out(&app, &target, DeploymentTrigger::Rollback, run)
                    .await?;
                task.deployment = Some(dep);
                Ok(Then::Launch(dep))
            }
            TaskRequest::Stop => self.begin_stop(&app).await,
            TaskRequest::Start => self.begin_start(&app, task).await,
            TaskRequest::Delete => {
                self.cancel_in_flight(&app, "cancelled by the app's deletion")
                    .await?;
                self.delete_now(&app).await?;
                Ok(Then::Done)
            }
        }
    }

    async fn apply_update(
        &self,
        app: &Application,
        update: &AppUpdate,
        expected: Option<i64>,
        task: &mut Task,
    ) -> Result<Then> {
        let bounds = self.config().scaler.bounds;
        let next = update.apply(app, bounds)?;
        let (fields, env_keys) = changed(update);
        self.record(
            EventRecord::app(
                app,
                EventKind::Updated,
                format!("{} updated: {}", app.name, fields.join(", ")),
            )
            .details(serde_json::json!({ "fields": fields, "envKeys": env_keys })),
        )
        .await;
        let check = |a: &Application| match expected {
            Some(v) if a.version != v => Err(Error::VersionConflict {
                expected: v,
                found: a.version,
            }),
            _ => Ok(()),
        };
        let copy = |a: &mut Application| {
            check(a)?;
            *a = update.apply(a, bounds)?;
            Ok(())
        };
        // A stopped app stays stopped: the change is kept for its next start or redeploy.
        // A sleeping app has no instance to restart: the change is kept for its wake (a new
        // source still builds, as a redeploy of a sleeping app does).
        let effect = match (app.desired, AppUpdate::effect(app, &next)) {
            (Desired::Stopped, _) => UpdateEffect::DataOnly,
            (Desired::Running, UpdateEffect::Restart) if app.status == AppStatus::Sleeping => {
                UpdateEffect::DataOnly
            }
            (Desired::Running, effect) => effect,
        };
        let image = self.restartable(app).await.ok();
        let then = match (effect, image) {
            (UpdateEffect::Rebuild, _) => {
                let commit = self
                    .resolve_commit(&next, next.source.commit.clone())
                    .await?;
                let dep =
                    Deployment::queued(app.id, commit, Utc::now()).by(DeploymentTrigger::Config);
                let dep = self.queue_build(app, dep, copy).await?;
                task.deployment = Some(dep);
                Then::Pipeline
            }
            (UpdateEffect::Restart, Some(from)) => {
                let dep = self
                    .roll_out(app, &from, DeploymentTrigger::Config, copy)
                    .await?;
                task.deployment = Some(dep);
                Then::Launch(dep)
            }
            // Nothing runs yet (or only data changed): the next deployment uses the new values.
            (UpdateEffect::Restart | UpdateEffect::DataOnly, _) => {
                let saved = self.update_app(app.id, copy).await?;
                if saved.name != app.name {
                    self.cache().evict_app(app).await;
                    self.cache().put_app(&saved).await;
                }
                Then::Done
            }
        };
        Ok(then)
    }

    /// The commit a new build of `app` uses: `commit`, the pinned one, or the branch head (which
    /// must exist).
    async fn resolve_commit(
        &self,
        app: &Application,
        commit: Option<CommitId>,
    ) -> Result<Option<CommitId>> {
        if let Some(c) = commit.or_else(|| app.source.commit.clone()) {
            return Ok(Some(c));
        }
        let token = self.clone_token(app.owner, &app.source.url).await?;
        let source = &app.source;
        let check = self
            .git()
            .check(&source.url, Some(&source.branch), token.as_ref())
            .await?;
        if !check.branch_exists {
            return Err(Error::BranchNotFound {
                url: source.url.to_string(),
                branch: source.branch.to_string(),
            });
        }
        Ok(check.head)
    }

    /// Adds `dep` (queued) to build (with `change` to the app in the same write) and queues it.
    async fn queue_build(
        &self,
        app: &Application,
        dep: Deployment,
        mut change: impl FnMut(&mut Application) -> Result<()>,
    ) -> Result<DeploymentId> {
        self.update_app_adding(app.id, &dep, |a| {
            change(a)?;
            a.deployment = Some(dep.id);
            // A running app keeps serving (and stays RUNNING) while the new one builds.
            if a.status != AppStatus::Running {
                a.status = AppStatus::Pending;
                a.status_reason = None;
            }
            Ok(())
        })
        .await?;
        self.request_build(app.id, dep.id).await?;
        self.record_deploy_started(app, &dep).await;
        Ok(dep.id)
    }

    /// Records that `dep` of `app` is under way.
    pub(crate) async fn record_deploy_started(&self, app: &Application, dep: &Deployment) {
        self.record(deploy_started(app, dep)).await;
    }

    /// Puts a deployment's build on the queue. The deployment is in the database already: if
    /// the queue cannot take the request now, it is queued again once the queue answers (see
    /// `requeue`), so this never fails the caller for the queue's sake.
    pub(crate) async fn request_build(&self, app: AppId, deployment: DeploymentId) -> Result<()> {
        let request = Message::BuildRequest { app, deployment };
        if let Err(e) = self.queue().push(Topic::Builds, request).await {
            tracing::warn!(app_id = %app, %deployment, error = %e, "the build queue is unreachable; the build is queued once it is back");
            self.want_requeue();
        }
        Ok(())
    }

    /// Adds a deployment that runs `from`'s image again (with `change` to the app in the same
    /// write), to be started by [`Platform::start_deployment`].
    async fn roll_out(
        &self,
        app: &Application,
        from: &Deployment,
        trigger: DeploymentTrigger,
        mut change: impl FnMut(&mut Application) -> Result<()>,
    ) -> Result<DeploymentId> {
        let dep = Deployment::reusing(from, Utc::now()).by(trigger);
        self.update_app_adding(app.id, &dep, |a| {
            change(a)?;
            a.deployment = Some(dep.id);
            Ok(())
        })
        .await?;
        self.record_deploy_started(app, &dep).await;
        Ok(dep.id)
    }

    /// The deployment a restart runs again: the app's own if it was built, else the newest
    /// built one.
    pub(crate) async fn restartable(&self, app: &Application) -> Result<Deployment> {
        let deps = self.store().deployments_of(app.id).await?;
        let built = |d: &&Deployment| d.image.is_some() && d.status.is_built();
        deps.iter()
            .filter(built)
            .find(|d| Some(d.id) == app.deployment)
            .or_else(|| deps.iter().find(built))
            .cloned()
            .ok_or_else(|| {
                Error::NotBuilt("no deployment of this application was built yet".into())
            })
    }

    async fn rollback_target(&self, app: &Application, id: DeploymentId) -> Result<Deployment> {
        let dep = self
            .store()
            .deployment(id)
            .await?
            .filter(|d| d.app_id == app.id)
            .ok_or(Error::NotFound("deployment"))?;
        if dep.image.is_none() || !dep.status.is_built() {
            return Err(Error::NotBuilt(format!(
                "deployment {id} has no image to run (it was not built, or its image was pruned: \
                 the newest {} are kept)",
                self.config().keep_images
            )));
        }
        Ok(dep)
    }

    /// Fails the app's deployment in flight, if any (a forced task does not wait for it).
    async fn cancel_in_flight(&self, app: &Application, why: &str) -> Result<()> {
        if let Some(d) = app.deployment
            && let Some(mut dep) = self.store().deployment(d).await?
            && dep.in_flight()
        {
            dep.status = DeploymentStatus::Failed;
            dep.error = Some(why.to_owned());
            self.store().update_deployment(&dep).await?;
            self.track(dep.id, "", Some(Some(why.to_owned()))).await?;
            tracing::warn!(app_id = %app.id, deployment = %dep.id, why, "deployment cancelled");
        }
        Ok(())
    }

    /// Deletes an app: its instances and images, then its rows (the name is free again), then
    /// its previews.
    pub(crate) async fn delete_now(&self, app: &Application) -> Result<()> {
        if app.status != AppStatus::Deleting {
            self.set_status(app.id, AppStatus::Deleting, None).await?;
        }
        for dep in self.store().deployments_of(app.id).await? {
            for replica in &dep.instances {
                self.runtime().remove(&replica.id).await?;
            }
            if let Some(image) = &dep.image {
                self.images().remove_image(image).await?;
            }
        }
        for orphan in self.runtime().instances().await? {
            if orphan.app == app.id {
                self.runtime().remove(&orphan.id).await?;
            }
        }
        self.store().delete_app(app.id).await?;
        self.cache().evict_app(app).await;
        self.cache().evict_app_lists(app.owner).await;
        tracing::info!(app_id = %app.id, name = %app.name, "application deleted");
        self.remove_previews_of(app).await;
        self.record(EventRecord::app(
            app,
            EventKind::Deleted,
            format!("{} deleted", app.name),
        ))
        .await;
        Ok(())
    }
}

/// The settings an update changes, by name, and the env keys it sets or removes (never their
/// values: the event log holds no secret).
fn changed(update: &AppUpdate) -> (Vec<&'static str>, Vec<String>) {
    let mut fields = Vec::new();
    let named = [
        ("name", update.name.is_some()),
        ("visibility", update.visibility.is_some()),
        ("httpsOnly", update.https_only.is_some()),
        ("autoDeploy", update.auto_deploy.is_some()),
        ("scaling", update.scaling.is_some()),
        ("port", update.port.is_some()),
        ("env", update.env.is_some() || update.env_change.is_some()),
        ("branch", update.branch.is_some()),
        ("commit", update.commit.is_some()),
        ("language", update.language.is_some()),
    ];
    fields.extend(named.iter().filter(|(_, set)| *set).map(|(n, _)| *n));
    let mut keys: Vec<String> = Vec::new();
    if let Some(env) = &update.env {
        keys.extend(env.keys().map(|k| k.to_string()));
    }
    if let Some(change) = &update.env_change {
        keys.extend(change.set.keys().map(|k| k.to_string()));
        keys.extend(change.unset.iter().map(|k| k.to_string()));
    }
    keys.sort();
    keys.dedup();
    (fields, keys)
}

/// The event of `dep` of `app` starting.
pub(crate) fn deploy_started(app: &Application, dep: &Deployment) -> EventRecord {
    let commit = dep.commit.as_ref().map(|c| c.to_string());
    let message = match &commit {
        Some(c) => format!("deployment {} of {} started at {c}", dep.id, app.name),
        None => format!("deployment {} of {} started", dep.id, app.name),
    };
    EventRecord::app(app, EventKind::DeployStarted, message).details(serde_json::json!({
        "deployment": dep.id.to_string(),
        "commit": commit,
        "trigger": format!("{:?}", dep.trigger),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{EnvChange, EnvVars};

    #[test]
    fn an_update_names_env_keys_never_values() -> std::result::Result<(), Box<dyn std::error::Error>>
    {
        let update = AppUpdate {
            env_change: Some(EnvChange {
                set: EnvVars::parse([("SECRET".to_owned(), "hunter2".to_owned())])?,
                unset: vec![],
            }),
            https_only: Some(true),
            ..AppUpdate::default()
        };
        let (fields, keys) = changed(&update);
        assert_eq!(fields, ["httpsOnly", "env"]);
        assert_eq!(keys, ["SECRET"]);
        let text = serde_json::json!({ "fields": fields, "envKeys": keys }).to_string();
        assert!(!text.contains("hunter2"));
        Ok(())
    }
}
