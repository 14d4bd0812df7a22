//! The ends of deployments: failed ones (the live one keeps serving), dead letters, and the
//! garbage of old images.
//!
//! Expected flow of a redeploy of a running app: the app stays `RUNNING` and keeps serving while
//! the new deployment builds and starts; once the new instance answers, the endpoint switches to
//! it and the old instance is stopped after a drain period. If the new deployment fails, the old
//! one keeps serving and the failure is recorded on the deployment and as the app's reason.

use crate::error::Result;
use crate::event_log::{EventKind, EventRecord};
use crate::model::{AppId, Application, Deployment, DeploymentStatus};
use crate::notify::{Notification, NotificationKind};
use crate::platform::Platform;
use crate::queue::Message;
use crate::status::AppStatus;

impl Platform {
    /// Records a failed deployment. If the app still serves an older deployment, that one stays
    /// live and the app `RUNNING` with the failure as its reason; otherwise the app is `FAILED`.
    pub(crate) async fn fail_deployment(&self, dep: &mut Deployment, reason: String) -> Result<()> {
        let app = self.app(dep.app_id).await?;
        let reason = match &app {
            Some(app) => app.env.scrub(&reason),
            None => reason,
        };
        if let Some(app) = &app {
            self.deploy_failed(app, dep, &reason).await;
        }
        // What a reader waits for is written last: the app's reason before the deployment's end
        // when an older deployment keeps serving (readers wait for the deployment to settle),
        // the deployment's end before the app's FAILED when none does (readers wait for the app).
        let live = self.live_deployment(dep.app_id, Some(dep.id)).await?;
        if let Some(live) = &live {
            let why = format!(
                "deployment {} failed, {} keeps serving: {reason}",
                dep.id, live.id
            );
            self.update_app(dep.app_id, |a| {
                a.deployment = Some(live.id);
                a.status_reason = Some(why.clone());
                Ok(())
            })
            .await?;
        }
        dep.status = DeploymentStatus::Failed;
        dep.error = Some(reason.clone());
        self.store().update_deployment(dep).await?;
        self.track(dep.id, "", Some(Some(reason.clone()))).await?;
        if live.is_none() {
            self.set_status(dep.app_id, AppStatus::Failed, Some(reason))
                .await?;
        }
        Ok(())
    }

    /// Records a failed deployment in the event log and notifies the app's owner.
    async fn deploy_failed(&self, app: &Application, dep: &Deployment, reason: &str) {
        let message = format!("deployment {} of {} failed: {reason}", dep.id, app.name);
        self.record(
            EventRecord::app(app, EventKind::DeployFailed, message.clone())
                .details(serde_json::json!({ "deployment": dep.id.to_string() })),
        )
        .await;
        self.notify(Notification {
            user: app.owner,
            kind: NotificationKind::DeployFailed,
            app: Some(app.id),
            app_name: Some(app.name.to_string()),
            message,
            at: chrono::Utc::now(),
        })
        .await;
    }

    /// Gives up on a message delivered too often (its handler keeps dying or failing): the
    /// deployment fails with the reason, and the message goes to the dead letters.
    pub(crate) async fn dead_letter(&self, delivery: &crate::queue::Delivery) -> Result<()> {
        let reason = format!(
            "gave up after {} deliveries of {:?}: its handling kept failing",
            delivery.attempt, delivery.message
        );
        let dep = match &delivery.message {
            Message::BuildRequest { deployment, .. }
            | Message::BuildSucceeded { deployment, .. } => {
                self.store().deployment(*deployment).await?
            }
            Message::BuildFailed { .. } => None,
        };
        if let Some(mut dep) = dep
            && !matches!(
                dep.status,
                DeploymentStatus::Running | DeploymentStatus::Failed | DeploymentStatus::Stopped
            )
        {
            self.fail_deployment(&mut dep, reason.clone()).await?;
        }
        self.queue().dead_letter(delivery, &reason).await
    }

    /// The deployment serving the app, other than `except`.
    pub(crate) async fn live_deployment(
        &self,
        app: AppId,
        except: Option<crate::model::DeploymentId>,
    ) -> Result<Option<Deployment>> {
        let serving = self
            .app(app)
            .await?
            .is_some_and(|a| a.status == AppStatus::Running);
        if !serving {
            return Ok(None);
        }
        Ok(self
            .store()
            .deployments_of(app)
            .await?
            .into_iter()
            .find(|d| d.status == DeploymentStatus::Running && Some(d.id) != except))
    }

    /// Removes the images of old deployments beyond the newest `keep_images` images, so that
    /// rollback keeps working for those. Images are counted once however many deployments run
    /// them (a rollback or an env change runs its origin's image again), and an image a kept or
    /// unsettled deployment runs is never removed. Deployments in flight are never touched.
    pub(crate) async fn prune_images(&self, app: AppId) -> Result<()> {
        let keep = self.config().keep_images;
        let with_images: Vec<_> = self
            .store()
            .deployments_of(app)
            .await?
            .into_iter()
            .filter(|d| d.image.is_some())
            .collect();
        let settled = |dep: &Deployment| {
            matches!(
                dep.status,
                DeploymentStatus::Stopped | DeploymentStatus::Failed
            )
        };
        // Newest first: the first `keep` distinct images, and those of deployments in flight.
        let mut kept = std::collections::HashSet::new();
        let mut newest = std::collections::HashSet::new();
        for dep in &with_images {
            if let Some(image) = &dep.image {
                if newest.len() < keep {
                    newest.insert(image.clone());
                }
                if newest.contains(image) || !settled(dep) {
                    kept.insert(image.clone());
                }
            }
        }
        let mut removed = std::collections::HashSet::new();
        for mut dep in with_images {
            if !settled(&dep) || dep.image.as_ref().is_some_and(|i| kept.contains(i)) {
                continue;
            }
            if let Some(image) = dep.image.take() {
                // Two pruned deployments may share an image: it is removed once.
                if removed.insert(image.clone()) {
                    self.images().remove_image(&image).await?;
                }
                self.store().update_deployment(&dep).await?;
                tracing::info!(app_id = %app, deployment = %dep.id, %image, "old image pruned");
            }
        }
        Ok(())
    }
}
