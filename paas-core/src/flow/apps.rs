//! Reading apps on behalf of a user, and the one way an app is changed: compare-and-set with its
//! status event recorded, published and cached.

use chrono::Utc;

use crate::error::{Error, Result};
use crate::events::{Event, StatusEvent};
use crate::model::{AppId, AppName, Application, Deployment, User};
use crate::platform::Platform;
use crate::status::AppStatus;

/// How often a compare-and-set update is retried when another writer got there first.
const CAS_TRIES: usize = 16;

impl Platform {
    /// The app, if it exists and `user` may see it. Another user's app is "not found", so ids
    /// cannot be probed.
    pub async fn app_for(&self, user: &User, id: AppId) -> Result<Application> {
        match self.app(id).await? {
            Some(app) if app.owner == user.id => Ok(app),
            _ => Err(Error::NotFound("application")),
        }
    }

    /// The app of that name, if it exists and `user` may see it (another user's is "not
    /// found" too).
    pub async fn app_named_for(&self, user: &User, name: &AppName) -> Result<Application> {
        let id = match self.cache().app_id_by_name(name).await {
            Some(id) => Some(id),
            None => self.store().app_by_name(name).await?.map(|app| app.id),
        };
        match id {
            Some(id) => self.app_for(user, id).await,
            None => Err(Error::NotFound("application")),
        }
    }

    /// Read-through lookup by id.
    pub async fn app(&self, id: AppId) -> Result<Option<Application>> {
        if let Some(app) = self.cache().app(id).await {
            return Ok(Some(app));
        }
        let app = self.store().app(id).await?;
        if let Some(app) = &app {
            self.cache().put_app(app).await;
        }
        Ok(app)
    }

    /// A user's apps after the cursor, in creation order; read through the cache (the page's
    /// ids, then each app).
    pub async fn apps_of(
        &self,
        user: &User,
        after: Option<AppId>,
        limit: u64,
    ) -> Result<Vec<Application>> {
        if let Some(ids) = self.cache().app_list(user.id, after, limit).await {
            let mut apps = Vec::with_capacity(ids.len());
            for id in ids {
                match self.cache().app(id).await {
                    Some(app) => apps.push(app),
                    None => break,
                }
            }
            if apps.len() == apps.capacity() {
                return Ok(apps);
            }
        }
        let apps = self.store().apps_of(user.id, after, limit).await?;
        let ids: Vec<AppId> = apps.iter().map(|a| a.id).collect();
        for app in &apps {
            self.cache().put_app(app).await;
        }
        self.cache().put_app_list(user.id, after, limit, &ids).await;
        Ok(apps)
    }

    /// What the app's first live replica uses now, where the runtime measures it.
    pub async fn stats(&self, app: &Application) -> Result<Option<crate::runtime::InstanceStats>> {
        let Some(dep) = self.live_deployment(app.id, None).await? else {
            return Ok(None);
        };
        match dep.running().next() {
            Some(replica) => self.runtime().stats(&replica.id).await,
            None => Ok(None),
        }
    }

    /// An app's deployments, newest first.
    pub async fn deployments_of(&self, app: &Application) -> Result<Vec<Deployment>> {
        self.store().deployments_of(app.id).await
    }

    /// Changes an app with `change`, compare-and-set on its version, retrying on conflicts with
    /// a fresh copy. A status change is checked against the state machine, stored as an event in
    /// the same transaction, then published. `change` may run more than once.
    pub(crate) async fn update_app(
        &self,
        id: AppId,
        change: impl FnMut(&mut Application) -> Result<()>,
    ) -> Result<Application> {
        self.write_app(id, None, change).await
    }

    /// [`Platform::update_app`] that also writes `deployment` (added, or rewritten if it
    /// exists), in the same transaction.
    pub(crate) async fn update_app_adding(
        &self,
        id: AppId,
        deployment: &Deployment,
        change: impl FnMut(&mut Application) -> Result<()>,
    ) -> Result<Application> {
        self.write_app(id, Some(deployment), change).await
    }

    #[tracing::instrument(skip_all, fields(app_id = %id), err)]
    async fn write_app(
        &self,
        id: AppId,
        new_deployment: Option<&Deployment>,
        mut change: impl FnMut(&mut Application) -> Result<()>,
    ) -> Result<Application> {
        // The cached copy is a good first guess; compare-and-set catches a stale one.
        let mut current = match self.cache().app(id).await {
            Some(app) => app,
            None => self.fresh(id).await?,
        };
        for _ in 0..CAS_TRIES {
            let mut next = current.clone();
            change(&mut next)?;
            // Reasons may quote the app's output: its secrets stay out of them.
            next.status_reason = next.status_reason.map(|r| next.env.scrub(&r));
            if next == current && new_deployment.is_none() {
                return Ok(current);
            }
            let event = if next.status != current.status {
                current.status.transition(next.status)?;
                Some(StatusEvent {
                    app_id: id,
                    owner: next.owner,
                    version: current.version + 1,
                    status: next.status,
                    deployment: next.deployment,
                    reason: next.status_reason.clone(),
                    at: Utc::now(),
                })
            } else {
                None
            };
            let written = match new_deployment {
                Some(d) => {
                    self.store()
                        .add_deployment(&next, current.version, d, event.as_ref())
                        .await
                }
                None => {
                    self.store()
                        .update_app(&next, current.version, event.as_ref())
                        .await
                }
            };
            match written {
                Ok(saved) => {
                    self.cache().put_app(&saved).await;
                    // A deployment written with the app may carry new replicas.
                    let rerouted = new_deployment.is_some()
                        || saved.deployment != current.deployment
                        || saved.https_only != current.https_only;
                    if let Some(event) = event {
                        self.log_status(&event).await;
                        self.bus().publish(Event::Status(event)).await?;
                    } else if rerouted {
                        // Routers read the route again (a status event makes them too).
                        self.bus().publish(Event::RouteChanged(id)).await?;
                    }
                    return Ok(saved);
                }
                Err(Error::VersionConflict { .. }) => {
                    self.cache().evict_app(&current).await;
                    current = self.fresh(id).await?;
                }
                Err(e) => return Err(e),
            }
        }
        Err(Error::Storage(
            format!("application {id} kept changing; gave up after {CAS_TRIES} tries").into(),
        ))
    }

    /// Moves an app to `status` with `reason`.
    pub async fn set_status(
        &self,
        id: AppId,
        status: AppStatus,
        reason: Option<String>,
    ) -> Result<Application> {
        self.update_app(id, |app| {
            app.status = status;
            app.status_reason = reason.clone();
            Ok(())
        })
        .await
    }

    pub(crate) async fn fresh(&self, id: AppId) -> Result<Application> {
        self.store()
            .app(id)
            .await?
            .ok_or(Error::NotFound("application"))
    }

    /// Stops what dies with this process (local processes). Called once on shutdown.
    ///
    /// The apps keep what their users asked for: the platform stopping is not a user stopping
    /// them, so none is recorded `STOPPED`. Recovery at the next start finds their instances
    /// gone and starts them again, as after a crash of the platform. The locks of work cut
    /// short by the shutdown are given back, so that the next start does not wait out their
    /// leases.
    pub async fn shutdown(&self) -> Result<()> {
        let stopped = self.runtime().shutdown().await;
        if !stopped.is_empty() {
            tracing::info!(
                instances = stopped.len(),
                "instances stopped with the platform; they start again with it"
            );
        }
        let released = self.locks().release_all().await;
        if released > 0 {
            tracing::info!(locks = released, "locks of unfinished work given back");
        }
        Ok(())
    }
}
