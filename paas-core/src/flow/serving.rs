//! Which replicas serve an app now: what routers send requests to and what operators see
//! (`Application.instances`).
//!
//! A deployment records its replicas with their addresses ([`crate::model::Replica`]), so one
//! read of an app's deployments says where it answers: no pairing of rows written apart.
//!
//! Expected states: the app's current deployment holds the live replicas (`RUNNING`, or
//! `STARTING` while a restart brings up their replacements); or the current deployment is still
//! being built or started and an older one, still `RUNNING`, serves until the switch. Only
//! `Running` replicas are routed: a draining or crashed one takes no new request.

use crate::error::Result;
use crate::model::{Application, Deployment, DeploymentId, DeploymentStatus, Replica};
use crate::platform::Platform;
use crate::status::AppStatus;

/// One instance that takes an app's requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServingInstance {
    /// The runtime's id of the instance.
    pub instance: String,
    pub deployment: DeploymentId,
    /// Its own address (the router's backend).
    pub endpoint: crate::model::Endpoint,
}

/// A replica of one of an app's deployments, as operators see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedReplica {
    pub deployment: DeploymentId,
    pub replica: Replica,
}

impl Platform {
    /// The replicas serving `app` now (none while it is not running).
    pub async fn serving_instances(&self, app: &Application) -> Result<Vec<ServingInstance>> {
        if !matches!(app.status, AppStatus::Running | AppStatus::Starting) {
            return Ok(Vec::new());
        }
        let deployments = self.store().deployments_of(app.id).await?;
        Ok(serving(app, &deployments))
    }

    /// Every replica of `app`'s deployments: the routed ones, then those leaving (draining or
    /// crashed), oldest first within each.
    pub async fn replicas_of(&self, app: &Application) -> Result<Vec<ListedReplica>> {
        let deployments = self.store().deployments_of(app.id).await?;
        let mut all: Vec<ListedReplica> = deployments
            .iter()
            .rev()
            .flat_map(|d| {
                d.instances.iter().map(|r| ListedReplica {
                    deployment: d.id,
                    replica: r.clone(),
                })
            })
            .collect();
        all.sort_by_key(|l| !l.replica.is_running());
        Ok(all)
    }
}

/// The running replicas serving `app`, given its deployments (newest first).
fn serving(app: &Application, deployments: &[Deployment]) -> Vec<ServingInstance> {
    let routed = |d: &&Deployment| d.running().next().is_some();
    let current = deployments.iter().filter(routed).find(|d| {
        Some(d.id) == app.deployment
            && matches!(
                d.status,
                DeploymentStatus::Running | DeploymentStatus::Starting
            )
    });
    // While the current deployment builds or starts, the newest running one serves.
    let serving = current.or_else(|| {
        deployments
            .iter()
            .filter(routed)
            .find(|d| d.status == DeploymentStatus::Running)
    });
    serving
        .into_iter()
        .flat_map(|d| {
            d.running().map(|r| ServingInstance {
                instance: r.id.clone(),
                deployment: d.id,
                endpoint: r.endpoint.clone(),
            })
        })
        .collect()
}
