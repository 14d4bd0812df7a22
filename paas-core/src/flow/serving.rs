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
    ///
    /// The app's endpoint and its deployments are two reads: an instance going live between
    /// them would pair one instance's id with another's address. So the app is read again after
    /// the deployments, and the pair is taken only when the app did not change in between.
    pub async fn serving_instances(&self, app: &Application) -> Result<Vec<ServingInstance>> {
        let mut app = app.clone();
        for _ in 0..SNAPSHOT_TRIES {
            let deployments = self.store().deployments_of(app.id).await?;
            let Some(now) = self.store().app(app.id).await? else {
                return Ok(Vec::new());
            };
            if now.version == app.version {
                return Ok(serving(&app, &deployments));
            }
            app = now;
        }
        Err(crate::error::Error::Storage(
            format!("application {} kept changing while read", app.id).into(),
        ))
    }
}

/// Reads of an app and its deployments before giving up on a consistent pair.
const SNAPSHOT_TRIES: usize = 8;

/// The instance serving `app`, given its deployments as they were at `app`'s version.
fn serving(app: &Application, deployments: &[crate::model::Deployment]) -> Vec<ServingInstance> {
    let Some(endpoint) = &app.endpoint else {
        return Vec::new();
    };
    if !matches!(app.status, AppStatus::Running | AppStatus::Starting) {
        return Vec::new();
    }
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
    serving
        .and_then(|d| {
            d.instance.clone().map(|instance| ServingInstance {
                instance,
                deployment: d.id,
                endpoint: endpoint.clone(),
            })
        })
        .into_iter()
        .collect()
}
