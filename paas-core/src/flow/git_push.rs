//! `git push` to deploy: the platform keeps one bare repository per app (under the data dir,
//! made on the app's first push); a push to it deploys the pushed commit of the app's branch.
//!
//! Expected flow: the edge authenticates the pusher → [`Platform::push_target`] (their app, or a
//! new name when `creates_apps`) → the edge runs `git receive-pack` on
//! [`Platform::push_repository`] → [`Platform::deploy_git_push`] (creates the app from its
//! repository, or hands the commit to [`Platform::deploy_pushed`] with trigger `GIT_PUSH`) →
//! [`Platform::push_progress`] follows the deployment's build log and status until it settles
//! (woken by status events on the bus, with a store read as the fallback). Its git reads
//! (force push or not, the commit's message) go through [`crate::git::GitProvider`], bounded
//! like every other.
//!
//! Guarantees: another user's app is "not found", whatever its name; a name that is free is
//! only taken when the server allows it. The app's source is the platform's own repository (a
//! `file://` URL the user never typed); a user cannot point another app at it through the API
//! when local repositories are disabled.

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;

use crate::error::{Error, Result};
use crate::flow::{LogItem, PushOutcome};
use crate::model::{
    AppName, Application, Branch, CommitId, DeploymentId, DeploymentStatus, DeploymentTrigger,
    GitUrl, NewApplication, PushedCommit, SourcePolicy, User,
};
use crate::platform::Platform;

/// How long a push waits for the deployment of its commit to be made (a queued one waits for
/// the task under way).
const DEPLOY_START_WAIT: Duration = Duration::from_secs(900);

/// How long the pusher is told the deployment's status before being pointed at `paas logs`.
const DEPLOY_END_WAIT: Duration = Duration::from_secs(1800);

/// What `git push` may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitPushConfig {
    /// A push to a name no app has creates the app, owned by the pusher.
    pub creates_apps: bool,
    /// Bytes one push may send.
    pub max_body: u64,
}

impl Default for GitPushConfig {
    fn default() -> Self {
        Self {
            creates_apps: true,
            max_body: 512 * 1024 * 1024,
        }
    }
}

/// Where a push goes.
#[derive(Clone, Debug)]
pub enum PushTarget {
    /// The pusher's app.
    App(Box<Application>),
    /// A free name: the push creates the app.
    New(AppName),
}

impl PushTarget {
    pub fn name(&self) -> &AppName {
        match self {
            PushTarget::App(app) => &app.name,
            PushTarget::New(name) => name,
        }
    }
}

/// A branch's update in a push, as `git receive-pack` was told of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: String,
    pub new: String,
    pub refname: String,
}

impl RefUpdate {
    pub fn branch(&self) -> Option<&str> {
        self.refname.strip_prefix("refs/heads/")
    }
    fn deletes(&self) -> bool {
        self.new.bytes().all(|b| b == b'0')
    }
    fn creates(&self) -> bool {
        self.old.bytes().all(|b| b == b'0')
    }
}

/// What a push started: the deployment to follow, or why none.
#[derive(Clone, Debug)]
pub enum PushDeploy {
    Deploying {
        app: Box<Application>,
        deployment: DeploymentId,
        forced: bool,
    },
    Nothing(String),
}

impl Platform {
    /// The bare repository that holds `name`'s pushes.
    pub fn push_repository(&self, name: &AppName) -> PathBuf {
        self.config()
            .data_dir
            .join("repos")
            .join(format!("{name}.git"))
    }

    /// The pusher's app called `name`, or the name to create, or "not found".
    pub async fn push_target(&self, user: &User, name: &AppName) -> Result<PushTarget> {
        match self.app_named_for(user, name).await {
            Ok(app) => Ok(PushTarget::App(Box::new(app))),
            Err(Error::NotFound(_)) => {
                let free = self.name_available(name).await?;
                if free && self.config().git_push.creates_apps {
                    Ok(PushTarget::New(name.clone()))
                } else {
                    Err(Error::NotFound("application"))
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Makes the app's bare repository if it is not there yet; answers its path.
    pub async fn open_push_repository(&self, name: &AppName) -> Result<PathBuf> {
        let dir = self.push_repository(name);
        if !dir.join("HEAD").exists() {
            let parent = dir.parent().map(PathBuf::from).unwrap_or_default();
            let io = |source| Error::Io {
                context: format!("making the push repository {}", dir.display()),
                source,
            };
            tokio::fs::create_dir_all(&parent).await.map_err(io)?;
            let out = tokio::process::Command::new("git")
                .args(["init", "--quiet", "--bare"])
                .arg(&dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .output()
                .await
                .map_err(io)?;
            if !out.status.success() {
                return Err(io(std::io::Error::other(
                    String::from_utf8_lossy(&out.stderr).trim().to_owned(),
                )));
            }
        }
        Ok(dir)
    }

    /// Deploys what a push stored: the update of the app's branch (a new app: the first
    /// branch pushed).
    #[tracing::instrument(skip_all, fields(name = %target.name()), err)]
    pub async fn deploy_git_push(
        &self,
        user: &User,
        target: PushTarget,
        updates: &[RefUpdate],
    ) -> Result<PushDeploy> {
        let repo = self.push_repository(target.name());
        let url = GitUrl::parse(
            &format!("file://{}", repo.display()),
            SourcePolicy { allow_local: true },
        )?;
        let app = match target {
            PushTarget::App(app) => *app,
            PushTarget::New(name) => {
                let Some(update) = updates
                    .iter()
                    .find(|u| u.branch().is_some() && !u.deletes())
                else {
                    return Ok(PushDeploy::Nothing("no branch was pushed".into()));
                };
                let mut new = NewApplication::new(name, url);
                new.branch = Some(Branch::parse(update.branch().unwrap_or("main"))?);
                let app = self.create_checked(user, new).await?;
                let Some(deployment) = app.deployment else {
                    return Ok(PushDeploy::Nothing("the app has no deployment".into()));
                };
                return Ok(PushDeploy::Deploying {
                    app: Box::new(app),
                    deployment,
                    forced: false,
                });
            }
        };
        if app.source.url != url {
            return Ok(PushDeploy::Nothing(format!(
                "{} deploys from {}, not from its pushes",
                app.name, app.source.url
            )));
        }
        let branch = app.source.branch.as_str();
        let Some(update) = updates.iter().find(|u| u.branch() == Some(branch)) else {
            return Ok(PushDeploy::Nothing(format!(
                "nothing pushed to {branch}, the branch {} deploys",
                app.name
            )));
        };
        if update.deletes() {
            return Ok(PushDeploy::Nothing(format!("{branch} was deleted")));
        }
        let commit = CommitId::parse(&update.new)?;
        let forced = match CommitId::parse(&update.old) {
            _ if update.creates() => false,
            Ok(old) => !self
                .git()
                .is_ancestor(&url, &repo, &old, &commit)
                .await
                .unwrap_or(false),
            Err(_) => true,
        };
        let (message, author) = match self.git().commit_in(&url, &repo, &commit).await {
            Ok(head) => (head.message, head.author),
            Err(e) => {
                tracing::info!(%commit, error = %e, "a pushed commit's message could not be read");
                (None, None)
            }
        };
        let before: Vec<DeploymentId> = self
            .store()
            .deployments_of(app.id)
            .await?
            .iter()
            .map(|d| d.id)
            .collect();
        if forced {
            tracing::info!(app_id = %app.id, old = %update.old, new = %update.new, "force push");
        }
        let push = PushedCommit {
            commit: commit.clone(),
            message,
            author,
            trigger: DeploymentTrigger::GitPush,
        };
        let mut outcome = PushOutcome::Busy;
        for _ in 0..10 {
            outcome = self.deploy_pushed(app.id, push.clone(), false).await?;
            if outcome != PushOutcome::Busy {
                break;
            }
        }
        match outcome {
            PushOutcome::Skipped(why) => return Ok(PushDeploy::Nothing(why.into())),
            PushOutcome::Busy => return Ok(PushDeploy::Nothing("the app is busy".into())),
            _ => {}
        }
        // The deployment of this commit, once the task made it (a queued one waits its turn).
        let made = self
            .wait_on_status(app.id, DEPLOY_START_WAIT, || async {
                let deps = self.store().deployments_of(app.id).await?;
                Ok(deps
                    .iter()
                    .find(|d| !before.contains(&d.id) && d.commit.as_ref() == Some(&commit))
                    .map(|d| d.id))
            })
            .await?;
        Ok(match made {
            Some(deployment) => PushDeploy::Deploying {
                deployment,
                app: Box::new(app),
                forced,
            },
            None => PushDeploy::Nothing("the deploy did not start".into()),
        })
    }

    /// The lines a pusher sees: the deployment's build log, then its status until it runs or
    /// fails.
    pub async fn push_progress(
        &self,
        user: &User,
        deployment: DeploymentId,
    ) -> Result<BoxStream<'static, String>> {
        let build = self.follow_build(user, deployment).await?;
        let platform = self.clone();
        let app = self
            .store()
            .deployment(deployment)
            .await?
            .ok_or(Error::NotFound("deployment"))?
            .app_id;
        let lines = build.filter_map(|item| async move {
            match item {
                LogItem::Line(l) => Some(l.text),
                LogItem::Lagged { skipped, .. } => Some(format!("({skipped} lines skipped)")),
            }
        });
        let end = futures::stream::once(async move {
            let ended = platform
                .wait_on_status(app, DEPLOY_END_WAIT, || async {
                    Ok(match platform.store().deployment(deployment).await? {
                        Some(d) => match d.status {
                            DeploymentStatus::Running => Some("deployed: RUNNING".to_owned()),
                            DeploymentStatus::Failed | DeploymentStatus::Stopped => Some(format!(
                                "deploy FAILED: {}",
                                d.error.unwrap_or_else(|| d.status.as_str().to_owned())
                            )),
                            _ => None,
                        },
                        None => Some("deploy FAILED: the deployment is gone".to_owned()),
                    })
                })
                .await;
            match ended {
                Ok(Some(line)) => line,
                Ok(None) => "deploy still under way: follow it with `paas logs`".to_owned(),
                Err(e) => format!("deploy status unknown: {e}"),
            }
        });
        Ok(lines.chain(end).boxed())
    }
}
