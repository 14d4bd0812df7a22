//! Recovery when the platform starts: nothing that a crash interrupted stays stuck.
//!
//! Expected flow (under the `task:reconcile` lock, so two servers starting together do not both
//! recover; each app under its own lock, which a dead holder loses when its lease runs out):
//! - an app being deleted is deleted;
//! - an app the user wants running ([`Desired::Running`]) whose replicas are all gone is
//!   started again (as many as it ran; one gone among others that answer is the supervisor's): a `RUNNING` one (killed with the platform, or stopped by its Ctrl-C), and a `STOPPED`
//!   one that an earlier version of the platform recorded so when it shut down;
//! - an app a user stopped ([`Desired::Stopped`]) stays stopped, and a stop that was under way
//!   is finished;
//! - a `SLEEPING` app stays asleep (its next request wakes it), and a sleep that was under way
//!   is finished (no instance left);
//! - an app in `PENDING`/`BUILDING`/`STARTING` is resumed: with a queue that lost its messages
//!   (in memory) its build is queued again, with a durable queue the request is still there and
//!   another worker takes it over; a start that was under way is run again;
//! - instances of a known app that nothing records (an interrupted start), and draining
//!   replicas whose removal died with the last run, are removed;
//! - tasks that were running when the platform died are failed with the reason.

use std::time::Duration;

use futures::future::join_all;

use crate::error::{Error, Result};
use crate::lock::LockKey;
use crate::model::{Application, DeploymentStatus, Desired, Replica, ReplicaState};
use crate::platform::Platform;
use crate::runtime::InstanceState;
use crate::status::AppStatus;
use crate::task::TaskState;

/// What recovery did, for the log and for tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Apps whose work was resumed or restarted.
    pub resumed: usize,
    /// Instances removed because nothing needed them.
    pub orphans_removed: usize,
    /// Tasks failed because the platform died while they ran.
    pub tasks_failed: usize,
}

impl Platform {
    /// Recovers from an earlier run that stopped uncleanly. Safe to run at any time.
    #[tracing::instrument(skip_all, err)]
    pub async fn reconcile(&self) -> Result<Recovery> {
        let lease = self.config().lock_lease;
        let lock = self
            .locks()
            .acquire(
                &LockKey::Task("reconcile"),
                "recovery at start-up",
                lease * 2 + self.config().lock_wait,
            )
            .await?;
        let recovery = self.locks().hold(lock, self.recover()).await?;
        tracing::info!(?recovery, "recovery done");
        Ok(recovery)
    }

    async fn recover(&self) -> Result<Recovery> {
        let apps = self
            .store()
            .apps_in_status(&[
                AppStatus::Pending,
                AppStatus::Building,
                AppStatus::Starting,
                AppStatus::Running,
                AppStatus::Sleeping,
                AppStatus::Stopped,
                AppStatus::Deleting,
            ])
            .await?;
        // Side by side: each may wait out the lease of a dead holder.
        let done = join_all(apps.into_iter().map(|app| self.recover_app(app))).await;
        let mut recovery = Recovery::default();
        for one in done {
            match one {
                Ok((resumed, orphans)) => {
                    recovery.resumed += usize::from(resumed);
                    recovery.orphans_removed += orphans;
                }
                Err(e) => tracing::warn!(error = %e, "could not recover an app"),
            }
        }
        // Instances of apps this platform does not know are left alone: another platform may
        // share the runtime (one Podman host). An app deleted halfway is still known
        // (`DELETING`) and was finished above.
        recovery.tasks_failed = self.fail_interrupted_tasks().await?;
        Ok(recovery)
    }

    /// Recovers one app under its lock: `(resumed, orphans removed)`.
    async fn recover_app(&self, app: Application) -> Result<(bool, usize)> {
        let wait = self.config().lock_lease + Duration::from_secs(2);
        let lease = match self
            .locks()
            .acquire(&LockKey::App(app.id), "recovery", wait)
            .await
        {
            Ok(lease) => lease,
            // Its holder is alive and renewing: it is being worked on.
            Err(Error::Busy(_)) => return Ok((false, 0)),
            Err(e) => return Err(e),
        };
        let (id, dep) = (app.id, app.deployment);
        let work = async {
            let out = self.recover_locked(app).await;
            if let (Err(e), Some(dep)) = (&out, dep) {
                self.settle_after(id, dep, e).await;
            }
            out
        };
        self.locks().hold(lease, work).await
    }

    /// Recovers one app; the caller holds its lock.
    pub(crate) async fn recover_locked(&self, app: Application) -> Result<(bool, usize)> {
        let Some(app) = self.store().app(app.id).await? else {
            return Ok((false, 0));
        };
        if app.status == AppStatus::Deleting {
            self.delete_now(&app).await?;
            return Ok((true, 0));
        }
        let live = self.live_deployment(app.id, None).await?;
        // The live deployment's replicas stay (crashed ones are restarted below); draining
        // ones whose removal died with the last run go, as do instances nothing records.
        let keep: Vec<Replica> = live
            .iter()
            .flat_map(|d| d.instances.iter())
            .filter(|r| r.state != ReplicaState::Draining)
            .cloned()
            .collect();
        for mut dep in self.store().deployments_of(app.id).await? {
            let before = dep.instances.len();
            dep.instances.retain(|r| keep.contains(r));
            if dep.instances.len() != before {
                self.write_replicas(&dep).await?;
            }
        }
        let mut orphans = 0;
        for known in self.runtime().instances().await? {
            if known.app == app.id && !keep.iter().any(|r| r.id == known.id) {
                self.runtime().remove(&known.id).await?;
                orphans += 1;
            }
        }
        match (app.desired, app.status) {
            (Desired::Stopped, AppStatus::Stopped) => return Ok((false, orphans)),
            (Desired::Stopped, _) => {
                self.stop_now(app.id).await?;
                return Ok((true, orphans));
            }
            (Desired::Running, AppStatus::Stopped) => {
                let Ok(dep) = self.restartable(&app).await else {
                    tracing::warn!(app_id = %app.id, "a stopped app has no image to start");
                    return Ok((false, orphans));
                };
                self.update_app(app.id, |a| {
                    a.deployment = Some(dep.id);
                    Ok(())
                })
                .await?;
                let why = "started again with the platform";
                self.restart_instance(app.id, dep.id, Some(why.into()))
                    .await?;
                return Ok((true, orphans));
            }
            (Desired::Running, AppStatus::Sleeping) => {
                // Asleep it stays (the next request wakes it); a sleep the server died in is
                // finished (its instances were removed above).
                self.keep_asleep(app.id).await?;
                return Ok((false, orphans));
            }
            (Desired::Running, _) => {}
        }
        let durable = self.queue().durable();
        let Some(current) = app.deployment else {
            return Ok((false, orphans));
        };
        let Some(dep) = self.store().deployment(current).await? else {
            return Ok((false, orphans));
        };
        let resumed = match (app.status, dep.status) {
            (AppStatus::Running, _) => match &live {
                Some(live) if !self.answering(&keep).await?.is_empty() => {
                    // Adopted: their output goes on into the log where the last run stopped.
                    // One that is gone is the supervisor's (replaced while the others serve).
                    for id in self.answering(&keep).await? {
                        self.collect_output(app.id, live.id, &id);
                    }
                    false
                }
                Some(live) => {
                    let why = "its instances were gone when the platform started again";
                    self.restart_instance(app.id, live.id, Some(why.into()))
                        .await?;
                    true
                }
                None => false,
            },
            (_, DeploymentStatus::Queued | DeploymentStatus::Building) if !durable => {
                self.request_build(app.id, dep.id).await?;
                true
            }
            // Safe with a durable queue too: a redelivered start finds it done.
            (_, DeploymentStatus::Built | DeploymentStatus::Starting) => {
                self.start_deployment(app.id, dep.id).await?;
                true
            }
            (_, DeploymentStatus::Running) => {
                // Died between recording the deployment and the app: start it cleanly.
                self.restart_instance(app.id, dep.id, None).await?;
                true
            }
            (_, DeploymentStatus::Failed | DeploymentStatus::Stopped) => {
                let why = dep
                    .error
                    .clone()
                    .unwrap_or_else(|| "the platform stopped during the deployment".into());
                self.set_status(app.id, AppStatus::Failed, Some(why))
                    .await?;
                true
            }
            _ => false,
        };
        Ok((resumed, orphans))
    }

    /// The ids of `replicas` that are routed and running.
    async fn answering(&self, replicas: &[Replica]) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for r in replicas.iter().filter(|r| r.is_running()) {
            if self.runtime().inspect(&r.id).await? == InstanceState::Running {
                ids.push(r.id.clone());
            }
        }
        Ok(ids)
    }

    /// Fails tasks recorded as running whose app nobody holds: they died with the platform.
    async fn fail_interrupted_tasks(&self) -> Result<usize> {
        let mut failed = 0;
        for mut task in self
            .store()
            .tasks_in_state(TaskState::Running, 1000)
            .await?
        {
            if let Some(d) = task.deployment
                && let Some(dep) = self.store().deployment(d).await?
            {
                match dep.status {
                    DeploymentStatus::Running => self.end_task(&mut task, None).await?,
                    DeploymentStatus::Failed | DeploymentStatus::Stopped => {
                        self.end_task(&mut task, dep.error.clone()).await?;
                    }
                    _ => {} // still in flight: its deployment will end it
                }
                continue;
            }
            let held = self
                .locks()
                .record(&LockKey::App(task.app_id))
                .await?
                .is_some_and(|r| r.held_at(chrono::Utc::now()));
            if !held {
                let why = "interrupted: the platform stopped while it ran".to_owned();
                self.end_task(&mut task, Some(why)).await?;
                failed += 1;
            }
        }
        Ok(failed)
    }
}
