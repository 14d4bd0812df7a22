//! Wake on request: a router that holds requests for a `SLEEPING` app asks the platform to
//! start it ([`Platform::wake`]).
//!
//! Expected flow: take the app's lock without waiting (busy: another router, or a task, is at
//! work on it: [`Woken::Busy`], the router asks again a moment later) → looked at again under
//! the lock (no longer asleep: [`Woken::NotAsleep`]) → a `SCALE` task "woken by a request" and
//! a line in the app's `SYSTEM` log → the same start as a restart
//! ([`Platform::restart_instance`]): `STARTING` with the reason [`WAKING`], a new instance of
//! the live deployment's image (no build), up to the start policy's attempts → `RUNNING` (the
//! routers' tables switch on the bus) or `FAILED` with the reason, as any start that fails.
//!
//! Guarantees: two routers (two processes) asking at once start one instance: the one that
//! gets the lock starts it, the other finds the lock busy and then the app `STARTING`, and waits
//! for the route. An error on the way out settles the app ([`Platform::settle_after`]): it is
//! never left `STARTING` with nobody at work on it.

use crate::error::Result;
use crate::lock::LockKey;
use crate::model::{AppId, Application, Deployment, DeploymentStatus, Desired};
use crate::platform::Platform;
use crate::status::AppStatus;
use crate::task::{Task, TaskKind};

/// The reason a woken app shows while it starts (`STARTING`): routers hold its requests as for
/// a sleeping app, instead of answering 503.
pub const WAKING: &str = "waking up: a request came in";

/// What [`Platform::wake`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Woken {
    /// This call started the app: it is `RUNNING`, or `FAILED` if it would not start.
    Started,
    /// Someone else holds the app's lock (another router waking it, or a task): ask again.
    Busy,
    /// The app is not asleep (woken meanwhile, stopped, deleted, redeployed): nothing done.
    NotAsleep,
}

impl Platform {
    /// Starts a sleeping app because a request came in for it; returns once it runs or failed
    /// to start (see the module's flow).
    #[tracing::instrument(skip(self), err)]
    pub async fn wake(&self, app_id: AppId) -> Result<Woken> {
        let Ok(lease) = self
            .locks()
            .try_acquire(&LockKey::App(app_id), "waking on a request")
            .await?
        else {
            return Ok(Woken::Busy);
        };
        let work = async {
            let Some(app) = self.store().app(app_id).await? else {
                return Ok(Woken::NotAsleep);
            };
            if app.status != AppStatus::Sleeping || app.desired != Desired::Running {
                return Ok(Woken::NotAsleep);
            }
            let dep = self.sleeping_deployment(&app).await?;
            // Not tied to the deployment: the start's own steps would end it and drop its
            // reason; it ends here, with the start's outcome.
            let mut task = Task::running(app.id, app.owner, TaskKind::Scale, "woken by a request");
            self.store().put_task(&task).await?;
            self.system_log(app.id, Some(dep.id), "waking up: a request came in")
                .await;
            let out = self
                .restart_instance(app.id, dep.id, Some(WAKING.to_owned()))
                .await;
            if let Err(e) = &out {
                self.settle_after(app.id, dep.id, e).await;
            }
            let failed = self.rollout_error(dep.id, &out).await;
            if failed.is_none() {
                let message = format!("{} woke up for a request", app.name);
                self.record(crate::event_log::EventRecord::app(
                    &app,
                    crate::event_log::EventKind::Woke,
                    message,
                ))
                .await;
            }
            self.end_scale_task(&mut task, failed).await;
            out.map(|()| Woken::Started)
        };
        self.locks().hold(lease, work).await
    }

    /// The deployment a sleeping app wakes with: the one it slept with (still `RUNNING`, with no
    /// instance), else the newest built one.
    async fn sleeping_deployment(&self, app: &Application) -> Result<Deployment> {
        let deps = self.store().deployments_of(app.id).await?;
        let slept = deps.iter().find(|d| {
            Some(d.id) == app.deployment
                && d.status == DeploymentStatus::Running
                && d.image.is_some()
        });
        match slept {
            Some(d) => Ok(d.clone()),
            None => self.restartable(app).await,
        }
    }

    /// Marks the deployments an app slept with (`RUNNING` with no instance) stopped, all but
    /// `except`: once another deployment is live, a wake must not find them.
    pub(crate) async fn retire_slept(
        &self,
        app: AppId,
        except: crate::model::DeploymentId,
    ) -> Result<()> {
        for mut dep in self.store().deployments_of(app).await? {
            if dep.id != except
                && dep.status == DeploymentStatus::Running
                && dep.instances.is_empty()
            {
                dep.status = DeploymentStatus::Stopped;
                self.store().update_deployment(&dep).await?;
            }
        }
        Ok(())
    }

    /// Leaves a sleeping app with nothing recorded as running (recovery finishing a sleep the
    /// server died in; the instances themselves were removed by the caller).
    pub(crate) async fn keep_asleep(&self, app: AppId) -> Result<()> {
        for mut dep in self.store().deployments_of(app).await? {
            if !dep.instances.is_empty() && dep.status == DeploymentStatus::Running {
                dep.instances.clear();
                self.write_replicas(&dep).await?;
            }
        }
        Ok(())
    }
}
