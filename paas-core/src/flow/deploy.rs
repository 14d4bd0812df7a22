//! Step 4 of the create flow: the deployer takes build results off the queue and starts the
//! built app, trying up to the start policy's attempts before failing it.
//!
//! Guarantees: idempotent per message. A redelivered `BuildSucceeded` for a deployment that is
//! already running, failed or replaced changes nothing.

use std::future::Future;
use std::time::Duration;

use futures::FutureExt;

use super::consume::{Attempts, STEP_WAIT, Step, Work, run_steps};
use crate::error::{Error, Result};
use crate::event_log::{EventKind, EventRecord};
use crate::events::Event;
use crate::lock::LockKey;
use crate::model::{
    AppId, Application, Deployment, DeploymentId, DeploymentStatus, HealthCheck, Replica,
};
use crate::platform::Platform;
use crate::queue::{Message, Topic};
use crate::router::drain::Drain;
use crate::runtime::{Instance, InstanceSpec, InstanceState};
use crate::status::AppStatus;

/// How often a starting instance is probed: often, as a woken app's first request waits on
/// it (a probe is an inspect and a connect).
const PROBE_EVERY: Duration = Duration::from_millis(5);

/// How often a starting instance that answers (but not yet enough times, or badly) is checked
/// again.
const RECHECK_EVERY: Duration = Duration::from_millis(500);

/// How long removed replicas wait for their app's lock to be forgotten on their deployment (a
/// build of the next redeploy may hold it for minutes).
const FORGET_WAIT: Duration = Duration::from_secs(600);

impl Platform {
    /// Runs the deployer until `shutdown` completes.
    pub async fn run_deployer(&self, shutdown: impl Future<Output = ()>) {
        run_steps("deployer", shutdown, || self.deploy_step(STEP_WAIT)).await;
    }

    /// Takes one build result (waiting up to `wait`) and acts on it.
    pub async fn deploy_step(&self, wait: Duration) -> Result<Step> {
        self.consume_step(Topic::Results, wait, |message| match message {
            Message::BuildSucceeded { app, deployment } => Some(Work {
                app: *app,
                purpose: format!("starting deployment {deployment}"),
                run: self.start_deployment(*app, *deployment).boxed(),
            }),
            Message::BuildFailed {
                app,
                deployment,
                reason,
            } => {
                tracing::info!(app_id = %app, %deployment, %reason, "build failed");
                None
            }
            Message::BuildRequest { .. } => {
                tracing::warn!("a build request on the results topic was dropped");
                None
            }
        })
        .await
    }

    /// Starts a built deployment: app `Starting`, as many replicas as the live deployment runs
    /// (at least `minInstances`, at least one; up to N starts each), then `Running` or
    /// `Failed`. A running app keeps serving from its live deployment until every new replica
    /// answers; then the route switches to all of them at once and the old ones drain.
    #[tracing::instrument(skip(self), err)]
    pub(crate) async fn start_deployment(&self, app_id: AppId, dep_id: DeploymentId) -> Result<()> {
        let Some(mut dep) = self.store().deployment(dep_id).await? else {
            return Ok(());
        };
        let Some(app) = self.app(app_id).await? else {
            return Ok(());
        };
        if matches!(
            dep.status,
            DeploymentStatus::Running | DeploymentStatus::Failed | DeploymentStatus::Stopped
        ) {
            return Ok(());
        }
        if self.replaced(app.deployment, &mut dep).await? {
            return Ok(());
        }
        let began = std::time::Instant::now();
        let live = self.live_deployment(app.id, Some(dep.id)).await?;
        let app = if app.status == AppStatus::Starting || live.is_some() {
            app
        } else {
            self.set_status(app.id, AppStatus::Starting, None).await?
        };
        dep.status = DeploymentStatus::Starting;
        self.store().update_deployment(&dep).await?;
        self.track(dep.id, "starting", None).await?;
        let ran = live.as_ref().map_or(0, |d| d.running().count());
        let count = self.replicas_wanted(&app, ran);
        match self.launch_replicas(&app, &mut dep, count).await? {
            Ok(started) => {
                // Listening for the routers' drain reports before the route switches.
                let drain = Drain::watch(self).await;
                self.went_live(&app, &mut dep, started).await?;
                crate::metrics::deploy_finished(began.elapsed(), true);
                let message = format!("deployment {} of {} is live", dep.id, app.name);
                self.record(
                    EventRecord::app(&app, EventKind::DeploySucceeded, message)
                        .details(serde_json::json!({ "deployment": dep.id.to_string() })),
                )
                .await;
                self.app_recovered(app.owner, app.id).await;
                // The deployments it replaces are stopped before the task ends, so whoever
                // sees the task done sees one deployment running.
                let retired = async {
                    if let Some(old) = live {
                        self.retire(old, drain).await?;
                    }
                    // A sleeping app redeployed: the deployment it slept with is done.
                    self.retire_slept(app.id, dep.id).await
                }
                .await;
                self.track(dep.id, "", Some(None)).await?;
                if let Err(e) = retired {
                    tracing::warn!(app_id = %app.id, error = %e, "a replaced deployment is still listed as running");
                }
                self.prune_images(app.id).await?;
            }
            Err(reason) => {
                crate::metrics::deploy_finished(began.elapsed(), false);
                self.fail_deployment(&mut dep, reason).await?
            }
        }
        Ok(())
    }

    /// Starts an instance of `dep`, trying up to the start policy's attempts (counted on the
    /// deployment). `Ok(Err(reason))` when it would not start.
    pub(crate) async fn launch(
        &self,
        app: &Application,
        dep: &mut Deployment,
    ) -> Result<std::result::Result<Instance, String>> {
        let policy = self.config().start_retry;
        let started = self
            .counted(
                policy,
                dep,
                Attempts::Start,
                startable_again,
                |_, dep| async move { self.start_once(app, &dep).await },
            )
            .await;
        match started {
            Ok(instance) => Ok(Ok(instance)),
            Err(e) if startable_again(&e) => Ok(Err(format!(
                "the app did not start after {} attempts: {e}",
                dep.start_attempts
            ))),
            Err(e) => Err(e),
        }
    }

    /// Records started instances: deployment and app `RUNNING`, the route switched to them
    /// (the deployment's replicas that were running drain; one restarted in place keeps its
    /// id and is simply replaced). The deployment (with its replicas and their addresses) and
    /// the app are written in one transaction. Returns the draining replicas: the caller
    /// removes them once drained ([`Platform::remove_drained`]), and ends the task once what
    /// the new replicas replace is recorded.
    pub(crate) async fn went_live(
        &self,
        app: &Application,
        dep: &mut Deployment,
        started: Vec<Instance>,
    ) -> Result<Vec<String>> {
        let now = chrono::Utc::now();
        dep.instances
            .retain(|r| !started.iter().any(|i| i.id == r.id));
        let draining = dep.drain_running();
        for instance in &started {
            tracing::info!(app_id = %app.id, url = %instance.endpoint.url(), "instance live");
        }
        dep.instances.extend(
            started
                .into_iter()
                .map(|i| Replica::running(i.id, i.endpoint, now)),
        );
        dep.status = DeploymentStatus::Running;
        dep.started_at = Some(now);
        dep.error = None;
        self.update_app_adding(app.id, dep, |a| {
            a.status = AppStatus::Running;
            a.status_reason = None;
            a.deployment = Some(dep.id);
            Ok(())
        })
        .await?;
        tracing::info!(app_id = %app.id, replicas = dep.running().count(), "application running");
        Ok(draining)
    }

    /// Marks a replaced deployment stopped and removes its replicas once the routers have
    /// drained them (requests and websockets in flight on them finished, or the drain timeout).
    pub(crate) async fn retire(&self, mut old: Deployment, drain: Drain) -> Result<()> {
        old.status = DeploymentStatus::Stopped;
        let draining = old.drain_running();
        self.write_replicas(&old).await?;
        self.remove_drained(old.app_id, old.id, draining, drain);
        Ok(())
    }

    /// Stores `dep` with its replicas and tells the routers to read the app's route again.
    pub(crate) async fn write_replicas(&self, dep: &Deployment) -> Result<()> {
        self.store().update_deployment(dep).await?;
        self.bus().publish(Event::RouteChanged(dep.app_id)).await
    }

    /// Removes the replicas `instances` of deployment `dep` in the background once `drain` says
    /// no router uses them any more, then forgets them on the deployment (under the app's lock,
    /// so no other writer of the deployment loses the change; a lock that stays busy leaves
    /// them listed until the recovery at the next start forgets them).
    pub(crate) fn remove_drained(
        &self,
        app: AppId,
        dep: DeploymentId,
        instances: Vec<String>,
        drain: Drain,
    ) {
        if instances.is_empty() {
            return;
        }
        let platform = self.clone();
        tokio::spawn(async move {
            let config = platform.config();
            let drained = drain
                .wait_all(&instances, config.router.drain_settle, config.drain)
                .await;
            platform.remove_leaving(app, dep, &instances, drained).await;
        });
    }

    /// Removes drained replicas `instances` of `dep`, then forgets them on it.
    pub(crate) async fn remove_leaving(
        &self,
        app: AppId,
        dep: DeploymentId,
        instances: &[String],
        drained: bool,
    ) {
        let how = if drained {
            "drained"
        } else {
            "drain timeout passed"
        };
        for instance in instances {
            self.system_log(app, None, format!("instance {instance} removed ({how})"))
                .await;
            if let Err(e) = self.runtime().remove(instance).await {
                tracing::warn!(%instance, error = %e, "could not remove a replaced instance");
            }
        }
        if let Err(e) = self.forget_replicas(app, dep, instances).await {
            tracing::warn!(app_id = %app, error = %e, "removed replicas still listed");
        }
    }

    /// Forgets removed replicas on their deployment, under the app's lock.
    async fn forget_replicas(&self, app: AppId, dep: DeploymentId, ids: &[String]) -> Result<()> {
        let key = LockKey::App(app);
        let lease = self
            .locks()
            .acquire(&key, "forgetting removed replicas", FORGET_WAIT)
            .await?;
        let work = async {
            if let Some(mut d) = self.store().deployment(dep).await? {
                let mut changed = false;
                for id in ids {
                    changed |= d.forget(id);
                }
                if changed {
                    self.store().update_deployment(&d).await?;
                }
            }
            Ok(())
        };
        self.locks().hold(lease, work).await
    }

    /// What the runtime runs for `dep` of `app`.
    pub(crate) fn spec_of(&self, app: &Application, dep: &Deployment) -> Result<InstanceSpec> {
        let image = dep
            .image
            .clone()
            .ok_or_else(|| Error::runtime("the deployment has no built image"))?;
        Ok(InstanceSpec {
            app_id: app.id,
            app_name: app.name.clone(),
            deployment_id: dep.id,
            image,
            start_command: dep.start_command.clone(),
            port: app.port,
            env: app.env.clone(),
            resources: app.resources,
            port_bindings: app.port_bindings.clone(),
        })
    }

    async fn start_once(&self, app: &Application, dep: &Deployment) -> Result<Instance> {
        let began = std::time::Instant::now();
        let started = self.start_and_wait(app, dep).await;
        crate::metrics::instance_started(began.elapsed(), started.is_ok());
        started
    }

    async fn start_and_wait(&self, app: &Application, dep: &Deployment) -> Result<Instance> {
        let spec = self.spec_of(app, dep)?;
        let instance = self.runtime().start(&spec).await?;
        self.system_log(
            app.id,
            Some(dep.id),
            format!(
                "instance {} started (attempt {})",
                instance.id, dep.start_attempts
            ),
        )
        .await;
        self.collect_output(app.id, dep.id, &instance.id);
        match self.wait_ready(&app.health, &instance).await {
            Ok(()) => Ok(instance),
            Err(e) => {
                if let Err(rm) = self.runtime().remove(&instance.id).await {
                    tracing::warn!(instance = %instance.id, error = %rm, "could not remove a failed instance");
                }
                Err(e)
            }
        }
    }

    /// Waits until the instance passes `health` `healthyThreshold` times in a row, failing
    /// early if it exits. Until it listens (a refused connection), it is only starting: it has
    /// the server's start timeout to get there (or the check's start period, if longer). Once
    /// it listens, each failing answer after the start period counts, and `unhealthyThreshold`
    /// of them in a row fail the start with the last answer as the reason.
    pub(crate) async fn wait_ready(&self, health: &HealthCheck, instance: &Instance) -> Result<()> {
        let started = tokio::time::Instant::now();
        let deadline = started + self.config().start_timeout.max(health.start_period());
        let grace = started + health.start_period();
        let (mut passes, mut failures) = (0, 0);
        let mut last: Option<String> = None;
        loop {
            // The check first: once the app answers, a woken app's held requests need not
            // wait for one more inspect (a libpod call on Podman).
            let answered = match self.prober().check(health, &instance.endpoint).await {
                Ok(()) => {
                    passes += 1;
                    if passes >= health.healthy_threshold {
                        return Ok(());
                    }
                    true
                }
                Err(failure) => {
                    passes = 0;
                    if !failure.refused && tokio::time::Instant::now() >= grace {
                        failures += 1;
                    }
                    last = Some(failure.reason);
                    !failure.refused
                }
            };
            if failures >= health.unhealthy_threshold {
                let why = last.unwrap_or_default();
                return Err(Error::StartFailed(format!(
                    "it failed its health check {failures} times in a row: {why}"
                )));
            }
            match self.runtime().inspect(&instance.id).await? {
                state @ InstanceState::Exited { .. } => {
                    return Err(Error::StartFailed(exit_reason(&state)));
                }
                InstanceState::Missing => {
                    return Err(Error::StartFailed("the instance disappeared".into()));
                }
                InstanceState::Running => {}
            }
            if tokio::time::Instant::now() >= deadline {
                let limit = deadline - started;
                return Err(Error::StartFailed(match last {
                    Some(why) if answered => format!(
                        "it did not pass its health check within {}s: {why}",
                        limit.as_secs()
                    ),
                    _ => format!(
                        "it did not answer on port {} within {}s",
                        instance.endpoint.port,
                        limit.as_secs()
                    ),
                }));
            }
            // An instance that answers is asked again after a pause (the next pass, or the
            // next answer); one not listening yet is looked at often.
            let pause = if answered { RECHECK_EVERY } else { PROBE_EVERY };
            tokio::time::sleep(pause).await;
        }
    }
}

/// Whether a failed start is tried again: the app's own failure, or the runtime's (an I/O error
/// such as no free port or no file descriptor left may pass). The store's errors end the step,
/// which is then settled or delivered again.
fn startable_again(e: &Error) -> bool {
    matches!(
        e,
        Error::StartFailed(_) | Error::Runtime { .. } | Error::Io { .. }
    )
}

/// Why an instance is not running, in words: exit code or out-of-memory kill, and its last
/// output.
pub(crate) fn exit_reason(state: &InstanceState) -> String {
    match state {
        InstanceState::Running => "it is running".into(),
        InstanceState::Missing => "the instance disappeared".into(),
        InstanceState::Exited {
            code,
            oom_killed,
            output_tail,
        } => {
            let code = match (oom_killed, code) {
                (true, _) => "an out-of-memory kill (over its memory limit)".to_owned(),
                (false, Some(c)) => format!("code {c}"),
                (false, None) => "a signal".to_owned(),
            };
            let tail = if output_tail.trim().is_empty() {
                String::new()
            } else {
                format!("; its last output: {}", output_tail.trim())
            };
            format!("it exited with {code}{tail}")
        }
    }
}
