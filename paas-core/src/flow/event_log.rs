//! The event log's flows: [`Platform::record`] (the one way an event is written), reading it
//! with its owner's (or an admin's) rights, following it live, and pruning old events.

use std::future::Future;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::event_log::{EventFilter, EventRecord, LoggedEvent};
use crate::events::Event;
use crate::model::{EventId, User};
use crate::platform::Platform;

/// How often events past the retention are removed.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl Platform {
    /// Records an event: one insert, then published on the bus for live followers. Never
    /// fails the caller: a store or bus error is logged as a warning.
    pub async fn record(&self, record: EventRecord) {
        self.record_all(vec![record]).await;
    }

    /// [`Platform::record`] of several events of one operation, written together.
    pub async fn record_all(&self, records: Vec<EventRecord>) {
        let events: Vec<LoggedEvent> = records.into_iter().map(LoggedEvent::new).collect();
        if let Err(e) = self.store().add_events(&events).await {
            let kinds: Vec<_> = events.iter().map(|e| e.kind).collect();
            tracing::warn!(?kinds, error = %e, "could not record events");
            return;
        }
        for event in events {
            if let Err(e) = self.bus().publish(Event::Recorded(Box::new(event))).await {
                tracing::warn!(error = %e, "could not publish a recorded event");
            }
        }
    }

    /// `filter` as `user` may read it: their own events, or everyone's for an admin.
    async fn readable_by(&self, user: &User, mut filter: EventFilter) -> Result<EventFilter> {
        filter.owner = if self.store().is_admin(user.id).await? {
            None
        } else {
            Some(user.id)
        };
        Ok(filter)
    }

    /// Events `user` may read (their own, or all for an admin) passing `filter`, below
    /// `before`, newest first. An app given that is not the user's (for a user who is not an
    /// admin) is `NOT_FOUND`, like a missing one; a deleted app of theirs still has its events.
    pub async fn events_for(
        &self,
        user: &User,
        filter: EventFilter,
        before: Option<EventId>,
        limit: u64,
    ) -> Result<Vec<LoggedEvent>> {
        let filter = self.readable_by(user, filter).await?;
        if let (Some(owner), Some(app)) = (filter.owner, filter.app) {
            let theirs = match self.app(app).await? {
                Some(a) => a.owner == owner,
                None => {
                    let any = EventFilter {
                        owner: Some(owner),
                        app: Some(app),
                        kinds: Vec::new(),
                    };
                    !self.store().events(&any, None, 1).await?.is_empty()
                }
            };
            if !theirs {
                return Err(Error::NotFound("application"));
            }
        }
        self.store().events(&filter, before, limit).await
    }

    /// New events `user` may read passing `filter`, as they are recorded. An app of another
    /// user (for a user who is not an admin) is `NOT_FOUND`, like a missing one.
    pub async fn follow_events(
        &self,
        user: &User,
        filter: EventFilter,
    ) -> Result<BoxStream<'static, LoggedEvent>> {
        let filter = self.readable_by(user, filter).await?;
        if let (Some(_), Some(app)) = (filter.owner, filter.app) {
            self.app_for(user, app).await?;
        }
        let events = self.bus().subscribe().await?;
        Ok(events
            .filter_map(move |e| {
                let out = match e {
                    Event::Recorded(e) if filter.admits(&e) => Some(*e),
                    _ => None,
                };
                std::future::ready(out)
            })
            .boxed())
    }

    /// Removes events older than [`crate::PlatformConfig::event_retention`]; returns how many.
    pub async fn prune_events(&self) -> Result<u64> {
        let keep = chrono::Duration::from_std(self.config().event_retention)
            .unwrap_or(chrono::Duration::MAX);
        let before = chrono::Utc::now()
            .checked_sub_signed(keep)
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
        self.store().prune_events(before).await
    }

    /// Prunes old events every hour (and once at start) until `shutdown` completes.
    pub async fn run_event_retention(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            match self.prune_events().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "old events removed"),
                Err(e) => tracing::warn!(error = %e, "event retention failed"),
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(PRUNE_EVERY) => {}
            }
        }
    }
}
