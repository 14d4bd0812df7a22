//! Requests for a sleeping app: held while it wakes, never answered with an error it could
//! have avoided, never left hanging.
//!
//! Expected flow: a request finds its app `SLEEPING` (or `STARTING` because of a wake,
//! [`paas_core::flow::WAKING`]) → it joins the app's [`Hold`] in this router (the first one
//! creates it and its driver) and counts as activity → the driver asks the platform to wake the
//! app, once (again every [`BUSY_RETRY`] while another process holds the app's lock and the app
//! still sleeps) → meanwhile the driver follows the app's route: it goes on as soon as the
//! bus brings the route live (or the app failed), or the wake returns (then it reads the route
//! at once) → the gate opens: the held requests take one
//! permit at a time in the order they came, each keeping it until a backend is picked for it, so
//! they are forwarded in arrival order.
//!
//! Guarantees: at most `wake_queue` requests are held per app in one router, the one beyond
//! gets 503 with `Retry-After`; a request held longer than `wake_timeout` gets 503 with
//! `Retry-After`; a wake that fails (the app ends `FAILED`) answers every held request 502 with
//! a short reason (never the app's output: anyone may ask the router). One wake per app per
//! router at a time, and across routers one instance: the platform wakes under the app's lock
//! ([`paas_core::Platform::wake`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use paas_core::flow::{WAKING, Woken};
use paas_core::model::{AppId, AppName};
use paas_core::router::{AppRoute, Resolution, RouteTable, Traffic};
use paas_core::status::AppStatus;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::body::ProxyBody;
use super::pages::page;

/// How often a wake is asked again while another process holds the app's lock and the app
/// still sleeps (that process may be putting it to sleep, or waking it).
const BUSY_RETRY: Duration = Duration::from_millis(100);

/// How long the driver waits for a route change before reading the app from the store (a
/// router that missed a bus event still sees the app come up).
const LOOK_AGAIN: Duration = Duration::from_millis(500);

/// What a client is told to wait before asking again (503 while the app wakes).
const RETRY_AFTER: &str = "2";

/// The bounds of holding: the platform's `wake_queue` and `wake_timeout`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WakeLimits {
    /// Requests held per app in this router; more get 503.
    pub queue: usize,
    /// How long a request is held before a 503.
    pub timeout: Duration,
}

impl Default for WakeLimits {
    fn default() -> Self {
        let scaler = paas_core::ScalerConfig::default();
        Self {
            queue: scaler.wake_queue,
            timeout: scaler.wake_timeout,
        }
    }
}

/// Whether a request for an app in `status` (with `reason`) is held while the app wakes.
pub fn held(status: AppStatus, reason: Option<&str>) -> bool {
    match status {
        AppStatus::Sleeping => true,
        AppStatus::Starting => reason == Some(WAKING),
        _ => false,
    }
}

/// Where a held request goes.
pub enum Held {
    /// The app is live: send the request there; drop the permit once a backend is picked (the
    /// next held request is let go then).
    Live(Arc<AppRoute>, OwnedSemaphorePermit),
    /// The router's own answer (503: queue full or wake timeout; 502: the wake failed; as for
    /// any request when the app was stopped (503) or deleted (404) meanwhile).
    Answer(Response<ProxyBody>),
}

/// The apps this router holds requests for. Cheap to clone.
#[derive(Clone, Default)]
pub struct Wakes {
    limits: WakeLimits,
    holds: Arc<Mutex<HashMap<AppId, Arc<Hold>>>>,
}

/// The requests held for one app, and how their wait ends.
struct Hold {
    /// Requests waiting now (changed under the map's lock, so a driver that finds none may
    /// drop the hold).
    waiting: AtomicUsize,
    /// No permit until the app is live; then one, passed from request to request in the order
    /// they came (tokio's semaphore is fair). Closed when the wake failed.
    gate: Arc<Semaphore>,
    /// How the wait ended when the app did not come up: the status it settled in, `None` when
    /// it is gone.
    ended: OnceLock<Option<AppStatus>>,
}

impl Wakes {
    pub fn new(limits: WakeLimits) -> Self {
        Self {
            limits,
            holds: Arc::default(),
        }
    }

    /// Holds a request for `app` until it is live, or answers it (see the module's flow).
    pub async fn hold(
        &self,
        table: &Arc<dyn RouteTable>,
        app: AppId,
        name: &AppName,
        traffic: &Traffic,
    ) -> Held {
        traffic.touch();
        let Some(hold) = self.join(table, app) else {
            return Held::Answer(unavailable(&format!(
                "application {name} is waking up and holds {} requests already; retry",
                self.limits.queue
            )));
        };
        let _waiting = Waiting(hold.clone());
        let permit = hold.gate.clone().acquire_owned();
        let permit = match tokio::time::timeout(self.limits.timeout, permit).await {
            Err(_) => {
                return Held::Answer(unavailable(&format!(
                    "application {name} is waking up and did not answer within {}s; retry",
                    self.limits.timeout.as_secs_f64()
                )));
            }
            Ok(Err(_closed)) => {
                return Held::Answer(ended(name, hold.ended.get().copied().flatten()));
            }
            Ok(Ok(permit)) => permit,
        };
        traffic.touch();
        match table.route_of(app) {
            Resolution::Live(route) => Held::Live(route, permit),
            _ => Held::Answer(unavailable(&format!(
                "application {name} went down as it woke; retry"
            ))),
        }
    }

    /// Counts a request in the app's hold (made, with its driver, by the first one); `None`
    /// when the hold is full.
    fn join(&self, table: &Arc<dyn RouteTable>, app: AppId) -> Option<Arc<Hold>> {
        let mut holds = self.lock();
        let hold = match holds.get(&app) {
            Some(hold) => hold.clone(),
            None => {
                let hold = Arc::new(Hold {
                    waiting: AtomicUsize::new(0),
                    gate: Arc::new(Semaphore::new(0)),
                    ended: OnceLock::new(),
                });
                holds.insert(app, hold.clone());
                tokio::spawn(self.clone().drive(table.clone(), app, hold.clone()));
                hold
            }
        };
        if hold.waiting.load(Ordering::SeqCst) >= self.limits.queue {
            return None;
        }
        hold.waiting.fetch_add(1, Ordering::SeqCst);
        Some(hold)
    }

    /// Wakes the app and opens (or closes) the gate once its route says how the wake ended;
    /// gives up when nobody waits any more.
    async fn drive(self, table: Arc<dyn RouteTable>, app: AppId, hold: Arc<Hold>) {
        let mut changes = table.changes();
        changes.mark_unchanged();
        loop {
            match table.route_of(app) {
                Resolution::Live(_) => {
                    hold.gate.add_permits(1);
                    break;
                }
                Resolution::Down {
                    status: AppStatus::Sleeping,
                    ..
                } => match self.wake(&table, app, &mut changes).await {
                    // The route went live (or the app failed) before the wake's own book-keeping
                    // ended: the requests need not wait for it.
                    None => continue,
                    Some(Ok(Woken::Started)) => {
                        table.refresh(app).await;
                        continue;
                    }
                    // Woken meanwhile (by another process), or stopped: its route says.
                    Some(Ok(Woken::NotAsleep)) => {
                        table.refresh(app).await;
                        if asleep(table.route_of(app)) {
                            let _ = tokio::time::timeout(BUSY_RETRY, changes.changed()).await;
                        }
                    }
                    // Another process is at it: ask again unless its route moves first.
                    Some(Ok(Woken::Busy)) => {
                        let _ = tokio::time::timeout(BUSY_RETRY, changes.changed()).await;
                        table.refresh(app).await;
                    }
                    Some(Err(e)) => {
                        tracing::warn!(app_id = %app, error = %e, "router: a wake failed");
                        tokio::time::sleep(BUSY_RETRY).await;
                        table.refresh(app).await;
                    }
                },
                Resolution::Down {
                    status: AppStatus::Pending | AppStatus::Building | AppStatus::Starting,
                    ..
                } => {
                    if tokio::time::timeout(LOOK_AGAIN, changes.changed())
                        .await
                        .is_err()
                    {
                        table.refresh(app).await;
                    }
                }
                Resolution::Down { status, .. } => {
                    let _ = hold.ended.set(Some(status));
                    hold.gate.close();
                    break;
                }
                Resolution::Unknown => {
                    let _ = hold.ended.set(None);
                    hold.gate.close();
                    break;
                }
            }
            if self.drop_if_unused(app, &hold) {
                return;
            }
        }
        self.forget(app, &hold);
    }

    /// Asks the platform to wake the app, in the background; `None` as soon as the app's route
    /// settles (live, or failed) even if the wake has not returned yet, else what it returned.
    async fn wake(
        &self,
        table: &Arc<dyn RouteTable>,
        app: AppId,
        changes: &mut tokio::sync::watch::Receiver<u64>,
    ) -> Option<paas_core::error::Result<Woken>> {
        let waking = {
            let table = table.clone();
            tokio::spawn(async move { table.wake(app).await })
        };
        let settled = async {
            loop {
                if changes.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
                if matches!(
                    table.route_of(app),
                    Resolution::Live(_)
                        | Resolution::Down {
                            status: AppStatus::Failed,
                            ..
                        }
                ) {
                    return;
                }
            }
        };
        tokio::select! {
            out = waking => Some(out.unwrap_or_else(|e| {
                Err(paas_core::error::Error::runtime(format!("the wake ended: {e}")))
            })),
            () = settled => None,
        }
    }

    /// Drops the hold when nobody waits on it (all timed out or went away).
    fn drop_if_unused(&self, app: AppId, hold: &Arc<Hold>) -> bool {
        let mut holds = self.lock();
        if hold.waiting.load(Ordering::SeqCst) > 0 {
            return false;
        }
        if holds.get(&app).is_some_and(|h| Arc::ptr_eq(h, hold)) {
            holds.remove(&app);
        }
        true
    }

    /// Removes a hold whose wait ended: a later request finds the route itself.
    fn forget(&self, app: AppId, hold: &Arc<Hold>) {
        let mut holds = self.lock();
        if holds.get(&app).is_some_and(|h| Arc::ptr_eq(h, hold)) {
            holds.remove(&app);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<AppId, Arc<Hold>>> {
        self.holds.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn asleep(route: Resolution) -> bool {
    matches!(
        route,
        Resolution::Down {
            status: AppStatus::Sleeping,
            ..
        }
    )
}

/// A request counted in a hold until it leaves (answered, forwarded or gone).
struct Waiting(Arc<Hold>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Ordering::SeqCst);
    }
}

/// 503 with `Retry-After`: the app is waking, ask again.
/// The answer to a held request whose app did not come up: it settled in `status` (`None`:
/// it is gone). A wake that failed is the router's 502; a user's stop or delete meanwhile gets
/// what any request gets then.
fn ended(name: &AppName, status: Option<AppStatus>) -> Response<ProxyBody> {
    match status {
        Some(status @ (AppStatus::Stopped | AppStatus::Deleting)) => {
            super::pages::down(name.as_str(), status)
        }
        None => page(
            StatusCode::NOT_FOUND,
            &format!("application {name} is gone"),
        ),
        Some(_) => page(
            StatusCode::BAD_GATEWAY,
            &format!(
                "application {name} could not be woken: it failed to start (its logs say why)"
            ),
        ),
    }
}

fn unavailable(text: &str) -> Response<ProxyBody> {
    let mut res = page(StatusCode::SERVICE_UNAVAILABLE, text);
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_sleeping_or_waking_app_holds_requests() {
        assert!(held(AppStatus::Sleeping, None));
        assert!(held(AppStatus::Starting, Some(WAKING)));
        // A restart or a first start is not a wake: 503 as before.
        assert!(!held(AppStatus::Starting, Some("restarting")));
        assert!(!held(AppStatus::Starting, None));
        for status in [
            AppStatus::Pending,
            AppStatus::Building,
            AppStatus::Running,
            AppStatus::Failed,
            AppStatus::Stopped,
            AppStatus::Deleting,
        ] {
            assert!(!held(status, None), "{status:?}");
        }
    }

    #[test]
    fn a_held_request_whose_app_did_not_come_up_gets_what_fits() {
        let name = AppName::parse("napper").expect("a name");
        let failed = ended(&name, Some(AppStatus::Failed));
        assert_eq!(failed.status(), StatusCode::BAD_GATEWAY);
        // Stopped or deleted by a user meanwhile: as any request for it then.
        for status in [AppStatus::Stopped, AppStatus::Deleting] {
            let res = ended(&name, Some(status));
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{status:?}");
            assert_eq!(
                res.headers()
                    .get("x-paas-app-status")
                    .and_then(|v| v.to_str().ok()),
                Some(status.as_str())
            );
        }
        assert_eq!(ended(&name, None).status(), StatusCode::NOT_FOUND);
    }
}
