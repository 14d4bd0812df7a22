//! The `EventBus` port: status and log events to subscribers, across processes in
//! production. Adapter: [`memory::MemoryBus`] for one process.

pub mod memory;
pub mod redis;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::model::{AppId, DeploymentId, UserId};
use crate::status::AppStatus;

/// One status change of an app. `version` is the app's version after the change: it orders the
/// events of one app and lets a subscriber drop duplicates and notice gaps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StatusEvent {
    pub app_id: AppId,
    pub owner: UserId,
    pub version: i64,
    pub status: AppStatus,
    pub deployment: Option<DeploymentId>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// Lines were added to an app's log, up to `last`. Followers read them from the store (this
/// event is only the nudge: it carries no text, so the bus never holds log content).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogsWritten {
    pub app_id: AppId,
    pub last: crate::logs::LogTime,
}

/// A router's count of requests and websockets in flight on an instance it no longer sends new
/// requests to (see [`crate::router::drain`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrainReport {
    /// The runtime's id of the draining instance.
    pub instance: String,
    /// Which router counts (one id per router process).
    pub router: String,
    pub in_flight: usize,
}

/// A router's load on one app over the last period ([`crate::PlatformConfig::scaler`]'s
/// `every`), which the scaler adds up across routers. Sent only for apps with requests lately
/// or in flight: a quiet app costs no message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoadReport {
    /// Which router counts (one id per router process).
    pub router: String,
    pub app: AppId,
    /// Mean requests and websockets in flight over the period, every instance together.
    pub in_flight: f64,
    /// In flight at the moment of the report.
    pub open: u32,
    /// Milliseconds since a request for the app last began or ended on this router (a
    /// duration, not a time: routers' clocks need not agree).
    pub idle_ms: u64,
}

/// What travels on the bus.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Event {
    Status(StatusEvent),
    Logs(LogsWritten),
    /// Something a route is made of changed (instance, status, name, domains): routers read the
    /// app's route again from the store.
    RouteChanged(AppId),
    Drain(DrainReport),
    Load(LoadReport),
    /// An event was added to the event log (`Subscription.events` follows these).
    Recorded(Box<crate::event_log::LoggedEvent>),
    /// Events may have been lost for this subscriber (it fell behind, or the bus lost its
    /// connection and has it back): whatever it follows, it reads again from the store.
    Missed,
}

/// Fan-out of events. Delivery is best effort: a subscriber that falls behind, or a process
/// whose connection to the bus broke, may miss events; it is then sent [`Event::Missed`], and
/// since status events and log lines are stored, it fills what it missed from the store.
#[async_trait]
pub trait EventBus: Send + Sync {
    async fn publish(&self, event: Event) -> Result<()>;
    /// Every event published from now on.
    async fn subscribe(&self) -> Result<BoxStream<'static, Event>>;
    /// Whether events of other processes reach this one now. While not, silence on the bus
    /// says nothing (the scaler decides nothing on it). A bus within one process always is.
    fn hears_others(&self) -> bool {
        true
    }
}
