//! [`Platform::run_branch_previews`]: the branches of apps with previews, other than the one
//! each app follows, get preview apps; a branch that goes away takes its preview with it.
//!
//! Expected flow, every [`crate::PlatformConfig::git_poll`]: read the apps → remove the previews
//! whose app is gone or turned previews off → for each app with previews and `autoDeploy` (the
//! apps the watcher follows; wanted running), list its repository's branches (one `ls-remote`
//! per repository and owner, no clone) → a branch whose head changed since the last look opens
//! its preview ([`Platform::open_preview`]: created, or the new commit deployed on it) → a
//! preview whose branch is gone is removed.
//!
//! Guarantees: a remote that fails to answer removes nothing (its previews wait for an answer);
//! a head is handed over once per change, again at the next round only when the app's previews
//! were busy. The first look at an app (at start, or when previews are turned on) makes previews
//! of the branches already there while the app keeps fewer than `maxPreviews`, and removes none
//! to make room.
//!
//! Assumptions: heads are remembered in this process only; after a restart every branch is
//! looked at again, and a preview skips a commit it built before.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::Duration;

use super::previews::{PreviewHead, PreviewOutcome};
use crate::error::Result;
use crate::model::{
    AppId, Application, Branch, CommitId, DeploymentTrigger, Desired, GitUrl, PreviewKey,
    PushedCommit, Secret, UserId,
};
use crate::platform::Platform;
use crate::status::AppStatus;

/// The heads last handed over, per app with previews, per branch.
type Seen = HashMap<AppId, HashMap<Branch, CommitId>>;

/// A repository's branches as one listing found them, per repository and owner; `None`: the
/// listing failed.
type Listings = HashMap<(GitUrl, UserId), Option<Vec<(Branch, CommitId)>>>;

impl Platform {
    /// Keeps the branch previews in step with the branches until `shutdown` completes (see the
    /// module's flow).
    pub async fn run_branch_previews(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let every = self.config().git_poll.max(Duration::from_millis(50));
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut seen = Seen::new();
        let mut failing = false;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            match self.branch_previews_round(&mut seen).await {
                Ok(()) => failing = false,
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "previews: could not read the applications");
                    }
                    failing = true;
                }
            }
        }
    }

    /// One look at every app with previews.
    async fn branch_previews_round(&self, seen: &mut Seen) -> Result<()> {
        let statuses: Vec<AppStatus> = AppStatus::ALL
            .into_iter()
            .filter(|s| *s != AppStatus::Deleting)
            .collect();
        let apps = self.store().apps_in_status(&statuses).await?;
        self.sweep_orphans(&apps).await;
        let parents: Vec<&Application> = apps
            .iter()
            .filter(|a| {
                a.previews.enabled
                    && a.preview_of.is_none()
                    && a.auto_deploy
                    && a.desired == Desired::Running
            })
            .collect();
        seen.retain(|id, _| parents.iter().any(|p| p.id == *id));
        let mut listings = Listings::new();
        for parent in parents {
            let token = match self.clone_token(parent.owner, &parent.source.url).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::info!(app_id = %parent.id, error = %e, "previews: could not read a git token");
                    continue;
                }
            };
            let key = (parent.source.url.clone(), parent.owner);
            if !listings.contains_key(&key) {
                let listing = self
                    .git()
                    .branches(&parent.source.url, token.as_ref())
                    .await;
                if let Err(e) = &listing {
                    tracing::info!(url = %parent.source.url, error = %e, "previews: the branches could not be listed");
                }
                listings.insert(key.clone(), listing.ok());
            }
            let Some(Some(branches)) = listings.get(&key) else {
                continue;
            };
            let first = !seen.contains_key(&parent.id);
            let heads = seen.entry(parent.id).or_default();
            if let Err(e) = self
                .follow_branches(parent, branches, token.as_ref(), heads, first)
                .await
            {
                tracing::warn!(app_id = %parent.id, error = %e, "previews: the branches were not followed");
            }
        }
        Ok(())
    }

    /// Opens the previews of `parent`'s changed branches and removes those of gone ones.
    async fn follow_branches(
        &self,
        parent: &Application,
        branches: &[(Branch, CommitId)],
        token: Option<&Secret>,
        heads: &mut HashMap<Branch, CommitId>,
        first: bool,
    ) -> Result<()> {
        let others: Vec<&(Branch, CommitId)> = branches
            .iter()
            .filter(|(b, _)| *b != parent.source.branch)
            .collect();
        for (branch, commit) in &others {
            if heads.get(branch) == Some(commit) {
                continue;
            }
            let push = self.pushed_head(parent, branch, commit, token).await;
            let head = PreviewHead {
                key: PreviewKey::Branch(branch.clone()),
                url: parent.source.url.clone(),
                branch: branch.clone(),
                push,
            };
            match self.open_preview(parent, head, first).await {
                Ok(PreviewOutcome::Busy) => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(app_id = %parent.id, %branch, error = %e, "previews: a branch got no preview");
                }
            }
            heads.insert(branch.clone(), commit.clone());
        }
        let present: HashSet<&Branch> = others.iter().map(|(b, _)| b).collect();
        heads.retain(|b, _| present.contains(b));
        for preview in self.live_previews(parent).await? {
            let Some(PreviewKey::Branch(branch)) = preview.preview_of.as_ref().map(|p| &p.key)
            else {
                continue;
            };
            if !present.contains(branch) {
                let why = format!("branch {branch} of {} is gone", parent.name);
                self.remove_preview(&preview, &why).await?;
            }
        }
        Ok(())
    }

    /// `commit` of `branch` as a push, with its message and author when a look finds them.
    async fn pushed_head(
        &self,
        parent: &Application,
        branch: &Branch,
        commit: &CommitId,
        token: Option<&Secret>,
    ) -> PushedCommit {
        let read = self
            .git()
            .head_commit(&parent.source.url, branch, token)
            .await
            .ok()
            .filter(|h| &h.commit == commit);
        PushedCommit {
            commit: commit.clone(),
            message: read.as_ref().and_then(|h| h.message.clone()),
            author: read.and_then(|h| h.author),
            trigger: DeploymentTrigger::Push,
        }
    }

    /// Removes the previews whose app is gone or has previews off.
    async fn sweep_orphans(&self, apps: &[Application]) {
        let by_id: HashMap<AppId, &Application> = apps.iter().map(|a| (a.id, a)).collect();
        for app in apps {
            let Some(of) = &app.preview_of else { continue };
            let why = match by_id.get(&of.parent) {
                None => "the application it previews is gone".to_owned(),
                Some(p) if !p.previews.enabled => format!("previews were turned off on {}", p.name),
                Some(_) => continue,
            };
            if let Err(e) = self.remove_preview(app, &why).await {
                tracing::warn!(app_id = %app.id, error = %e, "previews: could not remove a preview");
            }
        }
    }
}
