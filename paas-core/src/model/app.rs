use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{
    AppId, AppName, DeploymentId, EnvVars, GitSource, Language, Port, PortBinding, Resources,
    UserId,
};
use crate::status::AppStatus;

/// Who may see an app. Private by default; public apps are listed for everyone (later).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Visibility {
    #[default]
    Private,
    Public,
}

/// An application: a repository and branch the platform keeps built and running. Serde is for
/// caches (they hold what the store returned).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Application {
    pub id: AppId,
    pub owner: UserId,
    pub name: AppName,
    pub source: GitSource,
    /// Chosen by the user, or detected from the checkout at the first build.
    pub language: Option<Language>,
    /// Fixed port the app listens on; `None` lets the platform pick one and pass it in `$PORT`.
    pub port: Option<Port>,
    pub env: EnvVars,
    /// CPU and memory limits of its instances.
    pub resources: Resources,
    /// Extra ports besides the HTTP one.
    pub port_bindings: Vec<PortBinding>,
    pub visibility: Visibility,
    /// How many instances run and when the app sleeps.
    pub scaling: super::Scaling,
    /// How its instances are checked before they are routed and while they run.
    #[serde(default)]
    pub health: super::HealthCheck,
    /// Plain-HTTP requests to the router are redirected to HTTPS (where the router serves it).
    pub https_only: bool,
    /// Each new commit on the branch is deployed (the watcher follows the branch).
    #[serde(default)]
    pub auto_deploy: bool,
    /// What the user asked for: whether it should run (see [`super::Desired`]).
    pub desired: super::Desired,
    /// What is observed.
    pub status: AppStatus,
    /// Why the app is in its status (the error of a `Failed` app).
    pub status_reason: Option<String>,
    /// The deployment that is (or is becoming) the live one. Its instances, with their
    /// addresses, are recorded on it ([`super::Deployment::instances`]).
    pub deployment: Option<DeploymentId>,
    /// Bumped on every write: updates are compare-and-set on it, so none is lost.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Application {
    /// A new app as the create flow inserts it: `Pending`, version 1, private, its first
    /// deployment `first` (made with this app's id).
    pub fn pending(
        owner: UserId,
        new: NewApplication,
        branch: super::Branch,
        first: &super::Deployment,
    ) -> Self {
        Self {
            id: first.app_id,
            owner,
            name: new.name,
            source: GitSource {
                url: new.url,
                branch,
                commit: None,
            },
            language: new.language,
            port: new.port,
            env: new.env,
            resources: new.resources,
            port_bindings: new.port_bindings,
            visibility: Visibility::Private,
            scaling: new.scaling,
            health: new.health,
            https_only: new.https_only,
            auto_deploy: new.auto_deploy,
            desired: super::Desired::Running,
            status: AppStatus::Pending,
            status_reason: None,
            deployment: Some(first.id),
            version: 1,
            created_at: first.created_at,
            updated_at: first.created_at,
        }
    }
}

/// What a user asks for when creating an app, already validated.
#[derive(Clone, Debug)]
pub struct NewApplication {
    pub name: AppName,
    pub url: super::GitUrl,
    /// `None`: the repository's default branch.
    pub branch: Option<super::Branch>,
    pub language: Option<Language>,
    pub port: Option<Port>,
    pub env: EnvVars,
    pub resources: Resources,
    /// Checked with [`super::validate_port_bindings`].
    pub port_bindings: Vec<PortBinding>,
    /// See [`Application::https_only`].
    pub https_only: bool,
    /// See [`Application::auto_deploy`].
    pub auto_deploy: bool,
    /// Checked with [`super::Scaling::check`].
    pub scaling: super::Scaling,
    /// Checked with [`super::HealthCheck::check`].
    pub health: super::HealthCheck,
}

impl NewApplication {
    /// An app from `url` named `name`, with every other choice left to the platform: the default
    /// branch, detected language, a port in `$PORT`, no env, no limits, no extra ports.
    pub fn new(name: AppName, url: super::GitUrl) -> Self {
        Self {
            name,
            url,
            branch: None,
            language: None,
            port: None,
            env: EnvVars::default(),
            resources: Resources::default(),
            port_bindings: Vec::new(),
            https_only: false,
            auto_deploy: false,
            scaling: super::Scaling::default(),
            health: super::HealthCheck::default(),
        }
    }
}

/// A change to an app, already validated. `None` leaves a field as it is. Serde is for a queued
/// task, which keeps the change until it runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AppUpdate {
    pub name: Option<AppName>,
    pub visibility: Option<Visibility>,
    pub https_only: Option<bool>,
    #[serde(default)]
    pub auto_deploy: Option<bool>,
    /// Merged into the app's settings and checked against the server's bounds; the scaler
    /// follows it (no restart).
    pub scaling: Option<super::ScalingChange>,
    /// Merged into the app's health check; running instances are checked with it from the
    /// warden's next round (no restart).
    #[serde(default)]
    pub health: Option<super::HealthCheckChange>,
    /// `Some(None)` lets the platform choose the port again.
    pub port: Option<Option<Port>>,
    /// Replaces all env vars.
    pub env: Option<EnvVars>,
    /// Sets some variables and removes others, keeping the rest (after `env`, if both).
    #[serde(default)]
    pub env_change: Option<super::EnvChange>,
    pub branch: Option<super::Branch>,
    /// `Some(None)` follows the branch head again.
    pub commit: Option<Option<super::CommitId>>,
    pub language: Option<Language>,
}

/// What an update asks of the running app, the least first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum UpdateEffect {
    /// Only stored data changes (name, visibility).
    DataOnly,
    /// A new instance of the same image (env, port).
    Restart,
    /// A new build (branch, commit, language).
    Rebuild,
}

impl AppUpdate {
    /// `app` with the change applied; a scaling change out of `bounds` is refused.
    pub fn apply(
        &self,
        app: &Application,
        bounds: super::ScalingBounds,
    ) -> Result<Application, super::ValidationError> {
        let mut next = app.clone();
        if let Some(name) = &self.name {
            next.name = name.clone();
        }
        if let Some(v) = self.visibility {
            next.visibility = v;
        }
        if let Some(h) = self.https_only {
            next.https_only = h;
        }
        if let Some(a) = self.auto_deploy {
            next.auto_deploy = a;
        }
        if let Some(change) = self.scaling {
            next.scaling = app.scaling.with(change, bounds)?;
        }
        if let Some(change) = &self.health {
            next.health = app.health.with(change)?;
        }
        if let Some(port) = self.port {
            next.port = port;
        }
        if let Some(env) = &self.env {
            next.env = env.clone();
        }
        if let Some(change) = &self.env_change {
            next.env = next.env.with(change)?;
        }
        if let Some(branch) = &self.branch {
            next.source.branch = branch.clone();
        }
        if let Some(commit) = &self.commit {
            next.source.commit = commit.clone();
        }
        if let Some(language) = self.language {
            next.language = Some(language);
        }
        Ok(next)
    }

    /// What going from `before` to `after` (= `self.apply(before)`) needs.
    pub fn effect(before: &Application, after: &Application) -> UpdateEffect {
        if before.source != after.source || before.language != after.language {
            UpdateEffect::Rebuild
        } else if before.port != after.port || before.env != after.env {
            UpdateEffect::Restart
        } else {
            UpdateEffect::DataOnly
        }
    }
}
