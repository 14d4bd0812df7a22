//! Nothing stays `STARTING` with nobody at work on it.
//!
//! Guarantees: every path out of work that started an app (a task's background part, a crash
//! restart, recovery) either leaves the app settled with a reason, or is retried:
//! - an error out of that work, its lock still held, fails the deployment in flight and the app
//!   with the error as its reason, and removes the instance it may have left
//!   ([`Platform::settle_after`]); the lock is released by its holder as always;
//! - if even that cannot be written (the database is down), the supervisor finds the app
//!   `STARTING` with its lock free and resumes it as recovery would
//!   ([`Platform::resume_stuck`]), round after round until it is settled.
//!
//! A start from the build pipeline that fails is retried by the queue (its message is delivered
//! again, then dead-lettered, which fails the deployment); the supervisor's round only makes
//! that happen sooner.
//!
//! Assumption: `STARTING` is only written under the app's lock, and the holder leaves it before
//! releasing the lock; so a `STARTING` app whose lock is free was abandoned.

use crate::error::{Error, Result};
use crate::lock::LockKey;
use crate::model::{AppId, DeploymentId, DeploymentStatus};
use crate::platform::Platform;
use crate::status::AppStatus;

impl Platform {
    /// Settles the app after work on `dep` ended in `err`; the caller still holds the lock.
    /// Never fails: what it cannot write, the supervisor resumes later.
    pub(crate) async fn settle_after(&self, app: AppId, dep: DeploymentId, err: &Error) {
        if let Err(e) = self.try_settle(app, dep, err).await {
            tracing::error!(app_id = %app, error = %e, cause = %err,
                "could not settle the application; the supervisor will resume it");
        }
    }

    async fn try_settle(&self, app_id: AppId, dep_id: DeploymentId, err: &Error) -> Result<()> {
        let Some(app) = self.store().app(app_id).await? else {
            return Ok(()); // deleted meanwhile
        };
        let reason = format!("the platform could not start it: {err}");
        if let Some(mut dep) = self.store().deployment(dep_id).await? {
            // Running on paper while the app is not: an instance nobody will route to.
            let stray = dep.status == DeploymentStatus::Running && app.status != AppStatus::Running;
            if dep.in_flight() || stray {
                for replica in std::mem::take(&mut dep.instances) {
                    self.runtime().remove(&replica.id).await?;
                }
                tracing::warn!(app_id = %app_id, deployment = %dep_id, %reason, "settling after an error");
                self.fail_deployment(&mut dep, reason.clone()).await?;
            }
        }
        let app = self.fresh(app_id).await?;
        if app.status == AppStatus::Starting {
            self.set_status(app_id, AppStatus::Failed, Some(reason))
                .await?;
        }
        Ok(())
    }

    /// Resumes the `STARTING` apps whose lock is free (see the module's guarantees), each in the
    /// background under its lock. Returns how many it took on.
    pub(crate) async fn resume_stuck(&self) -> Result<usize> {
        let mut taken = 0;
        for app in self.store().apps_in_status(&[AppStatus::Starting]).await? {
            let Ok(lease) = self
                .locks()
                .try_acquire(&LockKey::App(app.id), "resuming an abandoned start")
                .await?
            else {
                continue; // at work: not stuck
            };
            taken += 1;
            let platform = self.clone();
            tokio::spawn(async move {
                let work = async {
                    // Looked at again under the lock: it may have settled meanwhile.
                    let Some(app) = platform.store().app(app.id).await? else {
                        return Ok(());
                    };
                    if app.status != AppStatus::Starting {
                        return Ok(());
                    }
                    tracing::warn!(app_id = %app.id, "resuming an application left STARTING");
                    let (id, dep) = (app.id, app.deployment);
                    let out = platform.recover_locked(app).await.map(|_| ());
                    if let (Err(e), Some(dep)) = (&out, dep) {
                        platform.settle_after(id, dep, e).await;
                    }
                    let app = platform.fresh(id).await?;
                    if out.is_ok() && app.status == AppStatus::Starting {
                        // Nothing to resume (no deployment to start): said, not left hanging.
                        let why = "it was left starting with nothing to start".to_owned();
                        platform
                            .set_status(id, AppStatus::Failed, Some(why))
                            .await?;
                    }
                    out
                };
                if let Err(e) = platform.locks().hold(lease, work).await {
                    tracing::warn!(app_id = %app.id, error = %e, "could not resume an application");
                }
            });
        }
        Ok(taken)
    }
}
