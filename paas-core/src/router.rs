//! The router's port: what the HTTP router asks the platform for each request. The route table
//! ([`RouteTable`]) is the port; the HTTP proxy that serves it is an adapter (paas-graphql's
//! `router` module). A user who runs their own front (Traefik, Caddy) turns the proxy off and
//! reads the same table ([`RouteTable::routes`]).
//!
//! ## Layout
//! - this file: the port and what it hands out ([`Resolution`], [`AppRoute`], [`Backend`] and
//!   its in-flight guard [`InFlight`]).
//! - [`table`]: [`Routes`], the default table: in memory, fed by the store and the event bus.
//! - [`drain`]: make-before-break: how a replaced instance is removed only once no router has
//!   a request or websocket in flight on it.
//! - [`traffic`]: per-app counters and latency histograms, in memory (no store write per
//!   request).
//!
//! Guarantees: a request is sent only to an instance that answered its readiness probe and has
//! not been replaced since (a replaced instance is *draining*: it finishes what it has, takes
//! nothing new). Assumptions: the store is the truth; the bus only hurries routers along, and a
//! router that missed events catches up on its periodic resync or on a miss.

pub mod drain;
pub mod load;
pub mod table;
pub mod traffic;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use serde::Serialize;

use crate::model::{AppId, AppName, DeploymentId, Domain};
use crate::status::AppStatus;

pub use table::{RouteRead, Routes};
pub use traffic::{Traffic, TrafficSummary};

/// Where a request for one host goes.
#[derive(Clone, Debug)]
pub enum Resolution {
    /// The app runs: send the request to one of its backends ([`AppRoute::pick`]).
    Live(Arc<AppRoute>),
    /// The host is an app's, but nothing of it answers now (building, failed, stopped, …).
    Down {
        app: AppId,
        name: AppName,
        status: AppStatus,
        reason: Option<String>,
        traffic: Arc<Traffic>,
    },
    /// No app has this host.
    Unknown,
}

/// A running app as the router sees it.
#[derive(Debug)]
pub struct AppRoute {
    pub app: AppId,
    pub name: AppName,
    /// Every host that routes here: `<name>.<domain>` and the custom domains.
    pub hosts: Vec<Domain>,
    /// The instances that take new requests (the live ones; draining ones are not listed).
    pub backends: Vec<Arc<Backend>>,
    /// Plain-HTTP requests are redirected to HTTPS (when the router serves HTTPS).
    pub https_only: bool,
    /// What the router counted for this app (shared by every route of the app).
    pub traffic: Arc<Traffic>,
    /// Where the next pick starts looking: backends with as few requests in flight take turns.
    turn: AtomicUsize,
}

impl AppRoute {
    /// A running app's route over `backends` (its replicas).
    pub fn new(
        app: AppId,
        name: AppName,
        hosts: Vec<Domain>,
        backends: Vec<Arc<Backend>>,
        https_only: bool,
        traffic: Arc<Traffic>,
    ) -> Self {
        Self {
            app,
            name,
            hosts,
            backends,
            https_only,
            traffic,
            turn: AtomicUsize::new(0),
        }
    }

    /// Takes a place on the backend with the fewest requests in flight (least outstanding
    /// requests), skipping draining ones; backends with as few take turns, so that requests
    /// one after the other spread over every replica. The place is counted before the
    /// backend's draining flag is read, so a drain that reads the count after marking the
    /// backend either sees this request or this pick sees the mark: a request never goes to a
    /// backend a drain reported empty.
    pub fn pick(&self) -> Option<InFlight> {
        let n = self.backends.len().max(1);
        let start = self.turn.fetch_add(1, Ordering::Relaxed) % n;
        let (before, after) = self.backends.split_at(start.min(self.backends.len()));
        let mut candidates: Vec<&Arc<Backend>> = after.iter().chain(before).collect();
        // A stable sort: among equals, the turn's order stands.
        candidates.sort_by_key(|b| b.in_flight());
        candidates.into_iter().find_map(|b| {
            let place = b.begin();
            (!b.is_draining()).then_some(place)
        })
    }
}

/// One instance of an app the router may send requests to.
#[derive(Debug)]
pub struct Backend {
    /// The runtime's id of the instance.
    pub instance: String,
    pub deployment: DeploymentId,
    pub host: String,
    pub port: u16,
    in_flight: AtomicUsize,
    draining: AtomicBool,
    /// Woken when the count drops (a drain waits on it).
    idle: tokio::sync::Notify,
}

impl Backend {
    pub fn new(instance: String, deployment: DeploymentId, host: String, port: u16) -> Self {
        Self {
            instance,
            deployment,
            host,
            port,
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            idle: tokio::sync::Notify::new(),
        }
    }

    /// `host:port`, as a proxy connects to it.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Counts a request (or an upgraded connection) on this backend until the guard drops:
    /// hold it until the response body has been sent, or the websocket closed.
    pub fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    pub(crate) fn set_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Completes once nothing is in flight on this backend.
    pub(crate) async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            if self.in_flight() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// A request or connection in flight on a [`Backend`]; dropping it ends it.
#[derive(Debug)]
pub struct InFlight(Arc<Backend>);

impl InFlight {
    pub fn backend(&self) -> &Arc<Backend> {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// One route as `GET /routes` and the API show it.
#[derive(Clone, Debug, Serialize)]
pub struct RouteView {
    pub app: AppId,
    pub name: AppName,
    pub hosts: Vec<Domain>,
    pub status: AppStatus,
    pub https_only: bool,
    pub backends: Vec<BackendView>,
}

#[derive(Clone, Debug, Serialize)]
pub struct BackendView {
    pub instance: String,
    pub deployment: DeploymentId,
    pub host: String,
    pub port: u16,
    pub in_flight: usize,
    pub draining: bool,
}

/// What the HTTP router reads. Implemented by [`Routes`].
#[async_trait]
pub trait RouteTable: Send + Sync {
    /// Where a request for `host` goes. In memory for a known host; an unknown one is looked up
    /// in the store (a route this router has not heard of yet), then remembered briefly.
    async fn resolve(&self, host: &Domain) -> Resolution;
    /// Every route this router knows.
    fn routes(&self) -> Vec<RouteView>;
    /// What was counted for an app, in this router.
    fn traffic(&self, app: AppId) -> Option<Arc<Traffic>>;
    /// Where a request for `app` goes, as this table knows it now (no store read).
    fn route_of(&self, app: AppId) -> Resolution;
    /// Changes whenever any route of the table changes: a request held for a waking app waits
    /// on it, then looks at [`RouteTable::route_of`] again.
    fn changes(&self) -> tokio::sync::watch::Receiver<u64>;
    /// Reads one app's route from the store now (not waiting for the bus).
    async fn refresh(&self, app: AppId);
    /// Asks the platform to wake a sleeping app ([`crate::Platform::wake`]); returns once it
    /// runs, failed to start, or someone else is at it.
    async fn wake(&self, app: AppId) -> crate::error::Result<crate::flow::Woken>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(ports: &[u16]) -> anyhow::Result<AppRoute> {
        let dep = DeploymentId::new();
        let backends = ports
            .iter()
            .map(|p| Arc::new(Backend::new(format!("r{p}"), dep, "127.0.0.1".into(), *p)))
            .collect();
        Ok(AppRoute::new(
            AppId::new(),
            AppName::parse("web")?,
            Vec::new(),
            backends,
            false,
            Arc::default(),
        ))
    }

    fn port(p: &InFlight) -> u16 {
        p.backend().port
    }

    #[test]
    fn requests_one_after_the_other_take_turns_over_the_replicas() -> anyhow::Result<()> {
        let r = route(&[1, 2, 3])?;
        let mut seen = Vec::new();
        for _ in 0..6 {
            let p = r.pick().ok_or_else(|| anyhow::anyhow!("no pick"))?;
            seen.push(port(&p));
        }
        assert_eq!(seen, [1, 2, 3, 1, 2, 3]);
        Ok(())
    }

    #[test]
    fn the_least_busy_replica_is_picked_and_a_draining_one_never() -> anyhow::Result<()> {
        let r = route(&[1, 2, 3])?;
        // Two requests held on 1, one on 2: the next ones go to 3 until it has as many.
        let held: Vec<InFlight> = [0, 0, 1]
            .iter()
            .map(|i: &usize| r.backends[*i].begin())
            .collect();
        let next = r.pick().ok_or_else(|| anyhow::anyhow!("no pick"))?;
        assert_eq!(port(&next), 3);
        let after = r.pick().ok_or_else(|| anyhow::anyhow!("no pick"))?;
        assert!(matches!(port(&after), 2 | 3), "not the busiest");
        drop((held, next, after));

        // Draining: never picked, however idle it is.
        r.backends[0].set_draining();
        for _ in 0..9 {
            let p = r.pick().ok_or_else(|| anyhow::anyhow!("no pick"))?;
            assert_ne!(port(&p), 1, "a draining replica was picked");
        }
        for b in &r.backends {
            b.set_draining();
        }
        assert!(r.pick().is_none(), "nothing to pick once all drain");
        Ok(())
    }
}
