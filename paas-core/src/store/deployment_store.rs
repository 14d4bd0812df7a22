//! [`DeploymentStore`]: the deployments of an app, each one build and rollout of a commit.

use async_trait::async_trait;

use super::Delegate;
use crate::error::Result;
use crate::events::StatusEvent;
use crate::model::{AppId, Application, Deployment, DeploymentId};

/// Deployments.
#[async_trait]
pub trait DeploymentStore: Send + Sync {
    /// Adds a deployment (or rewrites it, if it exists) and writes the app, in one transaction
    /// (compare-and-set on the app's version like [`super::AppStore::update_app`]).
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
}

#[async_trait]
impl<T: Delegate> DeploymentStore for T {
    async fn add_deployment(
        &self,
        app: &Application,
        expected_version: i64,
        deployment: &Deployment,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.deployment_store()
            .add_deployment(app, expected_version, deployment, event)
            .await
    }
    async fn deployment(&self, id: DeploymentId) -> Result<Option<Deployment>> {
        self.deployment_store().deployment(id).await
    }
    async fn deployments_of(&self, app: AppId) -> Result<Vec<Deployment>> {
        self.deployment_store().deployments_of(app).await
    }
    async fn update_deployment(&self, deployment: &Deployment) -> Result<()> {
        self.deployment_store().update_deployment(deployment).await
    }
}
