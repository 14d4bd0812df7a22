//! The warden's liveness checks: every routed replica of every running app is checked every
//! `healthCheck.intervalSeconds`; one that fails `unhealthyThreshold` checks in a row is taken
//! out of the route and restarted under the restart policy (the supervisor's crash path, so it
//! counts toward a crash loop's `FAILED`), the failing answer as the reason. Readiness (an
//! instance is routed only once it passes) is the start's wait, in `deploy.rs`.
//!
//! Expected flow: the process holding the `task:warden` lock (one among every `paas serve`;
//! the others try again every third of a lease, and take over within a lease when its holder
//! dies) reads the running apps' routed replicas every supervise period → each replica is due
//! at its own offset within its interval (a hash of its id: no thundering herd) → its check
//! runs in the background, bounded by its timeout → the answer is counted
//! ([`crate::health::tally`]) → a change (failing, recovered, unhealthy) is a
//! [`HealthEvent`]; unhealthy restarts the replica under the app's lock (a busy app is tried
//! again at its next failing check).
//!
//! Guarantees: a check writes nothing to the store unless its verdict changes (counters live in
//! this process's memory; a new holder starts counting from zero). Settings changed by
//! `updateApplication` apply from the next read of the apps, with no restart. Replicas within
//! their start period are not checked.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::time::Duration;

use chrono::Utc;
use tokio::time::Instant;

use crate::error::Result;
use crate::event_log::{EventKind, EventRecord};
use crate::health::HealthEvent;
use crate::health::probe::Failure;
use crate::health::tally::{Tally, Verdict};
use crate::lock::LockKey;
use crate::model::{AppId, DeploymentId, Desired, Endpoint, HealthCheck, HealthKind};
use crate::notify::{Notification, NotificationKind};
use crate::platform::Platform;
use crate::status::AppStatus;

/// How often the warden looks for due checks.
const TICK: Duration = Duration::from_millis(100);

/// One routed replica the warden checks.
struct Watched {
    app: AppId,
    dep: DeploymentId,
    endpoint: Endpoint,
    check: HealthCheck,
    /// When its next check is due.
    next: Instant,
    /// A check of it is under way (no second one starts meanwhile).
    probing: bool,
    tally: Tally,
}

impl Platform {
    /// Runs the liveness checks until `shutdown` completes, in the one process that holds the
    /// warden's lock (see the module's expected flow).
    pub async fn run_warden(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let again = self.config().lock_lease / 3;
        loop {
            let key = LockKey::Task("warden");
            match self
                .locks()
                .try_acquire(&key, "checking the apps' health")
                .await
            {
                Ok(Ok(lease)) => {
                    tokio::select! {
                        () = &mut shutdown => return,
                        out = self.locks().hold(lease, self.watch_health()) => {
                            if let Err(e) = out {
                                tracing::info!(error = %e, "health checks handed over");
                            }
                        }
                    }
                }
                Ok(Err(_)) => {} // another process checks
                Err(e) => tracing::warn!(error = %e, "could not take the warden's lock"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(again) => {}
            }
        }
    }

    /// Checks the routed replicas for as long as it runs (the caller holds the lock).
    async fn watch_health(&self) -> Result<()> {
        let mut watched: HashMap<String, Watched> = HashMap::new();
        let mut probes = tokio::task::JoinSet::new();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut read_at = Instant::now();
        loop {
            tokio::select! {
                Some(done) = probes.join_next(), if !probes.is_empty() => {
                    if let Ok((id, outcome)) = done {
                        self.judge(&mut watched, id, outcome).await;
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    if now >= read_at {
                        if let Err(e) = self.watch_list(&mut watched, now).await {
                            tracing::warn!(error = %e, "could not read the replicas to check");
                        }
                        read_at = now + self.config().supervise_every;
                    }
                    for (id, w) in watched.iter_mut().filter(|(_, w)| !w.probing && w.next <= now) {
                        w.probing = true;
                        w.next = now + w.check.interval();
                        let (prober, check, at, id) =
                            (self.prober().clone(), w.check.clone(), w.endpoint.clone(), id.clone());
                        probes.spawn(async move {
                            let outcome = prober.check(&check, &at).await;
                            (id, outcome)
                        });
                    }
                }
            }
        }
    }

    /// Brings `watched` in line with the routed replicas of the running apps: new ones get
    /// their offset, gone ones are forgotten, changed settings apply.
    async fn watch_list(&self, watched: &mut HashMap<String, Watched>, now: Instant) -> Result<()> {
        let mut seen = Vec::new();
        for app in self.store().apps_in_status(&[AppStatus::Running]).await? {
            if app.desired == Desired::Stopped || app.health.kind == HealthKind::None {
                continue;
            }
            let Some(dep) = self.live_deployment(app.id, None).await? else {
                continue;
            };
            for r in dep.running() {
                seen.push(r.id.clone());
                if let Some(w) = watched.get_mut(&r.id) {
                    if w.check != app.health {
                        w.next = w.next.min(now + app.health.interval());
                        w.check = app.health.clone();
                    }
                    continue;
                }
                let interval = app.health.interval();
                let mut next = now + offset(&r.id, interval);
                let settled = r.started_at + chrono_of(app.health.start_period());
                if let Ok(left) = (settled - Utc::now()).to_std() {
                    next = next.max(now + left);
                }
                watched.insert(
                    r.id.clone(),
                    Watched {
                        app: app.id,
                        dep: dep.id,
                        endpoint: r.endpoint.clone(),
                        check: app.health.clone(),
                        next,
                        probing: false,
                        tally: Tally::default(),
                    },
                );
            }
        }
        watched.retain(|id, _| seen.contains(id));
        Ok(())
    }

    /// Counts one answer of replica `id` and acts on the verdict.
    async fn judge(
        &self,
        watched: &mut HashMap<String, Watched>,
        id: String,
        outcome: std::result::Result<(), Failure>,
    ) {
        let Some(w) = watched.get_mut(&id) else {
            return; // gone from the route meanwhile
        };
        w.probing = false;
        crate::metrics::health_check(match &outcome {
            Ok(()) => crate::metrics::HealthCheckResult::Passed,
            Err(f) if f.reason.contains("timed out") => crate::metrics::HealthCheckResult::TimedOut,
            Err(_) => crate::metrics::HealthCheckResult::Failed,
        });
        let verdict = w.tally.record(outcome.is_ok(), &w.check);
        let (app, dep) = (w.app, w.dep);
        let reason = outcome.err().map(|f| f.reason).unwrap_or_default();
        match verdict {
            Verdict::Unchanged => {}
            Verdict::Failing => {
                let since = Utc::now();
                let event = HealthEvent::Failing {
                    instance: id,
                    reason,
                    since,
                };
                self.health_event(app, event).await;
            }
            Verdict::Recovered => {
                self.health_event(app, HealthEvent::Recovered { instance: id })
                    .await;
            }
            Verdict::Unhealthy => {
                if self.restart_unhealthy(app, dep, &id, reason).await {
                    watched.remove(&id);
                }
            }
        }
    }

    /// Takes an unhealthy replica out of the route and restarts it under the restart policy,
    /// in the background under the app's lock. False if the app is busy (tried again at the
    /// next failing check).
    async fn restart_unhealthy(
        &self,
        app: AppId,
        dep: DeploymentId,
        id: &str,
        reason: String,
    ) -> bool {
        let key = LockKey::App(app);
        let lease = match self
            .locks()
            .try_acquire(&key, "restarting an unhealthy instance")
            .await
        {
            Ok(Ok(lease)) => lease,
            Ok(Err(_)) => return false,
            Err(e) => {
                tracing::warn!(app_id = %app, error = %e, "could not take the app's lock");
                return false;
            }
        };
        let event = HealthEvent::RestartedUnhealthy {
            instance: id.to_owned(),
            reason: reason.clone(),
        };
        self.health_event(app, event).await;
        let platform = self.clone();
        let unhealthy = Some((id.to_owned(), reason));
        tokio::spawn(async move {
            let work = async {
                let out = platform.handle_crash(app, dep, unhealthy).await;
                if let Err(e) = &out {
                    platform.settle_after(app, dep, e).await;
                }
                out
            };
            if let Err(e) = platform.locks().hold(lease, work).await {
                tracing::warn!(app_id = %app, error = %e, "could not restart an unhealthy instance");
            }
        });
        true
    }

    /// Raises a health event: a line in the app's `SYSTEM` log and the server's log, an entry in
    /// the event log, and for an instance restarted for failing its checks (it failed
    /// `unhealthyThreshold` checks in a row: for longer than the check allows) the
    /// `HEALTH_FAILING` notification, cleared when the check passes again or the app runs
    /// steadily. Every health event goes through here.
    pub(crate) async fn health_event(&self, app: AppId, event: HealthEvent) {
        self.log_health_event(app, &event).await;
        let Ok(Some(application)) = self.store().app(app).await else {
            return;
        };
        let text = event.describe();
        match &event {
            HealthEvent::Failing {
                instance, reason, ..
            } => {
                let details = serde_json::json!({ "instance": instance, "reason": reason });
                self.record(
                    EventRecord::app(&application, EventKind::HealthCheckFailed, text)
                        .details(details),
                )
                .await;
            }
            HealthEvent::Recovered { instance } => {
                let details = serde_json::json!({ "instance": instance });
                self.record(
                    EventRecord::app(&application, EventKind::HealthCheckRecovered, text)
                        .details(details),
                )
                .await;
                self.clear_notification(
                    application.owner,
                    NotificationKind::HealthFailing,
                    Some(app),
                )
                .await;
            }
            HealthEvent::RestartedUnhealthy { instance, reason } => {
                let details = serde_json::json!({
                    "instance": instance, "reason": reason, "restarted": true,
                });
                self.record(
                    EventRecord::app(&application, EventKind::HealthCheckFailed, text)
                        .details(details),
                )
                .await;
                self.notify(Notification {
                    user: application.owner,
                    kind: NotificationKind::HealthFailing,
                    app: Some(app),
                    app_name: Some(application.name.to_string()),
                    message: format!(
                        "{} failed its health check {} times in a row and was restarted: {reason}",
                        application.name, application.health.unhealthy_threshold
                    ),
                    at: Utc::now(),
                })
                .await;
            }
        }
    }

    async fn log_health_event(&self, app: AppId, event: &HealthEvent) {
        match event {
            HealthEvent::Recovered { instance } => {
                tracing::info!(app_id = %app, %instance, "health check recovered");
            }
            HealthEvent::Failing {
                instance, reason, ..
            } => {
                tracing::warn!(app_id = %app, %instance, %reason, "health check failing");
            }
            HealthEvent::RestartedUnhealthy { instance, reason } => {
                tracing::warn!(app_id = %app, %instance, %reason, "unhealthy instance restarted");
            }
        }
        self.system_log(app, None, event.describe()).await;
    }
}

/// Where in its interval a replica's checks fall: spread by its id, the same in every round.
fn offset(id: &str, interval: Duration) -> Duration {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    id.hash(&mut h);
    let millis = u64::try_from(interval.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_millis(h.finish() % millis)
}

fn chrono_of(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::zero())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_are_spread_over_the_interval_and_stay_in_place() {
        let interval = Duration::from_secs(10);
        let offsets: Vec<Duration> = (0..100)
            .map(|i| offset(&format!("app-{i}"), interval))
            .collect();
        assert!(offsets.iter().all(|o| *o < interval));
        let early = offsets.iter().filter(|o| o.as_secs() < 5).count();
        assert!(
            (25..=75).contains(&early),
            "{early} of 100 in the first half"
        );
        assert_eq!(
            offset("app-1", interval),
            offsets[1],
            "the same every round"
        );
    }
}
