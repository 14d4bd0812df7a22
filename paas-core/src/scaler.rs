//! The scaler's view and its decisions: how many instances each app should run, from the load
//! every router reports ([`crate::events::LoadReport`]) and the app's
//! [`crate::model::Scaling`]. The loop that acts on the decisions, one decider per app under
//! the app's lock, is [`crate::Platform::run_scaler`] (flow/scale.rs).
//!
//! ## The model (numbers from [`crate::ScalerConfig`]'s defaults)
//! - **Sleep.** An app with `minInstances: 0` sleeps once no router has seen a request begin
//!   or end for `idleSeconds` and nothing is in flight (websockets count while open). A scaler
//!   that may have missed reports (it just started, or the bus lost events) counts the app
//!   active from then on: it never sleeps an app on silence it cannot vouch for.
//! - **Up.** When the requests in flight per instance (the mean over a report period, every
//!   router together) stay above `targetConcurrency` for `up_after` (5 s), the app gets
//!   `ceil(load / target)` instances (at least one more), up to `maxInstances`.
//! - **Down.** When one instance fewer would still be under half the target per instance for
//!   `down_after` (30 s), and no change happened for `cooldown` (30 s), one instance goes.
//!   The gap between "above the target" and "under half of it" is the hysteresis: a load
//!   that sits at the target neither adds nor removes.
//! - **Bounds.** Fewer than `minInstances` (its settings changed) or more than `maxInstances`
//!   are corrected at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::events::LoadReport;
use crate::model::{AppId, Scaling};
use crate::platform::ScalerConfig;

/// What every router reported lately, per app.
pub struct Activity {
    inner: Mutex<ActivityState>,
    /// How long a router's report counts (two report periods: one late report is not a drop).
    fresh: Duration,
}

struct ActivityState {
    /// From when this scaler vouches for what it heard: its start, or the last lost events.
    since: Instant,
    apps: HashMap<AppId, AppLoad>,
}

#[derive(Default)]
struct AppLoad {
    /// The last time a router saw a request for the app (in this process's clock).
    last_active: Option<Instant>,
    /// Per router: when its report arrived, and its mean and current in-flight counts.
    routers: HashMap<String, (Instant, f64, u32)>,
}

impl Activity {
    pub fn new(report_every: Duration) -> Self {
        Self {
            inner: Mutex::new(ActivityState {
                since: Instant::now(),
                apps: HashMap::new(),
            }),
            fresh: report_every * 2,
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ActivityState> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a router's report.
    pub fn note(&self, report: &LoadReport) {
        let now = Instant::now();
        let mut state = self.state();
        let app = state.apps.entry(report.app).or_default();
        let active = if report.open > 0 {
            now
        } else {
            now.checked_sub(Duration::from_millis(report.idle_ms))
                .unwrap_or(now)
        };
        app.last_active = Some(app.last_active.map_or(active, |a| a.max(active)));
        // Routers gone quiet (or gone: each process start is a new router) are dropped.
        let fresh = self.fresh;
        app.routers
            .retain(|_, (at, _, _)| now.duration_since(*at) < fresh);
        app.routers
            .insert(report.router.clone(), (now, report.in_flight, report.open));
    }

    /// Reports may have been lost: no app counts as idle for longer than from now.
    pub fn missed(&self) {
        self.state().since = Instant::now();
    }

    /// Reports may stay lost for `grace` more: no app counts as idle before then. For a bus
    /// that is back: other processes notice that Redis answers again only at their next probe
    /// of it, and report from then on.
    pub fn missed_for(&self, grace: Duration) {
        self.state().since = Instant::now() + grace;
    }

    /// Marks an app active now (it was just woken or scaled: its idle time starts over).
    pub fn touch(&self, app: AppId) {
        self.state().apps.entry(app).or_default().last_active = Some(Instant::now());
    }

    /// How long the app has been without a request on any router, as far as this scaler can
    /// vouch; zero while something is in flight.
    pub fn idle_for(&self, app: AppId) -> Duration {
        let now = Instant::now();
        let state = self.state();
        let mut from = state.since;
        if let Some(load) = state.apps.get(&app) {
            let open = load
                .routers
                .values()
                .any(|(at, _, open)| *open > 0 && now.duration_since(*at) < self.fresh);
            if open {
                return Duration::ZERO;
            }
            if let Some(active) = load.last_active {
                from = from.max(active);
            }
        }
        now.saturating_duration_since(from)
    }

    /// Requests in flight on the app, every router's fresh report together.
    pub fn load(&self, app: AppId) -> f64 {
        let now = Instant::now();
        self.state().apps.get(&app).map_or(0.0, |load| {
            load.routers
                .values()
                .filter(|(at, _, _)| now.duration_since(*at) < self.fresh)
                .map(|(_, mean, _)| mean)
                .sum()
        })
    }

    /// Forgets an app (deleted).
    pub fn forget(&self, app: AppId) {
        self.state().apps.remove(&app);
    }
}

/// What the scaler does to an app now.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    Keep,
    /// Scale to zero.
    Sleep {
        reason: String,
    },
    /// Run `to` instances.
    Scale {
        to: u32,
        reason: String,
    },
}

/// One app's windows: since when its load has been above the target, below half of it, and
/// when its count last changed.
#[derive(Clone, Debug, Default)]
pub struct Windows {
    above_since: Option<Instant>,
    below_since: Option<Instant>,
    last_change: Option<Instant>,
}

impl Windows {
    /// Windows of an app whose count just changed at `now` (by this scaler or another
    /// process): nothing measured yet, and the cool-down runs from `now`.
    pub fn changed_at(now: Instant) -> Self {
        Self {
            last_change: Some(now),
            ..Self::default()
        }
    }

    /// Decides for an app running `running` instances (0: asleep) with `load` requests in
    /// flight over every instance, idle for `idle`.
    pub fn decide(
        &mut self,
        s: &Scaling,
        config: &ScalerConfig,
        running: u32,
        load: f64,
        idle: Duration,
        now: Instant,
    ) -> Decision {
        if running == 0 {
            // Asleep: a request wakes it; only a minimum raised above zero wakes it here.
            return if s.min_instances > 0 {
                self.changed(
                    now,
                    s.min_instances,
                    format!("minInstances is {}", s.min_instances),
                )
            } else {
                Decision::Keep
            };
        }
        if s.may_sleep()
            && load < f64::EPSILON
            && idle >= Duration::from_secs(s.idle_seconds.into())
        {
            self.above_since = None;
            self.below_since = None;
            return Decision::Sleep {
                reason: format!(
                    "no request for {}s (idleSeconds {})",
                    idle.as_secs(),
                    s.idle_seconds
                ),
            };
        }
        if running < s.floor() {
            return self.changed(
                now,
                s.floor(),
                format!("minInstances is {}", s.min_instances),
            );
        }
        if running > s.max_instances {
            return self.changed(
                now,
                s.max_instances,
                format!("maxInstances is {}", s.max_instances),
            );
        }
        let target = f64::from(s.target_concurrency);
        let per = load / f64::from(running);
        if per > target {
            self.below_since = None;
            let since = *self.above_since.get_or_insert(now);
            if running < s.max_instances && now.duration_since(since) >= config.up_after {
                let wanted = (load / target).ceil() as u32;
                let to = wanted.clamp(running + 1, s.max_instances);
                return self.changed(
                    now,
                    to,
                    format!(
                        "{load:.1} requests in flight over {running} instance(s) for {}s, above the target of {} per instance",
                        now.duration_since(since).as_secs(),
                        s.target_concurrency
                    ),
                );
            }
            return Decision::Keep;
        }
        self.above_since = None;
        let fewer = running - 1;
        let quiet = fewer >= s.floor() && load / f64::from(fewer.max(1)) < target / 2.0;
        if !quiet {
            self.below_since = None;
            return Decision::Keep;
        }
        let since = *self.below_since.get_or_insert(now);
        let cooled = self
            .last_change
            .is_none_or(|c| now.duration_since(c) >= config.cooldown);
        if now.duration_since(since) >= config.down_after && cooled {
            return self.changed(
                now,
                fewer,
                format!(
                    "{load:.1} requests in flight over {running} instances for {}s: {fewer} stay under half the target of {} per instance",
                    now.duration_since(since).as_secs(),
                    s.target_concurrency
                ),
            );
        }
        Decision::Keep
    }

    fn changed(&mut self, now: Instant, to: u32, reason: String) -> Decision {
        self.above_since = None;
        self.below_since = None;
        self.last_change = Some(now);
        Decision::Scale { to, reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ScalerConfig {
        ScalerConfig {
            up_after: Duration::from_secs(5),
            down_after: Duration::from_secs(30),
            cooldown: Duration::from_secs(30),
            ..ScalerConfig::default()
        }
    }

    fn scaling(min: u32, max: u32, target: u32) -> Scaling {
        Scaling {
            min_instances: min,
            max_instances: max,
            idle_seconds: 60,
            target_concurrency: target,
        }
    }

    #[test]
    fn scales_up_after_the_window_and_down_with_hysteresis_and_cooldown() {
        let (c, s) = (config(), scaling(1, 3, 1));
        let mut w = Windows::default();
        let t0 = Instant::now();
        let at = |secs: u64| t0 + Duration::from_secs(secs);
        // Four in flight on one instance: nothing before the window, then straight to the max.
        assert_eq!(
            w.decide(&s, &c, 1, 4.0, Duration::ZERO, at(0)),
            Decision::Keep
        );
        assert_eq!(
            w.decide(&s, &c, 1, 4.0, Duration::ZERO, at(4)),
            Decision::Keep
        );
        assert!(matches!(
            w.decide(&s, &c, 1, 4.0, Duration::ZERO, at(5)),
            Decision::Scale { to: 3, .. }
        ));
        // At the target: neither way (hysteresis).
        for t in 6..100 {
            assert_eq!(
                w.decide(&s, &c, 3, 3.0, Duration::ZERO, at(t)),
                Decision::Keep,
                "t={t}"
            );
        }
        // The load stops: one instance at a time, each after the window and the cool-down.
        let mut w = Windows::default();
        assert!(matches!(
            w.decide(&s, &c, 1, 4.0, Duration::ZERO, at(0)),
            Decision::Keep
        ));
        assert!(matches!(
            w.decide(&s, &c, 1, 4.0, Duration::ZERO, at(5)),
            Decision::Scale { to: 3, .. }
        ));
        assert_eq!(
            w.decide(&s, &c, 3, 0.0, Duration::ZERO, at(6)),
            Decision::Keep
        );
        assert_eq!(
            w.decide(&s, &c, 3, 0.0, Duration::ZERO, at(35)),
            Decision::Keep
        );
        assert!(matches!(
            w.decide(&s, &c, 3, 0.0, Duration::ZERO, at(36)),
            Decision::Scale { to: 2, .. }
        ));
        // The window starts over after a change: its first look is at 37, so 67, not 66.
        assert_eq!(
            w.decide(&s, &c, 2, 0.0, Duration::ZERO, at(37)),
            Decision::Keep
        );
        assert_eq!(
            w.decide(&s, &c, 2, 0.0, Duration::ZERO, at(66)),
            Decision::Keep
        );
        assert!(matches!(
            w.decide(&s, &c, 2, 0.0, Duration::ZERO, at(67)),
            Decision::Scale { to: 1, .. }
        ));
        // Never below the minimum.
        for t in 67..200 {
            assert_eq!(
                w.decide(&s, &c, 1, 0.0, Duration::ZERO, at(t)),
                Decision::Keep
            );
        }
    }

    /// Runs the scaler once a second for `secs` seconds over `load(t)` (requests in flight,
    /// every instance together), starting with `running` instances and applying each change;
    /// returns the changes as `(second, new count)`.
    fn run(
        c: &ScalerConfig,
        s: &Scaling,
        mut running: u32,
        secs: u64,
        load: impl Fn(u64) -> f64,
    ) -> Vec<(u64, u32)> {
        let mut w = Windows::default();
        let t0 = Instant::now();
        let mut changes = Vec::new();
        for t in 0..secs {
            let now = t0 + Duration::from_secs(t);
            match w.decide(s, c, running, load(t), Duration::ZERO, now) {
                Decision::Keep => {}
                Decision::Scale { to, .. } => {
                    running = to;
                    changes.push((t, to));
                }
                Decision::Sleep { .. } => panic!("never idle here"),
            }
        }
        changes
    }

    #[test]
    fn a_load_oscillating_around_the_target_never_flaps() {
        let (c, s) = (config(), scaling(1, 5, 1));
        // Around the target on one instance, a swing a second: nothing, ever.
        let swing = |t: u64| if t.is_multiple_of(2) { 0.6 } else { 1.4 };
        assert_eq!(run(&c, &s, 1, 600, swing), []);
        // Around it on three: neither up (not above for a whole window) nor down (two would
        // carry 1.5 each, far from half the target).
        let around = |t: u64| if t.is_multiple_of(2) { 2.7 } else { 3.3 };
        assert_eq!(run(&c, &s, 3, 600, around), []);
        // Bursts above the target shorter than the up window: nothing.
        let bursts = |t: u64| if t % 5 == 4 { 0.5 } else { 3.0 };
        assert_eq!(run(&c, &s, 1, 600, bursts), []);
        // Three instances for a load swinging slowly between 0.9 and 1.1: one step down once
        // two carry it under half the target each (0.45), then steady: one would carry 0.9,
        // neither under half the target nor above it.
        let slow = |t: u64| if (t / 40).is_multiple_of(2) { 0.9 } else { 1.1 };
        assert_eq!(run(&c, &s, 3, 600, slow), [(30, 2)]);
    }

    #[test]
    fn the_cooldown_holds_a_removal_after_a_change() {
        let c = ScalerConfig {
            up_after: Duration::from_secs(5),
            down_after: Duration::from_secs(10),
            cooldown: Duration::from_secs(30),
            ..ScalerConfig::default()
        };
        let s = scaling(1, 3, 1);
        // Up at 5 s; the load stops at once: the down window is met at 16 s, the cool-down
        // only at 35 s; then one step per window, each after the cool-down again.
        let load = |t: u64| if t < 6 { 4.0 } else { 0.0 };
        assert_eq!(run(&c, &s, 1, 200, load), [(5, 3), (35, 2), (65, 1)]);
    }

    #[test]
    fn sleeps_only_when_allowed_idle_and_quiet() {
        let c = config();
        let mut w = Windows::default();
        let now = Instant::now();
        let long = Duration::from_secs(61);
        assert_eq!(
            w.decide(&scaling(1, 1, 1), &c, 1, 0.0, long, now),
            Decision::Keep
        );
        let may = scaling(0, 1, 1);
        assert_eq!(
            w.decide(&may, &c, 1, 0.0, Duration::from_secs(59), now),
            Decision::Keep
        );
        assert_eq!(w.decide(&may, &c, 1, 0.5, long, now), Decision::Keep);
        assert!(matches!(
            w.decide(&may, &c, 1, 0.0, long, now),
            Decision::Sleep { .. }
        ));
        // Asleep: requests wake it, the scaler does not; a raised minimum does.
        assert_eq!(w.decide(&may, &c, 0, 0.0, long, now), Decision::Keep);
        assert!(matches!(
            w.decide(&scaling(2, 3, 1), &c, 0, 0.0, long, now),
            Decision::Scale { to: 2, .. }
        ));
    }

    #[test]
    fn activity_adds_routers_and_vouches_only_for_what_it_heard() {
        let a = Activity::new(Duration::from_secs(1));
        let app = AppId::new();
        let report = |router: &str, in_flight: f64, open: u32, idle_ms: u64| LoadReport {
            router: router.into(),
            app,
            in_flight,
            open,
            idle_ms,
        };
        a.note(&report("r1", 1.5, 0, 0));
        a.note(&report("r2", 2.0, 1, 0));
        assert!((a.load(app) - 3.5).abs() < 1e-9);
        assert_eq!(a.idle_for(app), Duration::ZERO, "a request open on r2");
        // Idle counts from the latest activity any router saw, never before the scaler's start.
        let other = AppId::new();
        std::thread::sleep(Duration::from_millis(20));
        assert!(a.idle_for(other) >= Duration::from_millis(20));
        a.missed();
        assert!(a.idle_for(other) < Duration::from_millis(20));
    }

    #[test]
    fn the_latest_activity_of_any_router_counts() {
        let a = Activity::new(Duration::from_millis(50));
        let app = AppId::new();
        // The scaler vouches from its start: let that be a moment ago.
        std::thread::sleep(Duration::from_millis(300));
        let report = |router: &str, open: u32, idle_ms: u64| LoadReport {
            router: router.into(),
            app,
            in_flight: f64::from(open),
            open,
            idle_ms,
        };
        // Router A has been quiet for a minute; B saw a request 100 ms ago.
        a.note(&report("a", 0, 60_000));
        a.note(&report("b", 0, 100));
        let idle = a.idle_for(app);
        assert!(
            idle >= Duration::from_millis(100) && idle < Duration::from_secs(1),
            "{idle:?}"
        );
        // A later report of A's quiet does not make the app idler than B said.
        a.note(&report("a", 0, 61_000));
        assert!(a.idle_for(app) < Duration::from_secs(1));
        // A websocket open on B keeps it active while B's report is fresh, and no longer.
        a.note(&report("b", 1, 5_000));
        assert_eq!(a.idle_for(app), Duration::ZERO);
        assert!((a.load(app) - 1.0).abs() < 1e-9);
        std::thread::sleep(Duration::from_millis(120));
        assert!(a.idle_for(app) >= Duration::from_millis(100));
        assert!(a.load(app).abs() < 1e-9, "a stale report carries no load");
        // … and is dropped with the next report: routers that come and go leave nothing.
        a.note(&report("c", 0, 0));
        assert_eq!(a.state().apps[&app].routers.len(), 1);
    }
}
