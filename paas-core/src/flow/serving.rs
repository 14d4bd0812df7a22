//! Which instance serves an app now: what routers send requests to and what operators see
//! (`Application.instances`).
//!
//! The app's endpoint is the address of its live instance; the instance itself is recorded on
//! a deployment. The two are written together when an instance goes live
//! ([`Platform::went_live`] puts the deployment and the app in one transaction), so a reader
//! pairs them without a window in which an address is taken for another instance's.
//!
//! Expected states: the app's current deployment holds the live instance (`RUNNING`, or
//! `STARTING` while a restart brings up its replacement); or the current deployment is still
//! being built or started and an older one, still `RUNNING`, serves until the switch.

use crate::error::Result;
use crate::model::{Application, DeploymentId, DeploymentStatus, Endpoint};
use crate::platform::Platform;
use crate::status::AppStatus;

/// One instance that takes an app's requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingInstance {
    /// The runtime's id of the instance.
    pub instance: String,
    pub deployment: DeploymentId,
    /// Its own address (the router's backend).
    pub endpoint: Endpoint,
}

impl Platform {
    /// The instances serving `app` now (none while it is not running).
    pub async fn serving_instances(&self, app: &Application) -> Result<Vec<ServingInstance>> {
        let Some(endpoint) = &app.endpoint else {
            return Ok(Vec::new());
        };
        if !matches!(app.status, AppStatus::Running | AppStatus::Starting) {
            return Ok(Vec::new());
        }
        let deployments = self.store().deployments_of(app.id).await?;
        let current = deployments.iter().find(|d| {
            Some(d.id) == app.deployment
                && d.instance.is_some()
                && matches!(
                    d.status,
                    DeploymentStatus::Running | DeploymentStatus::Starting
                )
        });
        // While the current deployment builds or starts, the newest running one serves.
        let serving = current.or_else(|| {
            deployments
                .iter()
                .find(|d| d.status == DeploymentStatus::Running && d.instance.is_some())
        });
        Ok(serving
            .and_then(|d| {
                d.instance.clone().map(|instance| ServingInstance {
                    instance,
                    deployment: d.id,
                    endpoint: endpoint.clone(),
                })
            })
            .into_iter()
            .collect())
    }
}
