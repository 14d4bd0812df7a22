//! [`Platform::run_auto_deploy`]: the branches of apps with `autoDeploy` are watched
//! ([`crate::git::GitProvider::watch`]) and each new head commit is deployed
//! ([`Platform::deploy_pushed`]).
//!
//! Expected flow: every [`crate::PlatformConfig::git_poll`] the followed apps are read from the
//! store (`autoDeploy` on, wanted running, not pinned to a commit, not being deleted) and grouped
//! by repository, branch and owner (whose token reads private repositories) → one watch per group
//! is started, and the watch of a group nobody follows any more is stopped → a new head is handed
//! to every app of its group → an app whose lock is held gets it again at the next interval, until
//! it is deployed, queued or skipped, or a newer head replaces it.
//!
//! Guarantees: one poll per group in a process however many apps follow it; with several servers
//! each polls, and the app's lock decides which one deploys (see `pushed.rs`).
//!
//! Assumptions: a head pushed while no server watched is deployed when a watch starts, unless a
//! deployment of the app built it already (a rollback away from a commit is not undone by a
//! restart). A token changed by its user starts the group's watch over (read every round).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;

use super::pushed::PushOutcome;
use crate::error::Result;
use crate::git::WatchTarget;
use crate::git::poll::PollEvery;
use crate::model::{
    AppId, Branch, DeploymentTrigger, Desired, GitUrl, PushedCommit, Secret, UserId,
};
use crate::platform::Platform;
use crate::status::AppStatus;

/// What one watch follows: a branch, read with its owner's token.
type Group = (GitUrl, Branch, UserId);

/// The apps of each group, as last read; shared with the groups' watches.
type Followers = Arc<Mutex<HashMap<Group, Vec<AppId>>>>;

/// A group's watch, running.
struct Watch {
    task: tokio::task::JoinHandle<()>,
    /// The token it reads with.
    token: Option<Secret>,
}

impl Platform {
    /// Watches the branches of apps with `autoDeploy` until `shutdown` completes (see the
    /// module's flow).
    pub async fn run_auto_deploy(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let every = self.config().git_poll.max(Duration::from_millis(50));
        let followers: Followers = Arc::default();
        let mut watches: HashMap<Group, Watch> = HashMap::new();
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tick.tick() => {}
            }
            let groups = match self.followed_groups().await {
                Ok(groups) => {
                    failing = false;
                    groups
                }
                Err(e) => {
                    if !failing {
                        tracing::warn!(error = %e, "auto-deploy: could not read the apps to follow");
                    }
                    failing = true;
                    continue;
                }
            };
            // The token each group's clones use (its owner's, for that host), read again every
            // round: a watch whose token changed starts over.
            let mut tokens: HashMap<Group, Option<Secret>> = HashMap::new();
            for group in groups.keys() {
                let (url, _, owner) = group;
                match self.clone_token(*owner, url).await {
                    Ok(token) => {
                        tokens.insert(group.clone(), token);
                    }
                    Err(e) => {
                        tracing::info!(user = %owner, error = %e, "auto-deploy: could not read a git token");
                    }
                }
            }
            watches.retain(|group, watch| {
                let same_token = tokens.get(group).is_none_or(|t| *t == watch.token);
                let keep = groups.contains_key(group) && !watch.task.is_finished() && same_token;
                if !keep {
                    watch.task.abort();
                }
                keep
            });
            let new: Vec<(Group, Option<Secret>)> = groups
                .keys()
                .filter(|g| !watches.contains_key(*g))
                .filter_map(|g| Some((g.clone(), tokens.get(g)?.clone())))
                .collect();
            if let Ok(mut shared) = followers.lock() {
                *shared = groups;
            }
            for (group, token) in new {
                let platform = self.clone();
                let shared = followers.clone();
                let (key, with) = (group.clone(), token.clone());
                let task = tokio::spawn(async move {
                    platform.follow_branch(key, with, shared, every).await;
                });
                watches.insert(group, Watch { task, token });
            }
        }
        for (_, watch) in watches {
            watch.task.abort();
        }
    }

    /// The apps to follow, by group.
    async fn followed_groups(&self) -> Result<HashMap<Group, Vec<AppId>>> {
        let statuses: Vec<AppStatus> = AppStatus::ALL
            .into_iter()
            .filter(|s| !matches!(s, AppStatus::Deleting | AppStatus::Stopped))
            .collect();
        let mut groups: HashMap<Group, Vec<AppId>> = HashMap::new();
        for app in self.store().apps_in_status(&statuses).await? {
            if app.auto_deploy && app.desired == Desired::Running && app.source.commit.is_none() {
                let group = (app.source.url, app.source.branch, app.owner);
                groups.entry(group).or_default().push(app.id);
            }
        }
        Ok(groups)
    }

    /// One watch: hands each new head of `group`'s branch to the group's apps.
    async fn follow_branch(
        &self,
        group: Group,
        token: Option<Secret>,
        followers: Followers,
        every: Duration,
    ) {
        let (url, branch, _) = group.clone();
        tracing::info!(%url, %branch, "auto-deploy: watching a branch");
        let target = WatchTarget { url, branch, token };
        let mut heads = self.git().clone().watch(target, PollEvery::new(every));
        let mut pending: HashMap<AppId, (PushedCommit, bool)> = HashMap::new();
        let mut retry = tokio::time::interval(every);
        retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                next = heads.next() => {
                    let Some(new) = next else { return };
                    let apps = following(&followers, &group);
                    let push = PushedCommit {
                        commit: new.head.commit,
                        message: new.head.message,
                        author: new.head.author,
                        trigger: DeploymentTrigger::Push,
                    };
                    for app in apps {
                        pending.insert(app, (push.clone(), new.first));
                    }
                    self.hand_over(&mut pending).await;
                }
                _ = retry.tick(), if !pending.is_empty() => {
                    // An app that stopped following meanwhile gets nothing.
                    let apps = following(&followers, &group);
                    pending.retain(|app, _| apps.contains(app));
                    self.hand_over(&mut pending).await;
                }
            }
        }
    }

    /// Deploys each pending head; keeps those whose app is busy for the next try.
    async fn hand_over(&self, pending: &mut HashMap<AppId, (PushedCommit, bool)>) {
        let mut left = HashMap::new();
        for (app, (push, first)) in pending.drain() {
            match self.deploy_pushed(app, push.clone(), first).await {
                Ok(PushOutcome::Busy) => {
                    left.insert(app, (push, first));
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(app_id = %app, commit = %push.commit, error = %e, "auto-deploy: a new commit was not deployed");
                }
            }
        }
        *pending = left;
    }
}

/// The apps that follow `group` now.
fn following(followers: &Followers, group: &Group) -> Vec<AppId> {
    followers
        .lock()
        .map(|f| f.get(group).cloned().unwrap_or_default())
        .unwrap_or_default()
}
