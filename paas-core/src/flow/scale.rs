//! The scaler loop: follows every router's load reports and, once a period, decides for each
//! app that wants to run ([`crate::scaler::Windows::decide`]), then acts under the app's lock:
//! one decider per app across every process (a busy app is looked at again next period).
//! Each action is a `SCALE` task whose progress keeps the reason, and lines in the app's
//! `SYSTEM` log.
//!
//! Expected flow of a sleep: no request for `idleSeconds` → lock → the app read again →
//! `SLEEPING` (routers drop the route and hold new requests, [`crate::router`]) → the
//! instances removed once drained; the deployment and its image stay, so a wake starts the
//! same image again without a build. Of a change of count (the load, or bounds moved by new
//! settings): lock → the app read again → [`Platform::scale_to`] (new instances enter the
//! route once they answer; leaving ones drain first) → its `SYSTEM` line; a count that fell
//! short fails the task with the reason.
//!
//! Guarantees:
//! - an app is never put to sleep on silence the scaler cannot vouch for (its own start, lost
//!   bus events: [`crate::scaler::Activity`]);
//! - while the bus is away, or other processes' reports cannot reach this one
//!   ([`crate::events::EventBus::hears_others`]), nothing is decided at all: no report is not a
//!   load of zero;
//! - an app whose count just changed (woken, scaled, here or by another process) starts its
//!   idle time and its windows over, the cool-down from then;
//! - a decision is carried out only if the app is, under its lock, as it was when decided (same
//!   status and count, still wanted running, no deployment in flight): two processes deciding
//!   alike make one change and one `SCALE` task.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use futures::StreamExt;

use crate::error::Result;
use crate::events::Event;
use crate::lock::LockKey;
use crate::model::{AppId, Application, Desired};
use crate::platform::Platform;
use crate::router::drain::Drain;
use crate::scaler::{Activity, Decision, Windows};
use crate::status::AppStatus;
use crate::task::{Task, TaskKind};

impl Platform {
    /// Runs the scaler until `shutdown` completes.
    pub async fn run_scaler(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let every = self.config().scaler.every;
        let activity = Arc::new(Activity::new(every));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events = None;
        let mut windows: HashMap<AppId, (u32, Windows)> = HashMap::new();
        // Whether the last tick could not hear the other processes.
        let mut deaf = false;
        loop {
            if events.is_none() {
                match self.bus().subscribe().await {
                    Ok(stream) => {
                        events = Some(stream);
                        activity.missed();
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "scaler: no event bus; no app sleeps until it is back")
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tick.tick() => {
                    if events.is_none() || !self.bus().hears_others() {
                        // No bus, or other processes' reports cannot reach this one (Redis is
                        // away): silence says nothing, and no load is not a load of zero.
                        // Nothing is decided until the reports are back.
                        activity.missed();
                        windows.clear();
                        deaf = true;
                        continue;
                    }
                    if std::mem::take(&mut deaf) {
                        // Heard again: the others hear Redis again only at their next probe
                        // of it; their silence until then says nothing either.
                        activity.missed_for(crate::redis_conn::PROBE_MAX + every);
                    }
                    if let Err(e) = self.scale_step(&activity, &mut windows).await {
                        tracing::warn!(error = %e, "scaler step failed");
                    }
                }
                event = next(&mut events) => match event {
                    Some(Event::Load(report)) => activity.note(&report),
                    Some(Event::Missed) => activity.missed(),
                    Some(_) => {}
                    None => {
                        events = None;
                        activity.missed();
                    }
                },
            }
        }
    }

    /// Decides for every app that wants to run, and starts the actions in the background.
    async fn scale_step(
        &self,
        activity: &Arc<Activity>,
        windows: &mut HashMap<AppId, (u32, Windows)>,
    ) -> Result<()> {
        let apps = self
            .store()
            .apps_in_status(&[AppStatus::Running, AppStatus::Sleeping])
            .await?;
        let now = Instant::now();
        let seen: std::collections::HashSet<AppId> = apps.iter().map(|a| a.id).collect();
        windows.retain(|id, _| {
            let keep = seen.contains(id);
            if !keep {
                // Deleted, stopped, or on its way up again: its count is read afresh (and its
                // idle time starts over) when it is back.
                activity.forget(*id);
            }
            keep
        });
        for app in apps {
            if app.desired != Desired::Running {
                continue;
            }
            let running = self.instance_count(&app).await?;
            if app.status == AppStatus::Running && running == 0 {
                continue; // between two instances (a restart): the supervisor's, not ours
            }
            let (last, w) = windows.entry(app.id).or_default();
            if *last != running {
                // Woken or scaled (here or by another process): idle time starts over, and
                // so do the windows, with the cool-down from this change.
                activity.touch(app.id);
                *w = Windows::changed_at(now);
                *last = running;
            }
            let decision = w.decide(
                &app.scaling,
                &self.config().scaler,
                running,
                activity.load(app.id),
                activity.idle_for(app.id),
                now,
            );
            if decision != Decision::Keep {
                let id = app.id;
                if let Err(e) = self.act(app, running, decision).await {
                    tracing::warn!(app_id = %id, error = %e, "scaler: could not act");
                }
            }
        }
        Ok(())
    }

    /// How many instances serve the app now (0 while it sleeps).
    pub(crate) async fn instance_count(&self, app: &Application) -> Result<u32> {
        if app.status != AppStatus::Running {
            return Ok(0);
        }
        let n = self.serving_instances(app).await?.len();
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Carries a decision taken for an app running `running` instances out in the background,
    /// under the app's lock, as a `SCALE` task. Under the lock the app is read again: one that
    /// changed since the decision (another process acted on it, a user stopped or redeploys
    /// it) is left as it is, with no task: the next period decides again.
    async fn act(&self, app: Application, running: u32, decision: Decision) -> Result<()> {
        let key = LockKey::App(app.id);
        let purpose = match &decision {
            Decision::Sleep { .. } => "putting an idle app to sleep",
            _ => "scaling",
        };
        let Ok(lease) = self.locks().try_acquire(&key, purpose).await? else {
            return Ok(()); // a task is at work on the app; decide again next period
        };
        let platform = self.clone();
        tokio::spawn(async move {
            let work = async {
                let reason = match &decision {
                    Decision::Keep => return Ok(()),
                    Decision::Sleep { reason } | Decision::Scale { reason, .. } => reason.clone(),
                };
                if !platform.still_as_decided(&app, running).await? {
                    return Ok(());
                }
                let mut task = Task::running(app.id, app.owner, TaskKind::Scale, &reason);
                task.deployment = app.deployment;
                platform.store().put_task(&task).await?;
                let out = match decision {
                    Decision::Sleep { reason } => platform.sleep_app(app.id, &reason).await,
                    Decision::Scale { to, reason } => {
                        platform.scale_app(app.id, running, to, &reason).await
                    }
                    Decision::Keep => Ok(()),
                };
                let failed = out.as_ref().err().map(ToString::to_string);
                platform.end_scale_task(&mut task, failed).await;
                out
            };
            if let Err(e) = platform.locks().hold(lease, work).await {
                tracing::warn!(app_id = %app.id, error = %e, "a scaling action failed");
            }
        });
        Ok(())
    }

    /// Whether `app` is, under its lock, as the scaler saw it when it decided: same status,
    /// still wanted running, no deployment in flight, `running` instances.
    async fn still_as_decided(&self, app: &Application, running: u32) -> Result<bool> {
        let now = self.fresh(app.id).await?;
        if now.status != app.status || now.desired != Desired::Running {
            return Ok(false);
        }
        if self.busy_with(app.id).await?.is_some() {
            return Ok(false);
        }
        Ok(self.instance_count(&now).await? == running)
    }

    /// Changes the instance count of an app from `from` to `to` for `reason`
    /// ([`Platform::scale_to`], which writes what it did to the app's `SYSTEM` log; a sleeping
    /// app is woken). A change that falls short is an error: the task fails with it, in the
    /// log too. The caller holds the app's lock.
    async fn scale_app(&self, app: AppId, from: u32, to: u32, reason: &str) -> Result<()> {
        let failed = match self.scale_to(app, to, reason).await {
            Ok(n) if n == to => return Ok(()),
            Ok(n) => crate::error::Error::runtime(format!(
                "scaling from {from} to {to} instance(s) left {n} running"
            )),
            Err(e) => e,
        };
        let dep = self.fresh(app).await?.deployment;
        self.system_log(
            app,
            dep,
            format!("scaling from {from} to {to} instance(s) failed: {failed}"),
        )
        .await;
        Err(failed)
    }

    /// Ends a `SCALE` task, failed with `error` if any: its progress keeps the reason (what it
    /// did and why).
    pub(crate) async fn end_scale_task(&self, task: &mut Task, error: Option<String>) {
        task.end(error);
        if let Err(e) = self.store().put_task(task).await {
            tracing::warn!(task = %task.id, error = %e, "could not record the end of a task");
        }
    }

    /// Puts an idle app to sleep: `SLEEPING`, its route down (routers hold new requests and
    /// wake it), its instances removed once drained. The deployment and image stay. The caller
    /// holds the app's lock; an app that changed meanwhile (a request woke it, a user stopped
    /// it, its settings no longer allow sleep) is left as it is.
    #[tracing::instrument(skip(self), err)]
    pub(crate) async fn sleep_app(&self, app_id: AppId, reason: &str) -> Result<()> {
        let app = self.fresh(app_id).await?;
        if app.status != AppStatus::Running
            || app.desired != Desired::Running
            || !app.scaling.may_sleep()
        {
            return Ok(());
        }
        let Some(live) = self.live_deployment(app_id, None).await? else {
            return Ok(());
        };
        let instances: Vec<String> = live.running().map(|r| r.id.clone()).collect();
        // Listening for the routers' drain reports before the route goes down.
        let drain = Drain::watch(self).await;
        self.update_app(app_id, |a| {
            a.status = AppStatus::Sleeping;
            a.status_reason = Some(format!("asleep: {reason}"));
            Ok(())
        })
        .await?;
        self.system_log(app_id, Some(live.id), format!("going to sleep: {reason}"))
            .await;
        let message = format!("{} went to sleep: {reason}", app.name);
        self.record(crate::event_log::EventRecord::app(
            &app,
            crate::event_log::EventKind::Slept,
            message,
        ))
        .await;
        let config = self.config();
        let drained = drain
            .wait_all(&instances, config.router.drain_settle, config.drain)
            .await;
        for instance in &instances {
            self.runtime().remove(instance).await?;
        }
        self.forget_instances(live.id).await?;
        let how = if drained {
            "drained"
        } else {
            "drain timeout passed"
        };
        self.system_log(
            app_id,
            Some(live.id),
            format!("asleep: {} instance(s) removed ({how})", instances.len()),
        )
        .await;
        Ok(())
    }
}

impl Platform {
    /// Forgets the instances of deployment `dep` (removed by the caller): it stays the app's
    /// live deployment, with nothing running.
    async fn forget_instances(&self, dep: crate::model::DeploymentId) -> Result<()> {
        if let Some(mut d) = self.store().deployment(dep).await? {
            d.instances.clear();
            self.write_replicas(&d).await?;
        }
        Ok(())
    }
}

async fn next(events: &mut Option<futures::stream::BoxStream<'static, Event>>) -> Option<Event> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}
