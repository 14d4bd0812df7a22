//! [`Routes`]: the default [`RouteTable`]: every app's route in memory, fed by the store and the
//! event bus, so that many routers (one per `paas serve`) route alike.
//!
//! Expected flow: [`Routes::run`] reads every app once, then follows the bus: a
//! [`Event::RouteChanged`] or a status event makes it read that app again, [`Event::Missed`]
//! (the bus lost events) a full read, and a periodic full read (`resync_every`) catches what no
//! event said. A host it does not know is looked up in the store at the request ("a route read
//! on a miss") and, when unknown there too, remembered as unknown for a moment.
//!
//! Every write of an app's entry is signalled ([`RouteTable::changes`]): requests the HTTP
//! router holds for a waking app wait on it, not on a timer.
//!
//! Guarantees: a backend that leaves an app's route is marked draining first (no new request
//! picks it) and reported on the bus until nothing is in flight on it ([`super::drain`]).
//! Reads of one app may overlap (the bus, a full read, a request's miss): each is stamped when
//! it begins, and one that began before the read the table last took for that app changes
//! nothing, so a slow read never puts back a route a newer one replaced. While the store or
//! the bus is away, the table keeps serving what it has.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use super::{AppRoute, Backend, BackendView, Resolution, RouteTable, RouteView, Traffic};
use crate::error::Result;
use crate::events::{DrainReport, Event};
use crate::model::{AppId, AppName, Application, Domain, Endpoint};
use crate::platform::Platform;
use crate::status::AppStatus;

/// How often a router without the event bus tries to subscribe again.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(1);

/// How long a host found nowhere is answered "unknown" without asking the store again.
const UNKNOWN_FOR: Duration = Duration::from_secs(1);

/// Store reads for hosts the table does not know, per second, at most: a flood of made-up
/// hosts costs the database this much and no more (the table is complete after each resync,
/// so a miss is rarely a route that exists).
const MISSES_PER_SEC: u32 = 50;

/// An app's entry: live with backends, or down with its status.
#[derive(Clone, Debug)]
enum Entry {
    Live(Arc<AppRoute>),
    Down {
        name: AppName,
        hosts: Vec<Domain>,
        status: AppStatus,
        reason: Option<String>,
    },
}

impl Entry {
    fn hosts(&self) -> &[Domain] {
        match self {
            Entry::Live(r) => &r.hosts,
            Entry::Down { hosts, .. } => hosts,
        }
    }
}

#[derive(Default)]
struct State {
    hosts: HashMap<Domain, AppId>,
    apps: HashMap<AppId, Entry>,
    traffic: HashMap<AppId, Arc<Traffic>>,
    /// The stamp of the read each app's entry was last written from (gone apps too, until a
    /// full read forgets them).
    applied: HashMap<AppId, u64>,
    /// Stamp of the last full read that forgot gone apps: an app with no stamp was not in
    /// the store when it began, so an older read of it changes nothing.
    forgot_before: u64,
}

impl State {
    /// Whether a read stamped `stamp` of app `id` is newer than what the table holds of it.
    fn is_newer(&self, id: AppId, stamp: u64) -> bool {
        match self.applied.get(&id) {
            Some(last) => stamp >= *last,
            None => stamp >= self.forgot_before,
        }
    }
}

/// One app's route as read from the store, stamped with when the read began: what
/// [`Routes::read_route`] returns and [`Routes::apply`] puts in the table.
pub struct RouteRead {
    app: AppId,
    entry: Option<Entry>,
    stamp: u64,
}

struct Inner {
    platform: Platform,
    /// This router's id on the bus (drain reports).
    id: String,
    state: RwLock<State>,
    unknown: Mutex<Misses>,
    /// Full reads done (operators and tests see that the table caught up).
    resyncs: std::sync::atomic::AtomicU64,
    /// Stamps store reads in the order they begin.
    reads: std::sync::atomic::AtomicU64,
    /// Bumped whenever an app's entry is written: held requests wait on it for their app's
    /// route ([`RouteTable::changes`]).
    changed: tokio::sync::watch::Sender<u64>,
}

/// Hosts found nowhere lately, and the store reads of this second.
#[derive(Default)]
struct Misses {
    unknown: HashMap<Domain, Instant>,
    second: Option<Instant>,
    reads: u32,
}

impl Misses {
    /// Whether `host` may be looked up in the store now.
    fn may_read(&mut self, host: &Domain) -> bool {
        let now = Instant::now();
        self.unknown
            .retain(|_, at| now.duration_since(*at) < UNKNOWN_FOR);
        if self.unknown.contains_key(host) {
            return false;
        }
        if self
            .second
            .is_none_or(|s| now.duration_since(s) >= Duration::from_secs(1))
        {
            self.second = Some(now);
            self.reads = 0;
        }
        self.reads += 1;
        self.reads <= MISSES_PER_SEC
    }
}

/// The route table. Cheap to clone; every clone is the same table.
#[derive(Clone)]
pub struct Routes {
    inner: Arc<Inner>,
}

impl Routes {
    pub fn new(platform: Platform) -> Self {
        Self {
            inner: Arc::new(Inner {
                platform,
                id: uuid::Uuid::now_v7().simple().to_string(),
                state: RwLock::new(State::default()),
                unknown: Mutex::new(Misses::default()),
                resyncs: std::sync::atomic::AtomicU64::new(0),
                reads: std::sync::atomic::AtomicU64::new(0),
                changed: tokio::sync::watch::Sender::new(0),
            }),
        }
    }

    /// This router's id, as its drain reports carry it.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// How many full reads of every route this table has done.
    pub fn resyncs(&self) -> u64 {
        self.inner
            .resyncs
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Keeps the table in step with the store until `shutdown`: one full read, then the bus and
    /// a periodic full read.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let platform = &self.inner.platform;
        // The first full read comes with the subscription; the periodic one a period later.
        let period = platform.config().router.resync_every;
        let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut events = None;
        // When the bus is away, it is asked again this often (its events are what keep routers
        // in step within milliseconds; the periodic read may be rare).
        let mut again = tokio::time::interval(RESUBSCRIBE_EVERY);
        again.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Load samples for the scaler: ten a period, a report per active app each period.
        let report_every = platform.config().scaler.every;
        let mut sample = tokio::time::interval(report_every / super::load::SAMPLES);
        sample.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut sampler = super::load::LoadSampler::default();
        loop {
            tokio::select! {
                _ = &mut shutdown => return,
                _ = every.tick() => self.resync().await,
                _ = sample.tick() => {
                    for report in sampler.sample(&self.inner.id, self.samples(), report_every * 2) {
                        if let Err(e) = platform.bus().publish(report).await {
                            tracing::debug!(error = %e, "router: load report not published");
                        }
                    }
                }
                _ = again.tick(), if events.is_none() => {
                    match platform.bus().subscribe().await {
                        Ok(stream) => {
                            events = Some(stream);
                            // Whatever was missed while not subscribed.
                            self.resync().await;
                        }
                        Err(e) => tracing::warn!(error = %e, "router: no event bus; serving the table as it is"),
                    }
                }
                event = next(&mut events) => match event {
                    Some(Event::RouteChanged(app)) => self.reload(app).await,
                    Some(Event::Status(s)) => self.reload(s.app_id).await,
                    Some(Event::Missed) => self.resync().await,
                    Some(_) => {}
                    None => events = None,
                },
            }
        }
    }

    /// Every app's requests in flight now (its live backends together) and its idle time.
    fn samples(&self) -> Vec<super::load::AppSample> {
        let state = self.read();
        state
            .traffic
            .iter()
            .map(|(app, traffic)| super::load::AppSample {
                app: *app,
                in_flight: match state.apps.get(app) {
                    Some(Entry::Live(r)) => r.backends.iter().map(|b| b.in_flight()).sum(),
                    _ => 0,
                },
                idle: traffic.idle_for(),
            })
            .collect()
    }

    /// Reads every app again (and forgets apps that are gone).
    pub async fn resync(&self) {
        let stamp = self.stamp();
        let apps = match self
            .inner
            .platform
            .store()
            .apps_in_status(&AppStatus::ALL)
            .await
        {
            Ok(apps) => apps,
            Err(e) => {
                tracing::warn!(error = %e, "router: resync failed; serving the table as it is");
                return;
            }
        };
        let seen: std::collections::HashSet<AppId> = apps.iter().map(|a| a.id).collect();
        for app in apps {
            match self.read_of(app, stamp).await {
                Ok(read) => {
                    self.apply(read);
                }
                Err(e) => tracing::warn!(error = %e, "router: reading a route failed"),
            }
        }
        let gone: Vec<AppId> = self
            .read()
            .apps
            .keys()
            .filter(|id| !seen.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.apply(RouteRead {
                app: id,
                entry: None,
                stamp,
            });
        }
        {
            // Gone apps' stamps go; a read older than this one changes nothing of them.
            let mut state = self.write();
            let State {
                apps,
                applied,
                forgot_before,
                ..
            } = &mut *state;
            applied.retain(|id, at| apps.contains_key(id) || *at > stamp);
            *forgot_before = (*forgot_before).max(stamp);
        }
        self.inner
            .resyncs
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Reads one app's route again.
    pub async fn reload(&self, app: AppId) {
        match self.read_route(app).await {
            Ok(read) => {
                self.apply(read);
            }
            Err(e) => tracing::warn!(app_id = %app, error = %e, "router: reading a route failed"),
        }
    }

    /// Reads app `app`'s route from the store, without changing the table
    /// ([`Routes::apply`] does).
    pub async fn read_route(&self, app: AppId) -> Result<RouteRead> {
        let stamp = self.stamp();
        match self.inner.platform.store().app(app).await? {
            Some(found) => self.read_of(found, stamp).await,
            None => Ok(RouteRead {
                app,
                entry: None,
                stamp,
            }),
        }
    }

    /// The route of `app` as stored, for a read stamped `stamp`.
    async fn read_of(&self, app: Application, stamp: u64) -> Result<RouteRead> {
        Ok(RouteRead {
            app: app.id,
            entry: Some(self.entry(app).await?),
            stamp,
        })
    }

    /// A stamp for a read beginning now.
    fn stamp(&self) -> u64 {
        self.inner
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel)
    }

    /// Puts a read route in the table (none: the app is gone), unless the table holds a read
    /// of the app that began later (false then). Backends that leave the app's route drain.
    pub fn apply(&self, read: RouteRead) -> bool {
        let RouteRead {
            app: id,
            entry,
            stamp,
        } = read;
        let leaving = {
            let mut state = self.write();
            if !state.is_newer(id, stamp) {
                tracing::debug!(app_id = %id, "router: a read older than the route held was dropped");
                return false;
            }
            state.applied.insert(id, stamp);
            let old = state.apps.remove(&id);
            if let Some(old) = &old {
                for host in old.hosts() {
                    state.hosts.remove(host);
                }
            }
            let staying: Vec<Arc<Backend>> = match &entry {
                Some(Entry::Live(r)) => r.backends.clone(),
                _ => Vec::new(),
            };
            if let Some(entry) = entry {
                for host in entry.hosts() {
                    state.hosts.insert(host.clone(), id);
                }
                state.apps.insert(id, entry);
            } else {
                state.traffic.remove(&id);
            }
            match old {
                Some(Entry::Live(r)) => r
                    .backends
                    .iter()
                    .filter(|b| !staying.iter().any(|s| Arc::ptr_eq(s, b)))
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            }
        };
        self.inner.changed.send_modify(|n| *n = n.wrapping_add(1));
        for backend in leaving {
            self.drain(backend);
        }
        true
    }

    /// The entry of an app as stored; live backends keep their counters.
    async fn entry(&self, app: Application) -> Result<Entry> {
        let platform = &self.inner.platform;
        let mut hosts = Vec::new();
        if let Ok(own) = Domain::parse(&format!("{}.{}", app.name, platform.config().router.domain))
        {
            hosts.push(own);
        }
        hosts.extend(platform.store().domains_of(app.id).await?);
        let traffic = self.traffic_of(app.id);
        let backends: Vec<Arc<Backend>> = platform
            .serving_instances(&app)
            .await?
            .into_iter()
            .map(|s| {
                self.backend(app.id, &s.instance, &s.endpoint)
                    .unwrap_or_else(|| {
                        Arc::new(Backend::new(
                            s.instance,
                            s.deployment,
                            s.endpoint.host,
                            s.endpoint.port,
                        ))
                    })
            })
            .collect();
        if backends.is_empty() {
            return Ok(Entry::Down {
                name: app.name,
                hosts,
                status: app.status,
                reason: app.status_reason,
            });
        }
        Ok(Entry::Live(Arc::new(AppRoute::new(
            app.id,
            app.name,
            hosts,
            backends,
            app.https_only,
            traffic,
        ))))
    }

    /// The backend this table has for `instance` at `endpoint` (it keeps its counters).
    fn backend(&self, app: AppId, instance: &str, endpoint: &Endpoint) -> Option<Arc<Backend>> {
        match self.read().apps.get(&app) {
            Some(Entry::Live(r)) => r
                .backends
                .iter()
                .find(|b| {
                    b.instance == instance && b.host == endpoint.host && b.port == endpoint.port
                })
                .cloned(),
            _ => None,
        }
    }

    fn traffic_of(&self, app: AppId) -> Arc<Traffic> {
        self.write().traffic.entry(app).or_default().clone()
    }

    /// Marks `backend` draining and reports its in-flight count on the bus until it is zero.
    fn drain(&self, backend: Arc<Backend>) {
        backend.set_draining();
        let (bus, router) = (self.inner.platform.bus().clone(), self.inner.id.clone());
        tokio::spawn(async move {
            let report = |in_flight| {
                Event::Drain(DrainReport {
                    instance: backend.instance.clone(),
                    router: router.clone(),
                    in_flight,
                })
            };
            let now = backend.in_flight();
            if let Err(e) = bus.publish(report(now)).await {
                tracing::debug!(error = %e, "router: drain report not published");
            }
            if now > 0 {
                backend.idle().await;
                if let Err(e) = bus.publish(report(0)).await {
                    tracing::debug!(error = %e, "router: drain report not published");
                }
            }
        });
    }

    fn misses(&self) -> std::sync::MutexGuard<'_, Misses> {
        self.inner.unknown.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn resolution(&self, host: &Domain) -> Option<Resolution> {
        let state = self.read();
        let id = *state.hosts.get(host)?;
        Self::resolution_of(&state, id)
    }

    /// Where a request for app `id` goes, as `state` says.
    fn resolution_of(state: &State, id: AppId) -> Option<Resolution> {
        Some(match state.apps.get(&id)? {
            Entry::Live(r) => Resolution::Live(r.clone()),
            Entry::Down {
                name,
                status,
                reason,
                ..
            } => Resolution::Down {
                app: id,
                name: name.clone(),
                status: *status,
                reason: reason.clone(),
                traffic: state.traffic.get(&id).cloned().unwrap_or_default(),
            },
        })
    }

    /// Finds the app of a host this table does not know, in the store.
    async fn miss(&self, host: &Domain) -> Option<AppId> {
        if !self.misses().may_read(host) {
            return None;
        }
        let platform = &self.inner.platform;
        let stamp = self.stamp();
        let found = match host.label_under(&platform.config().router.domain) {
            Some(label) => match AppName::parse(label) {
                Ok(name) => platform.store().app_by_name(&name).await.ok().flatten(),
                Err(_) => None,
            },
            None => None,
        };
        let found = match found {
            Some(app) => Some(app),
            None => match platform.store().app_of_domain(host).await {
                Ok(Some(id)) => platform.store().app(id).await.ok().flatten(),
                _ => None,
            },
        };
        match found {
            Some(app) => {
                let id = app.id;
                self.apply(self.read_of(app, stamp).await.ok()?);
                Some(id)
            }
            None => {
                self.misses().unknown.insert(host.clone(), Instant::now());
                None
            }
        }
    }
}

async fn next(events: &mut Option<futures::stream::BoxStream<'static, Event>>) -> Option<Event> {
    match events {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

#[async_trait]
impl RouteTable for Routes {
    async fn resolve(&self, host: &Domain) -> Resolution {
        if let Some(found) = self.resolution(host) {
            // An app coming up may have gone live a moment before this router heard it on the
            // bus (a client that saw RUNNING asks at once): the store says, within the budget
            // of store reads.
            if let Resolution::Down { app, status, .. } = &found
                && matches!(
                    status,
                    AppStatus::Pending | AppStatus::Building | AppStatus::Starting
                )
                && self.misses().may_read(host)
            {
                self.reload(*app).await;
                return self.resolution(host).unwrap_or(found);
            }
            return found;
        }
        if self.miss(host).await.is_some()
            && let Some(found) = self.resolution(host)
        {
            return found;
        }
        Resolution::Unknown
    }

    fn routes(&self) -> Vec<RouteView> {
        let state = self.read();
        let mut routes: Vec<RouteView> = state
            .apps
            .iter()
            .map(|(id, entry)| match entry {
                Entry::Live(r) => RouteView {
                    app: *id,
                    name: r.name.clone(),
                    hosts: r.hosts.clone(),
                    status: AppStatus::Running,
                    https_only: r.https_only,
                    backends: r
                        .backends
                        .iter()
                        .map(|b| BackendView {
                            instance: b.instance.clone(),
                            deployment: b.deployment,
                            host: b.host.clone(),
                            port: b.port,
                            in_flight: b.in_flight(),
                            draining: b.is_draining(),
                        })
                        .collect(),
                },
                Entry::Down {
                    name,
                    hosts,
                    status,
                    ..
                } => RouteView {
                    app: *id,
                    name: name.clone(),
                    hosts: hosts.clone(),
                    status: *status,
                    https_only: false,
                    backends: Vec::new(),
                },
            })
            .collect();
        routes.sort_by(|a, b| a.name.cmp(&b.name));
        routes
    }

    fn traffic(&self, app: AppId) -> Option<Arc<Traffic>> {
        self.read().traffic.get(&app).cloned()
    }

    fn route_of(&self, app: AppId) -> Resolution {
        Self::resolution_of(&self.read(), app).unwrap_or(Resolution::Unknown)
    }

    fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changed.subscribe()
    }

    async fn refresh(&self, app: AppId) {
        self.reload(app).await;
    }

    async fn wake(&self, app: AppId) -> crate::error::Result<crate::flow::Woken> {
        self.inner.platform.wake(app).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misses_are_bounded_per_second_and_remembered() {
        let mut misses = Misses::default();
        let host = |i: u32| Domain::parse(&format!("h{i}.example.com")).expect("a name");
        let allowed = (0..1000).filter(|i| misses.may_read(&host(*i))).count();
        assert_eq!(allowed, MISSES_PER_SEC as usize);
        // A host found nowhere is not read again for a moment, whatever the budget.
        let mut misses = Misses::default();
        misses.unknown.insert(host(1), Instant::now());
        assert!(!misses.may_read(&host(1)));
        assert!(misses.may_read(&host(2)));
    }
}
