//! [`StatusEventStore`]: the history of an app's status, one event per version of the app.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::events::StatusEvent;
use crate::model::AppId;

/// Status events, read back in order. They are written with the app they describe
/// ([`super::AppStore`], [`super::DeploymentStore::add_deployment`]), never on their own.
#[async_trait]
pub trait StatusEventStore: Send + Sync {
    /// Status events of an app with `version > after_version`, in order.
    async fn status_events(&self, app: AppId, after_version: i64) -> Result<Vec<StatusEvent>>;
}

#[async_trait]
impl<T: Delegate> StatusEventStore for T {
    async fn status_events(&self, app: AppId, after_version: i64) -> Result<Vec<StatusEvent>> {
        self.event_store().status_events(app, after_version).await
    }
}
