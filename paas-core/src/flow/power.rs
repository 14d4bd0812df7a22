//! A user stopping and starting an app: the desired state ([`Desired`]) is the user's, the status
//! follows it.
//!
//! Expected flow of a stop: check (a stopped app answers `ALREADY_STOPPED`) → take the app's lock
//! (a deployment in flight makes it busy) → record `Desired::Stopped` first, so that crash
//! supervision leaves the app alone from then on → remove its instances in the background,
//! under the same lock (each out of the route before it goes) → `STOPPED`. A stopped app stays stopped across restarts of
//! the server; recovery finishes a stop the server died in.
//!
//! Expected flow of a start: check (only a `STOPPED` app with a built image: `NOT_STOPPED`,
//! `NOT_BUILT`) → `Desired::Running`, `STARTING` → a new instance of its current deployment's
//! image, no build ([`Platform::restart_instance`]) → `RUNNING` or `FAILED`.

use crate::error::{Error, Result};
use crate::model::{AppId, Application, Deployment, DeploymentStatus, Desired};
use crate::platform::Platform;
use crate::status::AppStatus;
use crate::task::Task;

use super::tasks::Then;

impl Platform {
    /// Refuses a stop of an app a user already stopped.
    pub(crate) fn stoppable(&self, app: &Application) -> Result<()> {
        if app.desired == Desired::Stopped && app.status == AppStatus::Stopped {
            return Err(Error::AlreadyStopped);
        }
        Ok(())
    }

    /// The deployment a start runs again: the app must be stopped and have a built image.
    pub(crate) async fn startable(&self, app: &Application) -> Result<Deployment> {
        if app.status != AppStatus::Stopped {
            return Err(Error::NotStopped(app.status.as_str().to_lowercase()));
        }
        self.restartable(app).await
    }

    /// The quick part of a stop: the user's wish is recorded before anything is removed.
    pub(crate) async fn begin_stop(&self, app: &Application) -> Result<Then> {
        self.stoppable(app)?;
        self.update_app(app.id, |a| {
            a.desired = Desired::Stopped;
            a.status_reason = Some("stopping".into());
            Ok(())
        })
        .await?;
        Ok(Then::Stop)
    }

    /// The quick part of a start: the app wants to run again and is `STARTING`.
    pub(crate) async fn begin_start(&self, app: &Application, task: &mut Task) -> Result<Then> {
        let dep = self.startable(app).await?;
        let message = format!("{} started by its owner", app.name);
        self.record(crate::event_log::EventRecord::app(
            app,
            crate::event_log::EventKind::Started,
            message,
        ))
        .await;
        self.update_app(app.id, |a| {
            a.desired = Desired::Running;
            a.deployment = Some(dep.id);
            a.status = AppStatus::Starting;
            a.status_reason = Some("starting".into());
            Ok(())
        })
        .await?;
        task.deployment = Some(dep.id);
        Ok(Then::Restart(dep.id))
    }

    /// Removes every instance of the app and records it `STOPPED`. The caller holds the lock.
    #[tracing::instrument(skip(self), err)]
    pub(crate) async fn stop_now(&self, app_id: AppId) -> Result<()> {
        for mut dep in self.store().deployments_of(app_id).await? {
            let live = matches!(
                dep.status,
                DeploymentStatus::Running | DeploymentStatus::Starting
            );
            if !live && dep.instances.is_empty() {
                continue;
            }
            // Out of the route first, then gone.
            let replicas = std::mem::take(&mut dep.instances);
            if live {
                dep.status = DeploymentStatus::Stopped;
            }
            self.write_replicas(&dep).await?;
            for replica in replicas {
                self.runtime().remove(&replica.id).await?;
            }
        }
        // Instances nothing records any more (a replaced one still draining, an interrupted
        // start) go too: a stopped app runs nothing.
        for known in self.runtime().instances().await? {
            if known.app == app_id {
                self.runtime().remove(&known.id).await?;
            }
        }
        self.update_app(app_id, |a| {
            a.status = AppStatus::Stopped;
            a.status_reason = Some("stopped by a user".into());
            Ok(())
        })
        .await?;
        self.system_log(app_id, None, "stopped by a user".to_owned())
            .await;
        if let Some(app) = self.store().app(app_id).await? {
            let message = format!("{} stopped by its owner", app.name);
            self.record(crate::event_log::EventRecord::app(
                &app,
                crate::event_log::EventKind::Stopped,
                message,
            ))
            .await;
        }
        tracing::info!(app_id = %app_id, "application stopped");
        Ok(())
    }
}
