//! Following an app's status: replay from the store, then live events from the bus.
//!
//! Guarantees: events come in version order with no duplicate, and no gap. The bus may drop
//! events for a slow subscriber; a gap in versions is filled from the store, which has them all.

use futures::stream::{self, BoxStream, StreamExt};

use crate::error::Result;
use crate::events::{Event, StatusEvent};
use crate::model::AppId;
use crate::platform::Platform;
use crate::status::AppStatus;

impl Platform {
    /// Status events of `app` after `after_version`, then every new one as it happens. With
    /// `after_version: None`, replay starts at the first event of the app's current deployment,
    /// so a client that subscribes right after creating an app still sees it go `PENDING` first.
    pub async fn status_changes(
        &self,
        app: AppId,
        after_version: Option<i64>,
    ) -> Result<BoxStream<'static, StatusEvent>> {
        // Subscribe before reading the store, so nothing falls between the two.
        let live = self.bus().subscribe().await?;
        let history = self
            .store()
            .status_events(app, after_version.unwrap_or(0))
            .await?;
        let replay = match after_version {
            Some(_) => history,
            None => {
                let current = self.store().app(app).await?.and_then(|a| a.deployment);
                let start = history
                    .iter()
                    .position(|e| current.is_some() && e.deployment == current)
                    .unwrap_or(0);
                history[start..].to_vec()
            }
        };
        let last = replay
            .last()
            .map(|e| e.version)
            .or(after_version)
            .unwrap_or(0);
        let store = self.store().clone();
        // The last version delivered; items are handled one at a time, in order.
        let last = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(last));
        let live = live
            .filter_map(move |e| async move {
                match e {
                    Event::Status(s) if s.app_id == app => Some(Some(s)),
                    // The bus may have dropped events: the store has them all.
                    Event::Missed => Some(None),
                    _ => None,
                }
            })
            .then(move |event| {
                let (store, last) = (store.clone(), last.clone());
                async move {
                    use std::sync::atomic::Ordering;
                    let from = last.load(Ordering::Acquire);
                    let upto = match &event {
                        Some(e) if e.version <= from => return Vec::new(),
                        Some(e) if e.version == from + 1 => {
                            last.store(e.version, Ordering::Release);
                            return vec![e.clone()];
                        }
                        Some(e) => Some(e.version),
                        None => None,
                    };
                    // A gap, or a warning that there may be one: fill it from the store.
                    let filled = match store.status_events(app, from).await {
                        Ok(missed) => missed
                            .into_iter()
                            .filter(|m| upto.is_none_or(|u| m.version <= u))
                            .collect(),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not fill a status gap");
                            event.into_iter().collect::<Vec<_>>()
                        }
                    };
                    if let Some(v) = filled.last().map(|m: &StatusEvent| m.version) {
                        last.store(v, Ordering::Release);
                    }
                    filled
                }
            })
            .flat_map(stream::iter);
        // A deleted app has nothing more to say: the stream ends after `DELETING`.
        let until_deleted = stream::iter(replay).chain(live).scan(false, |done, e| {
            if *done {
                return futures::future::ready(None);
            }
            *done = e.status == AppStatus::Deleting;
            futures::future::ready(Some(e))
        });
        Ok(until_deleted.boxed())
    }
}

/// How often [`Platform::wait_on_status`] reads the store with no event: the bus may lose one,
/// and some changes (a failed deployment while an older one serves) raise none.
const STATUS_FALLBACK: std::time::Duration = std::time::Duration::from_secs(2);

impl Platform {
    /// Asks `found` until it answers, at most until `limit`: at once, then at each status
    /// event of `app` on the bus (or a warning that events were lost), and every
    /// [`STATUS_FALLBACK`] without one. `None`: `limit` passed first.
    pub(crate) async fn wait_on_status<T, F, Fut>(
        &self,
        app: AppId,
        limit: std::time::Duration,
        mut found: F,
    ) -> Result<Option<T>>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        // Subscribed before the first read, so no event falls between the two.
        let mut events = self.bus().subscribe().await?;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if let Some(t) = found().await? {
                return Ok(Some(t));
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let next = async {
                while let Some(e) = events.next().await {
                    match e {
                        Event::Status(s) if s.app_id == app => return true,
                        Event::Missed => return true,
                        _ => {}
                    }
                }
                false
            };
            let wait = left.min(STATUS_FALLBACK);
            if let Ok(false) = tokio::time::timeout(wait, next).await {
                // The bus ended: the store alone answers, at the fallback's pace.
                tokio::time::sleep(wait).await;
            }
        }
    }
}
