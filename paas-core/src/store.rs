//! The `Store` port: the database, which is the truth. Adapters: [`sql::SqlStore`] (SQLite and
//! PostgreSQL through sea-orm).

pub mod sql;

use async_trait::async_trait;

use crate::error::Result;
use crate::events::StatusEvent;
use crate::model::{AppId, AppName, Application, Deployment, DeploymentId, Secret, User, UserId};

/// Persistent state of the platform: apps, users, deployments, status events, and (through its
/// supertraits) locks, task records and logs.
///
/// Guarantees every adapter gives:
/// - [`Store::create_app`] writes the app, its first deployment and its first status event in one
///   transaction, and refuses a taken name with [`crate::Error::NameTaken`] even under races
///   (a unique index, not only a read-before-write).
/// - [`Store::update_app`] is compare-and-set on `version`: it writes only if the row still has
///   `expected_version`, bumps the version by one, and fails with
///   [`crate::Error::VersionConflict`] otherwise. The status event, if any, is written in the same
///   transaction with the new version as its sequence number.
#[async_trait]
pub trait Store:
    crate::lock::LockStore + crate::task::TaskStore + crate::logs::LogStore + Send + Sync
{
    async fn create_user(&self, user: &User, token_hash: &str) -> Result<()>;
    async fn user(&self, id: UserId) -> Result<Option<User>>;
    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>>;
    /// Sets (or with `None` clears) the credential of the user's private repositories.
    async fn set_git_token(&self, user: UserId, token: Option<&Secret>) -> Result<()>;
    async fn git_token(&self, user: UserId) -> Result<Option<Secret>>;

    async fn create_app(&self, app: &Application, first: &Deployment) -> Result<()>;
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
    async fn apps_in_status(&self, statuses: &[crate::AppStatus]) -> Result<Vec<Application>>;
    /// Compare-and-set update; returns the app as stored (version bumped).
    async fn update_app(
        &self,
        app: &Application,
        expected_version: i64,
        event: Option<&StatusEvent>,
    ) -> Result<Application>;

    /// Removes an app with its deployments and events; the name is free again.
    async fn delete_app(&self, id: AppId) -> Result<()>;
    /// Adds a deployment and points the app at it, in one transaction (compare-and-set on the
    /// app's version like [`Store::update_app`]).
    async fn add_deployment(
        &self,
        app: &Application,
        expected_version: i64,
        deployment: &Deployment,
        event: Option<&StatusEvent>,
    ) -> Result<Application>;

    async fn deployment(&self, id: DeploymentId) -> Result<Option<Deployment>>;
    /// An app's deployments, newest first.
    async fn deployments_of(&self, app: AppId) -> Result<Vec<Deployment>>;
    async fn update_deployment(&self, deployment: &Deployment) -> Result<()>;

    /// Status events of an app with `version > after_version`, in order.
    async fn status_events(&self, app: AppId, after_version: i64) -> Result<Vec<StatusEvent>>;
}
