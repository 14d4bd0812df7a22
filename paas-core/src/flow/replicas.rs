//! An app's replicas: how many a start brings up, a crashed one replaced while the others serve,
//! and [`Platform::scale_to`], the one way their number changes while the app runs.
//!
//! Expected flow of a replica crash while others answer: the supervisor sees it exited → under
//! the app's lock it is marked `CRASHED` (out of the route at once) → the crash is counted on the
//! deployment like any other, and after the restart policy's backoff a new replica starts
//! through the usual start path (its readiness wait, up to N attempts) and enters the route; the
//! app stays `RUNNING` throughout. Past the policy's attempts the replica is removed and not
//! replaced (the others keep serving); when none answers any more, the app's crash path applies
//! (`STARTING`, backoff, `FAILED`), see [`super::supervise`].

use crate::error::Result;
use crate::model::{AppId, Application, Deployment, DeploymentId, Replica};
use crate::platform::Platform;
use crate::router::drain::Drain;
use crate::runtime::Instance;
use crate::status::AppStatus;

impl Platform {
    /// How many replicas a start of `app` brings up, given that `current` ran before: as many,
    /// within its `minInstances`..`maxInstances`, and at least one.
    pub(crate) fn replicas_wanted(&self, app: &Application, current: usize) -> usize {
        let s = app.scaling;
        let (min, max) = (to_usize(s.min_instances), to_usize(s.max_instances));
        current.max(min).min(max).max(1)
    }

    /// Runs `count` replicas of the app's live deployment; returns how many run after. The
    /// caller holds the app's lock.
    ///
    /// More: the new ones start through the usual start path (readiness wait, attempts) and
    /// enter the route only once they all answer; a start that fails adds none (the count
    /// stays). Fewer: the newest leave the route first, then are removed once drained (in the
    /// background). Zero: the app sleeps ([`Platform::sleep_app`]), where its settings allow.
    /// A sleeping app asked for more than zero starts that many through the restart path. Each
    /// change is a line in the app's `SYSTEM` log with `reason`.
    #[tracing::instrument(skip(self), err)]
    pub async fn scale_to(&self, app_id: AppId, count: u32, reason: &str) -> Result<u32> {
        let app = self.fresh(app_id).await?;
        let wanted = to_usize(count);
        if app.status == AppStatus::Sleeping {
            let Some(dep) = app.deployment else {
                return Ok(0);
            };
            if wanted == 0 {
                return Ok(0);
            }
            let text = format!("waking with {wanted} instance(s): {reason}");
            self.system_log(app_id, Some(dep), text).await;
            self.restart_replicas(app_id, dep, Some(reason.to_owned()), Some(wanted))
                .await?;
            return self.running_count(app_id).await;
        }
        let Some(mut dep) = self.live_deployment(app_id, None).await? else {
            return Ok(0); // not running: nothing to scale (a start brings the count up)
        };
        let current = dep.running().count();
        if wanted == current {
            return Ok(count);
        }
        if wanted == 0 {
            self.sleep_app(app_id, reason).await?;
            return self.running_count(app_id).await;
        }
        if wanted > current {
            let now = self
                .add_replicas(&app, dep.clone(), wanted - current)
                .await?;
            if now > current {
                let text = format!("scaled from {current} to {now} instance(s): {reason}");
                self.system_log(app_id, Some(dep.id), text).await;
                self.record_scaled(&app, current, now, reason).await;
            }
            return Ok(u32::try_from(now).unwrap_or(u32::MAX));
        }
        // Fewer: the newest go, out of the route before they are removed.
        let mut newest: Vec<(chrono::DateTime<chrono::Utc>, usize)> = dep
            .instances
            .iter()
            .enumerate()
            .filter(|(_, r)| r.is_running())
            .map(|(i, r)| (r.started_at, i))
            .collect();
        newest.sort_by(|a, b| b.cmp(a));
        let mut leaving = Vec::new();
        for (_, i) in newest.into_iter().take(current - wanted) {
            let r = &mut dep.instances[i];
            r.state = crate::model::ReplicaState::Draining;
            leaving.push(r.id.clone());
        }
        // Listening for the routers' drain reports before the route changes.
        let drain = Drain::watch(self).await;
        self.write_replicas(&dep).await?;
        let text = format!(
            "scaled from {current} to {wanted} instance(s): {reason}; leaving: {}",
            leaving.join(", ")
        );
        self.system_log(app_id, Some(dep.id), text).await;
        self.record_scaled(&app, current, wanted, reason).await;
        let spec = self.spec_of(&app, &dep)?;
        let platform = self.clone();
        tokio::spawn(async move {
            let config = platform.config();
            let drained = drain
                .wait_all(&leaving, config.router.drain_settle, config.drain)
                .await;
            // A runtime that keeps replicas itself (Nomad) lowers its count and picks which go;
            // elsewhere the drained ones are removed.
            match platform.runtime().scale(&spec, count).await {
                Ok(Some(kept)) => {
                    let kept: Vec<String> = kept.into_iter().map(|i| i.id).collect();
                    if let Err(e) = platform.keep_only(app_id, spec.deployment_id, &kept).await {
                        tracing::warn!(app_id = %app_id, error = %e, "replicas not updated after a scale-down");
                    }
                }
                Ok(None) => {
                    platform
                        .remove_leaving(app_id, spec.deployment_id, &leaving, drained)
                        .await;
                }
                Err(e) => {
                    tracing::warn!(app_id = %app_id, error = %e, "the runtime did not scale down");
                }
            }
        });
        Ok(count)
    }

    /// After the runtime chose which replicas of `dep` stay (`kept`): the others are forgotten,
    /// the kept ones routed again (under the app's lock).
    async fn keep_only(&self, app: AppId, dep: DeploymentId, kept: &[String]) -> Result<()> {
        let key = crate::lock::LockKey::App(app);
        let wait = std::time::Duration::from_secs(600);
        let lease = self
            .locks()
            .acquire(&key, "replicas after a scale-down", wait)
            .await?;
        let work = async {
            if let Some(mut d) = self.store().deployment(dep).await? {
                d.instances.retain(|r| kept.contains(&r.id));
                for r in &mut d.instances {
                    r.state = crate::model::ReplicaState::Running;
                }
                self.write_replicas(&d).await?;
            }
            Ok(())
        };
        self.locks().hold(lease, work).await
    }

    /// How many replicas route the app's requests now.
    async fn running_count(&self, app: AppId) -> Result<u32> {
        let n = match self.live_deployment(app, None).await? {
            Some(d) => d.running().count(),
            None => 0,
        };
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Starts `count` instances of `dep`, one after the other, each through [`Platform::launch`]
    /// (its attempts and readiness wait). `Ok(Err(reason))` when one would not start; the ones
    /// started before it are removed then.
    pub(crate) async fn launch_replicas(
        &self,
        app: &Application,
        dep: &mut Deployment,
        count: usize,
    ) -> Result<std::result::Result<Vec<Instance>, String>> {
        let mut started: Vec<Instance> = Vec::with_capacity(count);
        if count > 1 {
            // The first through the usual start; a runtime that keeps replicas itself (Nomad)
            // then runs the rest as its count.
            match self.launch(app, dep).await? {
                Ok(first) => started.push(first),
                Err(reason) => return Ok(Err(reason)),
            }
            match self.scaled(app, dep, count, &[]).await {
                Ok(Some(all)) => return Ok(Ok(all)),
                Ok(None) => {}
                Err(e) => {
                    self.remove_all(&started).await;
                    return Ok(Err(format!(
                        "the runtime did not run {count} replicas: {e}"
                    )));
                }
            }
        }
        for _ in started.len()..count {
            match self.launch(app, dep).await {
                Ok(Ok(instance)) => started.push(instance),
                failed => {
                    self.remove_all(&started).await;
                    return failed.map(|r| r.map(|i| vec![i]));
                }
            }
        }
        Ok(Ok(started))
    }

    /// `count` replicas of `dep` through the runtime's own count ([`Runtime::scale`]), each
    /// new one (not in `known`) answering; `None` where the runtime does not keep replicas.
    ///
    /// [`Runtime::scale`]: crate::runtime::Runtime::scale
    async fn scaled(
        &self,
        app: &Application,
        dep: &Deployment,
        count: usize,
        known: &[String],
    ) -> Result<Option<Vec<Instance>>> {
        let spec = self.spec_of(app, dep)?;
        let n = u32::try_from(count).unwrap_or(u32::MAX);
        let Some(all) = self.runtime().scale(&spec, n).await? else {
            return Ok(None);
        };
        for instance in all.iter().filter(|i| !known.contains(&i.id)) {
            self.wait_ready(&app.health, instance).await?;
            self.collect_output(app.id, dep.id, &instance.id);
        }
        Ok(Some(all))
    }

    async fn record_scaled(&self, app: &Application, from: usize, to: usize, reason: &str) {
        let message = format!(
            "{} scaled from {from} to {to} instance(s): {reason}",
            app.name
        );
        self.record(
            crate::event_log::EventRecord::app(app, crate::event_log::EventKind::Scaled, message)
                .details(serde_json::json!({ "from": from, "to": to })),
        )
        .await;
    }

    async fn remove_all(&self, instances: &[Instance]) {
        for instance in instances {
            if let Err(e) = self.runtime().remove(&instance.id).await {
                tracing::warn!(instance = %instance.id, error = %e, "could not remove a started replica");
            }
        }
    }

    /// Replaces the replicas of `dep` marked `CRASHED` while others still serve: after the
    /// restart policy's backoff, one new replica each, added to the route once it answers. The
    /// app stays `RUNNING`. Past the policy's attempts the crashed replicas are removed and not
    /// replaced. The caller holds the lock.
    pub(crate) async fn replace_crashed(
        &self,
        app: &Application,
        mut dep: Deployment,
        crashes: i32,
        why: &str,
    ) -> Result<()> {
        let crashed: Vec<String> = dep
            .instances
            .iter()
            .filter(|r| r.state == crate::model::ReplicaState::Crashed)
            .map(|r| r.id.clone())
            .collect();
        for id in &crashed {
            self.runtime().remove(id).await?;
            dep.forget(id);
        }
        let policy = self.config().crash_restart;
        let others = dep.running().count();
        if crashes > i32::try_from(policy.max_attempts).unwrap_or(i32::MAX) {
            dep.restarts = crashes;
            self.write_replicas(&dep).await?;
            let text = format!(
                "{} crashed replica(s) not replaced: the app crashed {crashes} times in a row; \
                 {others} keep serving; the last time {why}",
                crashed.len()
            );
            self.system_log(app.id, Some(dep.id), text).await;
            return Ok(());
        }
        dep.restarts = crashes;
        self.write_replicas(&dep).await?;
        let delay = policy.delay(u32::try_from(crashes).unwrap_or(u32::MAX));
        let text = format!(
            "{} replica(s) crashed: {why}; replaced in {:.1}s while {others} keep serving",
            crashed.len(),
            delay.as_secs_f64()
        );
        self.system_log(app.id, Some(dep.id), text).await;
        tokio::time::sleep(delay).await;
        self.add_replicas(app, dep, crashed.len()).await.map(|_| ())
    }

    /// Starts `count` more replicas of the running deployment `dep` and adds them to its route
    /// once they all answer (make before break: none is routed before it answers). Returns the
    /// deployment's running replicas after. A replica that would not start is logged and
    /// nothing is added.
    pub(crate) async fn add_replicas(
        &self,
        app: &Application,
        mut dep: Deployment,
        count: usize,
    ) -> Result<usize> {
        // A runtime that keeps replicas itself (Nomad) runs one more as its count.
        let known = dep.instance_ids();
        let running = dep.running().count();
        match self.scaled(app, &dep, running + count, &known).await {
            Ok(Some(all)) => {
                let new = all.into_iter().filter(|i| !known.contains(&i.id));
                return self.route_added(dep, new).await;
            }
            Ok(None) => {}
            Err(e) => {
                let text = format!("no replica added: the runtime did not run more: {e}");
                self.system_log(app.id, Some(dep.id), text).await;
                return Ok(running);
            }
        }
        match self.launch_replicas(app, &mut dep, count).await? {
            Ok(started) => self.route_added(dep, started.into_iter()).await,
            Err(reason) => {
                self.system_log(app.id, Some(dep.id), format!("no replica added: {reason}"))
                    .await;
                Ok(dep.running().count())
            }
        }
    }
}

impl Platform {
    /// Adds the started replicas `new` of `dep` to its route; returns its running replicas
    /// after. The deployment is read again first: its row may have changed while they started.
    async fn route_added(
        &self,
        dep: Deployment,
        new: impl Iterator<Item = Instance>,
    ) -> Result<usize> {
        let mut now = self.store().deployment(dep.id).await?.unwrap_or(dep);
        let at = chrono::Utc::now();
        now.instances
            .extend(new.map(|i| Replica::running(i.id, i.endpoint, at)));
        self.write_replicas(&now).await?;
        Ok(now.running().count())
    }
}

fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
