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
        let live = live
            .filter_map(move |e| async move {
                match e {
                    Event::Status(s) if s.app_id == app => Some(s),
                    _ => None,
                }
            })
            .scan(last, move |last, event| {
                let store = store.clone();
                let from = *last;
                if event.version <= from {
                    return futures::future::Either::Left(futures::future::ready(Some(Vec::new())));
                }
                *last = event.version;
                futures::future::Either::Right(async move {
                    if event.version == from + 1 {
                        return Some(vec![event]);
                    }
                    // A gap: the bus dropped something; the store has it.
                    match store.status_events(app, from).await {
                        Ok(missed) => Some(
                            missed
                                .into_iter()
                                .filter(|m| m.version <= event.version)
                                .collect(),
                        ),
                        Err(e) => {
                            tracing::warn!(error = %e, "could not fill a status gap");
                            Some(vec![event])
                        }
                    }
                })
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
