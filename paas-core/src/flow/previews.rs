//! Preview apps: [`Platform::open_preview`] makes or redeploys the preview of a branch or pull
//! request, [`Platform::close_preview`] removes it. Branches reach them from the watcher
//! (`preview_branches.rs`), pull requests from webhooks (`preview_pulls.rs`).
//!
//! Expected flow of an opening: take the parent's preview lock (`previews:<id>`) → a preview of
//! that branch or pull request exists: deploy the pushed commit on it
//! ([`Platform::deploy_pushed`]) → else, at `maxPreviews`, remove the oldest previews to make
//! room (with the reason in the logs) → create `<branch or pr-N>--<parent>` as the parent's owner,
//! at the preview's branch, with the parent's settings and env plus `PAAS_PREVIEW=1` and
//! `PAAS_PREVIEW_OF=<parent>`, its first deployment started by the push.
//!
//! Guarantees: decisions about an app's previews are taken one at a time (the lock is in the
//! store, shared by every server), so a branch and a webhook told at once make one preview. A
//! preview belongs to the parent's owner, who alone sees it, and has no previews of its own.
//!
//! Assumptions: a preview's name may be taken by an app that is no preview; that branch then
//! gets no preview (said in the logs), and nothing else changes.

use std::time::Duration;

use super::pushed::PushOutcome;
use crate::error::{Error, Result};
use crate::lock::LockKey;
use crate::model::{
    AppName, Application, Branch, Desired, EnvChange, EnvVars, GitUrl, NewApplication, PreviewKey,
    PreviewOf, PushedCommit,
};
use crate::platform::Platform;
use crate::status::AppStatus;
use crate::task::TaskRequest;

/// How long an opening waits for another decision about the same app's previews.
const DECISION_WAIT: Duration = Duration::from_secs(2);

/// What a preview shows: a branch of a repository (the parent's, or a fork's), at a commit.
#[derive(Clone, Debug)]
pub struct PreviewHead {
    pub key: PreviewKey,
    pub url: GitUrl,
    pub branch: Branch,
    pub push: PushedCommit,
}

/// What became of an opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PreviewOutcome {
    /// A new preview app, building.
    Created(AppName),
    /// The preview existed; what became of the pushed commit on it.
    Deployed(AppName, PushOutcome),
    /// Nothing done, and why.
    Skipped(String),
    /// Another decision about the app's previews takes long: try again a moment later.
    Busy,
}

impl Platform {
    /// Makes or redeploys the preview `head` of `parent` (see the module's flow). `first`: the
    /// commit is not known to be new (the watcher's first look at a branch); it then gets no
    /// preview when the app has as many as it keeps, and an existing preview skips a commit
    /// it built before.
    #[tracing::instrument(skip_all, fields(app_id = %parent.id, preview = %head.key), err(level = "info"))]
    pub async fn open_preview(
        &self,
        parent: &Application,
        head: PreviewHead,
        first: bool,
    ) -> Result<PreviewOutcome> {
        if let Some(why) = no_previews(parent) {
            return Ok(PreviewOutcome::Skipped(why));
        }
        let key = LockKey::Previews(parent.id);
        let lease = match self
            .locks()
            .acquire(&key, "opening a preview", DECISION_WAIT)
            .await
        {
            Ok(lease) => lease,
            Err(Error::Busy(_)) => return Ok(PreviewOutcome::Busy),
            Err(e) => return Err(e),
        };
        let outcome = self
            .locks()
            .hold(lease, self.open_locked(parent, head, first))
            .await?;
        tracing::info!(?outcome, "preview");
        Ok(outcome)
    }

    async fn open_locked(
        &self,
        parent: &Application,
        head: PreviewHead,
        first: bool,
    ) -> Result<PreviewOutcome> {
        let live = self.live_previews(parent).await?;
        if let Some(existing) = live.iter().find(|p| shows(p, &head.key)) {
            let outcome = self.deploy_pushed(existing.id, head.push, first).await?;
            return Ok(match outcome {
                PushOutcome::Busy => PreviewOutcome::Busy,
                o => PreviewOutcome::Deployed(existing.name.clone(), o),
            });
        }
        let max = usize::try_from(parent.previews.max_previews).unwrap_or(usize::MAX);
        if live.len() >= max {
            if first {
                return Ok(PreviewOutcome::Skipped(format!(
                    "{} keeps {max} previews; {} gets one at its next push",
                    parent.name, head.key
                )));
            }
            for old in live.iter().take(live.len() + 1 - max) {
                let why = format!(
                    "{} keeps {max} previews (maxPreviews): the oldest makes room for {}",
                    parent.name, head.key
                );
                self.remove_preview(old, &why).await?;
            }
        }
        let owner = self
            .store()
            .user(parent.owner)
            .await?
            .ok_or(Error::NotFound("the application's owner"))?;
        let new = self.preview_of(parent, &head)?;
        let name = new.name.clone();
        match self.create_pushed(&owner, new, Some(head.push)).await {
            Ok(app) => Ok(PreviewOutcome::Created(app.name)),
            Err(Error::NameTaken(_)) => Ok(PreviewOutcome::Skipped(format!(
                "the name {name} is taken by an application that is not this preview"
            ))),
            Err(e) => Err(e),
        }
    }

    /// Removes the preview of `key` of `parent`; false when there is none.
    pub async fn close_preview(
        &self,
        parent: &Application,
        key: &PreviewKey,
        why: &str,
    ) -> Result<bool> {
        let mut closed = false;
        for preview in self.live_previews(parent).await? {
            if shows(&preview, key) {
                self.remove_preview(&preview, why).await?;
                closed = true;
            }
        }
        Ok(closed)
    }

    /// The previews of `parent` not being deleted, oldest first.
    pub(crate) async fn live_previews(&self, parent: &Application) -> Result<Vec<Application>> {
        let mut previews = self.store().previews_of(parent.id).await?;
        previews.retain(|p| p.status != AppStatus::Deleting);
        Ok(previews)
    }

    /// The preview apps of the user's app `parent`, oldest first.
    pub async fn previews_for(
        &self,
        user: &crate::model::User,
        parent: crate::model::AppId,
    ) -> Result<Vec<Application>> {
        let parent = self.app_for(user, parent).await?;
        let mut previews = self.store().previews_of(parent.id).await?;
        previews.retain(|p| p.owner == user.id);
        Ok(previews)
    }

    /// Deletes a preview as its owner would, saying why.
    pub(crate) async fn remove_preview(&self, preview: &Application, why: &str) -> Result<()> {
        tracing::info!(app_id = %preview.id, name = %preview.name, reason = why, "removing a preview");
        let owner = self
            .store()
            .user(preview.owner)
            .await?
            .ok_or(Error::NotFound("the application's owner"))?;
        // Boxed: a deletion deletes previews, which is a deletion.
        let deleted = Box::pin(self.submit(&owner, preview.id, TaskRequest::Delete, false));
        match deleted.await {
            Ok(_) | Err(Error::NotFound(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Deletes the previews of a deleted app (a failure is logged: the watcher's sweep removes
    /// what is left of them).
    pub(crate) async fn remove_previews_of(&self, parent: &Application) {
        let previews = match self.store().previews_of(parent.id).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(app_id = %parent.id, error = %e, "could not read the previews of a deleted application");
                return;
            }
        };
        let why = format!("{} was deleted", parent.name);
        for preview in previews {
            if let Err(e) = self.remove_preview(&preview, &why).await {
                tracing::warn!(app_id = %preview.id, error = %e, "could not delete a preview");
            }
        }
    }

    /// The preview app `head` of `parent`, as the create flow takes it.
    fn preview_of(&self, parent: &Application, head: &PreviewHead) -> Result<NewApplication> {
        let marks = EnvVars::parse([
            ("PAAS_PREVIEW", "1".to_owned()),
            ("PAAS_PREVIEW_OF", parent.name.to_string()),
        ])?;
        let env = parent.env.with(&EnvChange {
            set: marks,
            unset: Vec::new(),
        })?;
        // A fixed port shared by the parent and its previews cannot be listened on by all.
        let port = parent
            .port
            .filter(|_| !self.runtime().fixed_ports_are_shared());
        Ok(NewApplication {
            name: head.key.app_name(&parent.name),
            url: head.url.clone(),
            branch: Some(head.branch.clone()),
            language: parent.language,
            port,
            env,
            resources: parent.resources,
            // Host ports are the parent's: a preview would take them away.
            port_bindings: Vec::new(),
            https_only: parent.https_only,
            auto_deploy: false,
            scaling: parent.scaling,
            health: parent.health.clone(),
            previews: crate::model::PreviewSettings::default(),
            preview_of: Some(PreviewOf {
                parent: parent.id,
                key: head.key.clone(),
            }),
        })
    }
}

/// Why `app` gets no previews, if it does not.
pub(crate) fn no_previews(app: &Application) -> Option<String> {
    if app.preview_of.is_some() {
        return Some(format!("{} is a preview: it has no previews", app.name));
    }
    if !app.previews.enabled {
        return Some(format!("previews are off for {}", app.name));
    }
    if app.status == AppStatus::Deleting {
        return Some(format!("{} is being deleted", app.name));
    }
    if app.desired == Desired::Stopped {
        return Some(format!("{} is stopped", app.name));
    }
    None
}

/// Whether `preview` shows `key`.
fn shows(preview: &Application, key: &PreviewKey) -> bool {
    preview.preview_of.as_ref().is_some_and(|p| &p.key == key)
}
