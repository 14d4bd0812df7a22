//! [`AppStore`]: applications, written compare-and-set on their version.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::events::StatusEvent;
use crate::model::{AppId, AppName, Application, Deployment, UserId};
use crate::status::AppStatus;

/// Applications.
///
/// Guarantees every adapter gives:
/// - [`AppStore::create_app`] writes the app, its first deployment and its first status event in
///   one transaction (with its first task: [`AppStore::create_app_with_task`]), and refuses a taken name with [`crate::Error::NameTaken`] even under races
///   (a unique index, not only a read-before-write).
/// - [`AppStore::update_app`] is compare-and-set on `version`: it writes only if the row still
///   has `expected_version`, bumps the version by one, and fails with
///   [`crate::Error::VersionConflict`] otherwise. The status event, if any, is written in the
///   same transaction with the new version as its sequence number.
#[async_trait]
pub trait AppStore: Send + Sync {
    async fn create_app(&self, app: &Application, first: &Deployment) -> Result<()>;
    /// [`AppStore::create_app`], writing the app's first task in the same transaction.
    async fn create_app_with_task(
        &self,
        app: &Application,
        first: &Deployment,
        task: &crate::task::Task,
    ) -> Result<()>;
    async fn app(&self, id: AppId) -> Result<Option<Application>>;
    async fn app_by_name(&self, name: &AppName) -> Result<Option<Application>>;
    /// A user's apps in id (= creation) order, after the cursor `after`.
    async fn apps_of(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Result<Vec<Application>>;
    /// Every app in a status, across users (for recovery and shutdown).
    async fn apps_in_status(&self, statuses: &[AppStatus]) -> Result<Vec<Application>>;
    /// The preview apps of `parent`, oldest first.
    async fn previews_of(&self, parent: AppId) -> Result<Vec<Application>>;
    /// How many apps are in each status, across users (one `GROUP BY`, for `GET /metrics`);
    /// statuses without apps are left out.
    async fn app_counts_by_status(&self) -> Result<Vec<(AppStatus, u64)>>;
    /// Compare-and-set update; returns the app as stored (version bumped).
    async fn update_app(
        &self,
        app: &Application,
        expected_version: i64,
        event: Option<&StatusEvent>,
    ) -> Result<Application>;

    /// Removes an app with its deployments, events and webhook; the name is free again.
    async fn delete_app(&self, id: AppId) -> Result<()>;
}

#[async_trait]
impl<T: Delegate> AppStore for T {
    async fn create_app(&self, app: &Application, first: &Deployment) -> Result<()> {
        self.app_store().create_app(app, first).await
    }
    async fn create_app_with_task(
        &self,
        app: &Application,
        first: &Deployment,
        task: &crate::task::Task,
    ) -> Result<()> {
        self.app_store()
            .create_app_with_task(app, first, task)
            .await
    }
    async fn app(&self, id: AppId) -> Result<Option<Application>> {
        self.app_store().app(id).await
    }
    async fn app_by_name(&self, name: &AppName) -> Result<Option<Application>> {
        self.app_store().app_by_name(name).await
    }
    async fn apps_of(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Result<Vec<Application>> {
        self.app_store().apps_of(owner, after, limit).await
    }
    async fn apps_in_status(&self, statuses: &[AppStatus]) -> Result<Vec<Application>> {
        self.app_store().apps_in_status(statuses).await
    }
    async fn previews_of(&self, parent: AppId) -> Result<Vec<Application>> {
        self.app_store().previews_of(parent).await
    }
    async fn app_counts_by_status(&self) -> Result<Vec<(AppStatus, u64)>> {
        self.app_store().app_counts_by_status().await
    }
    async fn update_app(
        &self,
        app: &Application,
        expected_version: i64,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.app_store()
            .update_app(app, expected_version, event)
            .await
    }
    async fn delete_app(&self, id: AppId) -> Result<()> {
        self.app_store().delete_app(id).await
    }
}
