//! The restart policy: a running app's instance that exits is started again after a backoff,
//! and an app that keeps crashing is `FAILED` with the reason. Also the one way an instance is
//! replaced in place ([`Platform::restart_instance`]), which user restarts use too.
//!
//! Expected flow of a crash: the supervisor sees the live instance exited → takes the app's lock
//! (a busy app is looked at again next round) → records a `RESTART` task, counts the crash on
//! the deployment and shows the app `STARTING` with the exit reason and the delay → waits the
//! backoff of the [`crate::PlatformConfig::crash_restart`] policy → starts a new instance (the
//! usual 3 start attempts). Crash number `max_attempts + 1` in a row fails the app. An instance
//! that ran for [`crate::PlatformConfig::steady_after`] has its count reset. An app a user
//! stopped ([`Desired::Stopped`]) is left alone. An error on the way out of a restart settles
//! the app ([`Platform::settle_after`]); a `STARTING` app nobody works on is resumed each round
//! ([`Platform::resume_stuck`]).

use std::future::Future;

use chrono::Utc;

use super::deploy::exit_reason;
use crate::error::Result;
use crate::event_log::{EventKind, EventRecord};
use crate::lock::LockKey;
use crate::model::{AppId, DeploymentId, DeploymentStatus, Desired, Replica, ReplicaState};
use crate::notify::{Notification, NotificationKind};
use crate::platform::Platform;
use crate::router::drain::Drain;
use crate::runtime::InstanceState;
use crate::status::AppStatus;
use crate::task::{Task, TaskKind};

impl Platform {
    /// Replaces the replicas of deployment `dep_id` with new ones (as many as it ran, at least
    /// one): app `STARTING`, up to N starts each, then `RUNNING` or `FAILED`. Replicas that
    /// still answer serve until the new ones answer, then drain; crashed ones are removed first.
    /// The caller holds the lock.
    pub(crate) async fn restart_instance(
        &self,
        app_id: AppId,
        dep_id: DeploymentId,
        reason: Option<String>,
    ) -> Result<()> {
        self.restart_replicas(app_id, dep_id, reason, None).await
    }

    /// [`Platform::restart_instance`] bringing up `count` replicas (`None`: as many as ran).
    pub(crate) async fn restart_replicas(
        &self,
        app_id: AppId,
        dep_id: DeploymentId,
        reason: Option<String>,
        count: Option<usize>,
    ) -> Result<()> {
        let Some(mut dep) = self.store().deployment(dep_id).await? else {
            return Ok(());
        };
        let mut app = self.fresh(app_id).await?;
        if app.status != AppStatus::Starting {
            app = self
                .update_app(app_id, |a| {
                    a.status = AppStatus::Starting;
                    a.status_reason = reason.clone();
                    Ok(())
                })
                .await?;
        }
        // The replicas to replace: the routed ones and the crashed ones (draining ones are on
        // their way out already).
        let old: Vec<Replica> = dep
            .instances
            .iter()
            .filter(|r| r.state != ReplicaState::Draining)
            .cloned()
            .collect();
        let count = count.unwrap_or_else(|| self.replicas_wanted(&app, old.len()));
        if !old.is_empty() {
            match self.in_place(&app, &mut dep, &old).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => {
                    tracing::info!(app_id = %app_id, error = %e, "no restart in place; replacing");
                }
            }
        }
        // Make before break: replicas that still answer keep serving (and stay recorded, so
        // routers keep finding them) until the new ones answer, then drain; dead ones go first.
        let mut serving = Vec::new();
        for r in old.iter().filter(|r| r.is_running()) {
            if matches!(
                self.runtime().inspect(&r.id).await,
                Ok(InstanceState::Running)
            ) {
                serving.push(r.id.clone());
            }
        }
        let dead: Vec<String> = old
            .iter()
            .map(|r| r.id.clone())
            .filter(|id| !serving.contains(id))
            .collect();
        // No router sends to a dead instance while the new ones start.
        self.drop_replicas(&mut dep, &dead).await?;
        dep.status = DeploymentStatus::Starting;
        dep.start_attempts = 0;
        dep.error = None;
        self.store().update_deployment(&dep).await?;
        match self.launch_replicas(&app, &mut dep, count).await? {
            Ok(started) => {
                // Listening for the routers' drain reports before the route switches.
                let drain = Drain::watch(self).await;
                let draining = self.went_live(&app, &mut dep, started).await?;
                self.track(dep.id, "", Some(None)).await?;
                self.remove_drained(app_id, dep.id, draining, drain);
                Ok(())
            }
            Err(reason) => {
                self.drop_replicas(&mut dep, &serving).await?;
                self.fail_deployment(&mut dep, reason).await
            }
        }
    }

    /// Takes the replicas `ids` of `dep` out of its route (routers stop sending to them at
    /// once), then removes them from the runtime.
    async fn drop_replicas(
        &self,
        dep: &mut crate::model::Deployment,
        ids: &[String],
    ) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        for id in ids {
            dep.forget(id);
        }
        self.write_replicas(dep).await?;
        for id in ids {
            self.runtime().remove(id).await?;
        }
        Ok(())
    }

    /// Restarts the replicas where they are, if the runtime can; true once they answer again.
    async fn in_place(
        &self,
        app: &crate::model::Application,
        dep: &mut crate::model::Deployment,
        old: &[Replica],
    ) -> Result<bool> {
        let mut restarted = Vec::new();
        for r in old {
            let Some(instance) = self.runtime().restart(&r.id).await? else {
                return Ok(false);
            };
            self.system_log(
                app.id,
                Some(dep.id),
                format!("instance {} restarted in place", r.id),
            )
            .await;
            self.wait_ready(&app.health, &instance).await?;
            restarted.push(instance);
        }
        self.went_live(app, dep, restarted).await?;
        self.track(dep.id, "", Some(None)).await?;
        Ok(true)
    }

    /// Runs the restart policy until `shutdown` completes.
    pub async fn run_supervisor(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut every = tokio::time::interval(self.config().supervise_every);
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = every.tick() => {
                    if let Err(e) = self.supervise_step().await {
                        tracing::warn!(error = %e, "supervisor step failed");
                    }
                    if let Err(e) = self.resume_stuck().await {
                        tracing::warn!(error = %e, "looking for stuck applications failed");
                    }
                }
            }
        }
    }

    /// Looks at every running app's live replicas once; a crash is handled in the background
    /// under its app's lock. Returns how many crashes it took on.
    pub async fn supervise_step(&self) -> Result<usize> {
        let mut taken = 0;
        for app in self.store().apps_in_status(&[AppStatus::Running]).await? {
            if app.desired == Desired::Stopped {
                continue; // being stopped by a user
            }
            let Some(mut dep) = self.live_deployment(app.id, None).await? else {
                continue;
            };
            // A replica left CRASHED (its replacement died with an earlier run) counts too.
            let mut crashed = dep
                .instances
                .iter()
                .any(|r| r.state == ReplicaState::Crashed);
            for r in dep.running() {
                if self.runtime().inspect(&r.id).await? != InstanceState::Running {
                    crashed = true;
                    break;
                }
            }
            if !crashed {
                if dep.restarts > 0 && self.ran_steadily(dep.started_at) {
                    dep.restarts = 0;
                    self.store().update_deployment(&dep).await?;
                    // Running steadily again: its crashes are over.
                    self.app_recovered(app.owner, app.id).await;
                }
                continue;
            }
            let key = LockKey::App(app.id);
            let Ok(lease) = self
                .locks()
                .try_acquire(&key, "restarting a crashed instance")
                .await?
            else {
                continue; // a task is at work on the app; look again next round
            };
            taken += 1;
            let platform = self.clone();
            tokio::spawn(async move {
                let work = async {
                    let out = platform.handle_crash(app.id, dep.id, None).await;
                    if let Err(e) = &out {
                        platform.settle_after(app.id, dep.id, e).await;
                    }
                    out
                };
                if let Err(e) = platform.locks().hold(lease, work).await {
                    tracing::warn!(app_id = %app.id, error = %e, "could not handle a crash");
                }
            });
        }
        Ok(taken)
    }

    fn ran_steadily(&self, since: Option<chrono::DateTime<Utc>>) -> bool {
        let steady =
            chrono::Duration::from_std(self.config().steady_after).unwrap_or(chrono::Duration::MAX);
        since.is_some_and(|t| Utc::now() - t >= steady)
    }

    /// Counts a crash and restarts after the backoff, or fails the app after too many. A
    /// replica that crashed while others still answer is replaced alone
    /// ([`Platform::replace_crashed`]) and the app stays `RUNNING`.
    ///
    /// `unhealthy` is a replica that still runs but failed its health check (the warden's
    /// verdict, with the failing answer): it is handled as if it had crashed, the answer as the
    /// reason.
    #[tracing::instrument(skip(self), err)]
    pub(crate) async fn handle_crash(
        &self,
        app_id: AppId,
        dep_id: DeploymentId,
        unhealthy: Option<(String, String)>,
    ) -> Result<()> {
        // Looked at again under the lock: a task may have changed things since.
        let app = self.fresh(app_id).await?;
        let Some(mut dep) = self.store().deployment(dep_id).await? else {
            return Ok(());
        };
        let running = app.status == AppStatus::Running && dep.status == DeploymentStatus::Running;
        if !running || app.desired == Desired::Stopped {
            return Ok(());
        }
        let mut dead: Vec<(String, String)> = Vec::new();
        // The first replica that exited by itself, recorded as a crash (a replica taken out
        // for failing its health check is the warden's to record).
        let mut exited: Option<(InstanceState, String)> = None;
        let mut alive = 0;
        for r in &dep.instances {
            if r.state == ReplicaState::Draining {
                continue;
            }
            if let Some((id, reason)) = &unhealthy
                && *id == r.id
                && r.is_running()
            {
                dead.push((r.id.clone(), reason.clone()));
                continue;
            }
            match self.runtime().inspect(&r.id).await? {
                InstanceState::Running if r.is_running() => alive += 1,
                state => {
                    let reason = exit_reason(&state);
                    dead.push((r.id.clone(), reason.clone()));
                    if exited.is_none() {
                        exited = Some((state, reason));
                    }
                }
            }
        }
        let Some((_, why)) = dead.first() else {
            return Ok(());
        };
        let why = why.clone();
        if let Some((state, reason)) = &exited {
            self.record_crash(&app, state, reason).await;
        }
        // Out of the route at once: no router sends to a dead instance from here on.
        for r in &mut dep.instances {
            if dead.iter().any(|(id, _)| *id == r.id) {
                r.state = ReplicaState::Crashed;
            }
        }
        self.write_replicas(&dep).await?;
        let crashes = if self.ran_steadily(dep.started_at) {
            1
        } else {
            dep.restarts + 1
        };
        if alive > 0 {
            return self.replace_crashed(&app, dep, crashes, &why).await;
        }
        let policy = self.config().crash_restart;
        let after = if unhealthy.is_some() {
            "after failing health checks"
        } else {
            "after a crash"
        };
        let mut task = Task::running(app.id, app.owner, TaskKind::Restart, after);
        task.deployment = Some(dep.id);
        self.store().put_task(&task).await?;

        if crashes > i32::try_from(policy.max_attempts).unwrap_or(i32::MAX) {
            let reason = format!(
                "the app crashed {crashes} times in a row, the platform stopped restarting it; \
                 the last time {why}"
            );
            for (id, _) in &dead {
                self.runtime().remove(id).await?;
                dep.forget(id);
            }
            dep.status = DeploymentStatus::Failed;
            dep.error = Some(reason.clone());
            self.write_replicas(&dep).await?;
            self.set_status(app.id, AppStatus::Failed, Some(reason.clone()))
                .await?;
            tracing::warn!(app_id = %app.id, crashes, "crash loop: application failed");
            self.notify(Notification {
                user: app.owner,
                kind: NotificationKind::CrashLoop,
                app: Some(app.id),
                app_name: Some(app.name.to_string()),
                message: format!("{} failed: {reason}", app.name),
                at: Utc::now(),
            })
            .await;
            return self.end_task(&mut task, Some(reason)).await;
        }
        let delay = policy.delay(u32::try_from(crashes).unwrap_or(u32::MAX));
        dep.restarts = crashes;
        self.store().update_deployment(&dep).await?;
        let what = if unhealthy.is_some() {
            "unhealthy"
        } else {
            "crashed"
        };
        let reason = format!(
            "{what}: {why}; restart {crashes} of {} in {:.1}s",
            policy.max_attempts,
            delay.as_secs_f64()
        );
        tracing::info!(app_id = %app.id, %reason, "restarting a crashed instance");
        self.update_app(app.id, |a| {
            a.status = AppStatus::Starting;
            a.status_reason = Some(reason.clone());
            Ok(())
        })
        .await?;
        task.progress = Some(reason.clone());
        self.store().put_task(&task).await?;
        tokio::time::sleep(delay).await;
        let out = self.restart_instance(app.id, dep.id, Some(reason)).await;
        if out.is_ok() && self.rollout_error(dep.id, &out).await.is_none() {
            let message = format!("{} restarted after a crash", app.name);
            self.record(EventRecord::app(&app, EventKind::Restarted, message))
                .await;
        }
        self.end_with_deployment(&mut task, dep.id, &out).await;
        out
    }

    /// Records a crash (`CRASHED` with the exit code, or `OOM_KILLED`, which also notifies
    /// the owner).
    async fn record_crash(
        &self,
        app: &crate::model::Application,
        state: &InstanceState,
        why: &str,
    ) {
        let (code, oom) = match state {
            InstanceState::Exited {
                code, oom_killed, ..
            } => (*code, *oom_killed),
            _ => (None, false),
        };
        let kind = if oom {
            EventKind::OomKilled
        } else {
            EventKind::Crashed
        };
        let message = format!("{} crashed: {why}", app.name);
        self.record(
            EventRecord::app(app, kind, message.clone())
                .details(serde_json::json!({ "exitCode": code, "oomKilled": oom })),
        )
        .await;
        if oom {
            self.notify(Notification {
                user: app.owner,
                kind: NotificationKind::OomKilled,
                app: Some(app.id),
                app_name: Some(app.name.to_string()),
                message,
                at: Utc::now(),
            })
            .await;
        }
    }
}
