//! [`EventLogStore`]: the event log (see [`crate::event_log`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Delegate;
use crate::error::Result;
use crate::event_log::{EventFilter, LoggedEvent};
use crate::model::EventId;

/// The event log.
///
/// Guarantees every adapter gives: [`EventLogStore::events`] answers newest first by id, and
/// only events older (by id) than `before`: paging with the last id seen never repeats or skips
/// an event.
#[async_trait]
pub trait EventLogStore: Send + Sync {
    async fn add_event(&self, event: &LoggedEvent) -> Result<()> {
        self.add_events(std::slice::from_ref(event)).await
    }
    /// Adds `events` together (one statement where the database allows): an operation that
    /// logs several events at once writes them in one go.
    async fn add_events(&self, events: &[LoggedEvent]) -> Result<()>;
    /// Up to `limit` events passing `filter`, with an id below `before`, newest first.
    async fn events(
        &self,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: u64,
    ) -> Result<Vec<LoggedEvent>>;
    /// Removes the events from before `before`; returns how many.
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64>;
}

#[async_trait]
impl<T: Delegate> EventLogStore for T {
    async fn add_events(&self, events: &[LoggedEvent]) -> Result<()> {
        self.event_log_store().add_events(events).await
    }
    async fn events(
        &self,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: u64,
    ) -> Result<Vec<LoggedEvent>> {
        self.event_log_store().events(filter, before, limit).await
    }
    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        self.event_log_store().prune_events(before).await
    }
}
