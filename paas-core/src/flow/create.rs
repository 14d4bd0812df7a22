//! The create flow, steps 1 and 2 of the design card: check repository, branch and name, insert
//! the app `Pending` with its first deployment in one transaction, queue the build.

use chrono::Utc;

use crate::error::{Error, Result};
use crate::event_log::{EventKind, EventRecord};
use crate::events::{Event, StatusEvent};
use crate::git::RepoCheck;
use crate::model::{
    AppId, AppName, Application, Branch, Deployment, DeploymentTrigger, GitUrl, Language,
    NewApplication, PushedCommit, User,
};
use crate::platform::Platform;

impl Platform {
    /// Whether no app has this name yet (a name the cache knows is taken; otherwise the store
    /// answers).
    pub async fn name_available(&self, name: &AppName) -> Result<bool> {
        if self.cache().app_id_by_name(name).await.is_some() {
            return Ok(false);
        }
        Ok(self.store().app_by_name(name).await?.is_none())
    }

    /// Looks at a repository as `user` (with their git token, for private repositories): does it
    /// exist, its default branch, does `branch` exist. A repository that cannot be read answers
    /// `exists: false` rather than an error.
    pub async fn check_repository(
        &self,
        user: &User,
        url: &GitUrl,
        branch: Option<&Branch>,
    ) -> Result<RepoCheck> {
        if url.is_local() && !self.config().source_policy.allow_local {
            return Err(crate::model::ValidationError::LocalReposDisabled.into());
        }
        let token = self.clone_token(user.id, url).await?;
        match self.git().check(url, branch, token.as_ref()).await {
            Err(Error::RepoNotFound(_)) => Ok(RepoCheck {
                exists: false,
                default_branch: None,
                branch_exists: false,
                head: None,
            }),
            other => other,
        }
    }

    /// The language a build of `branch` would detect, from the names at the top of its head
    /// (fetched without their contents, with `user`'s git token); `None` when nothing there
    /// names one. What the create wizard shows before anything is created.
    pub async fn detect_language(
        &self,
        user: &User,
        url: &GitUrl,
        branch: &Branch,
    ) -> Result<Option<Language>> {
        if url.is_local() && !self.config().source_policy.allow_local {
            return Err(crate::model::ValidationError::LocalReposDisabled.into());
        }
        let token = self.clone_token(user.id, url).await?;
        let files = self.git().top_files(url, branch, token.as_ref()).await?;
        Ok(Language::detect_in(&files))
    }

    /// Refuses scaling that would start replicas of an app with a fixed port where they would
    /// share it (local processes): they could not all listen.
    pub(crate) fn replicas_fit(
        &self,
        port: Option<crate::model::Port>,
        scaling: &crate::model::Scaling,
    ) -> Result<()> {
        if let Some(port) = port
            && scaling.max_instances > 1
            && self.runtime().fixed_ports_are_shared()
        {
            return Err(crate::model::ValidationError::Scaling(format!(
                "an app on the fixed port {port} runs one instance on this runtime \
                 (maxInstances {}): let the platform choose the port to run replicas",
                scaling.max_instances
            ))
            .into());
        }
        Ok(())
    }

    /// Creates an application and queues its first build. Answers at once with the app
    /// `Pending`; the build and start follow on the queue (if the queue is unreachable, once it
    /// is back). Any refusal writes nothing.
    #[tracing::instrument(skip_all, fields(name = %new.name, owner = %owner.id), err)]
    pub async fn create_application(
        &self,
        owner: &User,
        new: NewApplication,
    ) -> Result<Application> {
        if new.url.is_local() && !self.config().source_policy.allow_local {
            return Err(crate::model::ValidationError::LocalReposDisabled.into());
        }
        self.create_checked(owner, new).await
    }

    /// [`Platform::create_application`] of an app whose source the platform keeps (`git
    /// push`): its `file://` URL is allowed whatever the policy.
    pub(crate) async fn create_checked(
        &self,
        owner: &User,
        new: NewApplication,
    ) -> Result<Application> {
        self.create_pushed(owner, new, None).await
    }

    /// [`Platform::create_checked`], the first deployment started by `push` (a preview of a
    /// pushed branch or pull request) when given: it builds that commit and records its
    /// trigger, message and author.
    pub(crate) async fn create_pushed(
        &self,
        owner: &User,
        new: NewApplication,
        push: Option<PushedCommit>,
    ) -> Result<Application> {
        if new.previews.enabled && new.preview_of.is_some() {
            return Err(crate::model::ValidationError::Previews(
                "a preview app has no previews of its own".into(),
            )
            .into());
        }
        crate::model::validate_port_bindings(&new.port_bindings)?;
        new.scaling.check(self.config().scaler.bounds)?;
        self.replicas_fit(new.port, &new.scaling)?;
        // A name the cache knows is taken fails before the repository is looked at; any other
        // taken name is the unique index's answer (`NAME_TAKEN` from the insert below). No
        // database read ahead of it: a create is one transaction of writes.
        if self.cache().app_id_by_name(&new.name).await.is_some() {
            return Err(Error::NameTaken(new.name.to_string()));
        }
        let token = self.clone_token(owner.id, &new.url).await?;
        let check = self
            .git()
            .check(&new.url, new.branch.as_ref(), token.as_ref())
            .await?;
        let branch = match new.branch.clone().or(check.default_branch) {
            Some(b) if check.branch_exists => b,
            None => return Err(Error::NoDefaultBranch(new.url.to_string())),
            other => {
                return Err(Error::BranchNotFound {
                    url: new.url.to_string(),
                    branch: other.map_or_else(|| "(default branch)".to_owned(), |b| b.to_string()),
                });
            }
        };

        let now = Utc::now();
        let id = AppId::new();
        let first = match push {
            Some(push) => Deployment {
                commit_message: push.message,
                commit_author: push.author,
                ..Deployment::queued(id, Some(push.commit), now).by(push.trigger)
            },
            None => Deployment::queued(id, check.head.clone(), now).by(DeploymentTrigger::Create),
        };
        let app = Application::pending(owner.id, new, branch, &first);
        let mut task = crate::task::Task::running(
            app.id,
            app.owner,
            crate::task::TaskKind::Deploy,
            "queued for a build",
        );
        task.deployment = Some(first.id);
        self.store()
            .create_app_with_task(&app, &first, &task)
            .await?;
        self.cache().put_app(&app).await;
        self.cache().evict_app_lists(app.owner).await;
        let created = StatusEvent {
            app_id: app.id,
            owner: app.owner,
            version: app.version,
            status: app.status,
            deployment: app.deployment,
            reason: None,
            at: now,
        };
        self.log_status(&created).await;
        self.bus().publish(Event::Status(created)).await?;
        let created =
            EventRecord::app(&app, EventKind::AppCreated, format!("{} created", app.name)).details(
                serde_json::json!({
                    "repository": app.source.url.to_string(),
                    "branch": app.source.branch.to_string(),
                }),
            );
        self.record_all(vec![created, super::actions::deploy_started(&app, &first)])
            .await;

        // The app is committed: the database is the truth, and a build the queue cannot take
        // now is queued again once it can (never a FAILED app for the platform's fault).
        self.request_build(app.id, first.id).await?;
        tracing::info!(app_id = %app.id, deployment = %first.id, "application created, build queued");
        Ok(app)
    }
}
