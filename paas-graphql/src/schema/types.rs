//! GraphQL object types. Domain values convert into these; no store entity reaches the schema,
//! and env values never leave the server (only keys are exposed).

use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, SimpleObject};
use chrono::{DateTime, Utc};
use paas_core::Platform;
use paas_core::events::StatusEvent;
use paas_core::model;

use crate::error::{GqlResult, OrGql};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::AppStatus")]
pub enum AppStatus {
    Pending,
    Building,
    Starting,
    Running,
    Failed,
    Stopped,
    /// Scaled to zero after `scaling.idleSeconds` without a request: no instance runs; the
    /// next request wakes it (`SLEEPING → STARTING → RUNNING`).
    Sleeping,
    Deleting,
}

/// What the app's user asked for, apart from what is observed (`status`).
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::Desired")]
pub enum DesiredState {
    /// Keep it running: the platform starts it again whenever its instance is gone (a crash,
    /// a restart of the server).
    Running,
    /// Stopped by a user (`stopApplication`): nothing starts it until `startApplication`.
    Stopped,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::DeploymentStatus")]
pub enum DeploymentStatus {
    Queued,
    Building,
    Built,
    Starting,
    Running,
    Failed,
    Stopped,
}

/// What started a deployment.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::DeploymentTrigger")]
pub enum DeploymentTrigger {
    /// The app's creation: its first deployment.
    Create,
    /// A user's redeploy.
    Manual,
    /// A new commit on the app's branch, seen by the platform's watch (`autoDeploy`).
    Push,
    /// A push told by the git host's webhook.
    Webhook,
    /// A `git push` to the platform's own repository of the app.
    GitPush,
    /// A user's rollback to an earlier deployment's image.
    Rollback,
    /// A change of the app's settings (env or port: same image; branch, commit or language: a
    /// new build).
    Config,
}

/// Whether a replica takes requests.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::ReplicaState")]
pub enum InstanceState {
    /// Answering; the router sends it requests.
    Running,
    /// Replaced or scaled away: no new request, removed once what is in flight finished.
    Draining,
    /// Exited while it ran: no request; the restart policy replaces it.
    Crashed,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::Language")]
pub enum Language {
    Rust,
    Go,
    Node,
    Python,
    Static,
    Containerfile,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::Protocol")]
pub enum Protocol {
    Tcp,
    Udp,
}

/// Hard limits of the app's instances.
#[derive(SimpleObject, InputObject, Clone, Copy, Default)]
#[graphql(input_name = "ResourcesInput")]
pub struct Resources {
    /// Thousandths of a CPU core, a hard quota (500 = half a core): 10–64000.
    pub cpu_millis: Option<i32>,
    /// Memory limit in MiB: 16–1048576.
    pub memory_mb: Option<i32>,
}

/// How many instances the app runs and when it sleeps.
#[derive(SimpleObject, Clone, Copy)]
pub struct Scaling {
    /// Instances kept running; 0 lets the app sleep after `idleSeconds` without requests.
    pub min_instances: i32,
    /// The most instances the autoscaler runs (up to the server's cap).
    pub max_instances: i32,
    /// Seconds without a request, open websocket or request in flight before a
    /// `minInstances: 0` app sleeps (at least 10 on a default server).
    pub idle_seconds: i32,
    /// Requests in flight per instance the autoscaler aims at.
    pub target_concurrency: i32,
}

impl From<model::Scaling> for Scaling {
    fn from(s: model::Scaling) -> Self {
        let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            min_instances: n(s.min_instances),
            max_instances: n(s.max_instances),
            idle_seconds: n(s.idle_seconds),
            target_concurrency: n(s.target_concurrency),
        }
    }
}

/// Scaling settings to set; a field left out keeps its value (on create: the default of one
/// instance that never sleeps). A `maxInstances` left out grows to `minInstances`. Checked:
/// `0 ≤ minInstances ≤ maxInstances ≤ the server's cap`, `idleSeconds ≥ 10`,
/// `targetConcurrency ≥ 1` (`INVALID_SCALING`).
#[derive(InputObject, Clone, Copy, Default)]
pub struct ScalingInput {
    pub min_instances: Option<i32>,
    pub max_instances: Option<i32>,
    pub idle_seconds: Option<i32>,
    pub target_concurrency: Option<i32>,
}

impl ScalingInput {
    pub fn change(self) -> model::ScalingChange {
        model::ScalingChange {
            min_instances: self.min_instances.map(i64::from),
            max_instances: self.max_instances.map(i64::from),
            idle_seconds: self.idle_seconds.map(i64::from),
            target_concurrency: self.target_concurrency.map(i64::from),
        }
    }
}

/// An extra port: `count` consecutive host ports from `hostPort`, the same numbers inside the
/// instance; the app reads the first one from the env var `env`.
#[derive(SimpleObject, InputObject, Clone)]
#[graphql(input_name = "PortBindingInput")]
pub struct PortBinding {
    pub env: String,
    pub host_port: i32,
    #[graphql(default = 1)]
    pub count: i32,
    #[graphql(default_with = "Protocol::Tcp")]
    pub protocol: Protocol,
}

impl PortBinding {
    /// Parses into the domain type.
    pub fn parse(&self) -> Result<model::PortBinding, model::ValidationError> {
        Ok(model::PortBinding {
            env: model::EnvKey::parse(&self.env)?,
            host_port: model::Port::parse(i64::from(self.host_port))?,
            count: u16::try_from(self.count).map_err(|_| {
                model::ValidationError::Ports(format!("count of {} must be 1 to 100", self.env))
            })?,
            protocol: self.protocol.into(),
        })
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::Visibility")]
pub enum Visibility {
    Private,
    Public,
}

/// An environment variable as the API shows it: its key only.
#[derive(SimpleObject)]
pub struct EnvVar {
    pub key: String,
}

#[derive(SimpleObject)]
pub struct Repository {
    pub url: String,
    pub branch: String,
    /// The pinned commit, if the app follows one commit rather than the branch head.
    pub commit: Option<String>,
}

/// Where an app is reached: its stable address through the router, the same across
/// redeploys, restarts and rollbacks.
#[derive(SimpleObject)]
pub struct Endpoint {
    /// `<name>.<domain>`.
    pub host: String,
    /// The router's public port.
    pub port: i32,
    /// `http://<name>.<domain>:<port>/`.
    pub url: String,
}

/// One instance (replica) of an app, at its own address (for operators; users use the
/// endpoint).
#[derive(SimpleObject)]
pub struct Instance {
    /// The runtime's id of the instance.
    pub id: String,
    pub host: String,
    pub port: i32,
    /// The deployment it runs.
    pub deployment: ID,
    pub state: InstanceState,
    /// When it first answered (it entered the route then).
    pub started_at: DateTime<Utc>,
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Deployment {
    pub id: ID,
    pub status: DeploymentStatus,
    pub commit: Option<String>,
    pub error: Option<String>,
    /// How many times the build ran (platform faults are retried, user faults never).
    pub build_attempts: i32,
    /// How many instances were started for it.
    pub start_attempts: i32,
    /// Crashes restarted by the restart policy since it last ran steadily.
    pub restarts: i32,
    /// When its current instance came up.
    pub started_at: Option<DateTime<Utc>>,
    /// The deployment whose image it runs again (a rollback, or an env or port change).
    pub origin: Option<ID>,
    /// What started it.
    pub trigger: DeploymentTrigger,
    /// The message of its commit (known once built, or when a push started it).
    pub commit_message: Option<String>,
    /// The author of its commit, `Name <email>`.
    pub commit_author: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub domain_id: model::DeploymentId,
    #[graphql(skip)]
    pub app_id: model::AppId,
}

#[ComplexObject]
impl Deployment {
    /// The end of the build log: clone, build steps, their output and errors (from the log
    /// store, whichever host built it).
    async fn build_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 200, validator(minimum = 1, maximum = 5000))] lines: i32,
    ) -> GqlResult<String> {
        let platform = ctx.data::<Platform>()?;
        let lines = u64::try_from(lines).unwrap_or(200);
        platform
            .build_output(self.app_id, self.domain_id, lines)
            .await
            .gql()
    }
}

impl From<model::Deployment> for Deployment {
    fn from(d: model::Deployment) -> Self {
        Self {
            domain_id: d.id,
            app_id: d.app_id,
            id: ID(d.id.to_string()),
            status: d.status.into(),
            commit: d.commit.map(|c| c.to_string()),
            error: d.error,
            build_attempts: d.build_attempts,
            start_attempts: d.start_attempts,
            restarts: d.restarts,
            started_at: d.started_at,
            origin: d.origin.map(|o| ID(o.to_string())),
            trigger: d.trigger.into(),
            commit_message: d.commit_message,
            commit_author: d.commit_author,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(SimpleObject)]
#[graphql(complex)]
pub struct Application {
    pub id: ID,
    pub name: String,
    pub status: AppStatus,
    /// Why the app is in its status: the error of a `FAILED` app.
    pub status_reason: Option<String>,
    /// Whether its user wants it running (`STOPPED` only after `stopApplication`).
    pub desired_state: DesiredState,
    pub language: Option<Language>,
    pub port: Option<i32>,
    pub env: Vec<EnvVar>,
    pub resources: Resources,
    pub port_bindings: Vec<PortBinding>,
    pub repository: Repository,
    pub visibility: Visibility,
    /// The router answers plain-HTTP requests with a redirect to HTTPS (where it serves HTTPS).
    pub https_only: bool,
    /// Each new commit on its branch is deployed (the branch is watched).
    pub auto_deploy: bool,
    /// How many instances it runs and when it sleeps.
    pub scaling: Scaling,
    /// How its instances are checked before they are routed and while they run.
    pub health_check: super::health::HealthCheck,
    /// Bumped on every change; pass it back to update without losing another change.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    pub domain: model::Application,
}

/// What the app's instance uses now.
#[derive(SimpleObject)]
pub struct Stats {
    /// Percent of one CPU core, as the runtime reports it.
    pub cpu_percent: f64,
    /// CPU time used since the instance started (nanoseconds; two samples give the use over an
    /// interval). A string, since it outgrows GraphQL's 32-bit Int.
    pub cpu_total_nanos: String,
    pub memory_bytes: String,
    pub memory_limit_bytes: Option<String>,
}

#[ComplexObject]
impl Application {
    /// The app's stable address, known from its creation: the router answers there (503 with
    /// the status while nothing of it runs).
    async fn endpoint(&self, ctx: &Context<'_>) -> GqlResult<Endpoint> {
        let router = &ctx.data::<Platform>()?.config().router;
        let name = &self.domain.name;
        Ok(Endpoint {
            host: format!("{name}.{}", router.domain),
            port: i32::from(router.url_port.unwrap_or(match router.url_scheme.as_str() {
                "https" => 443,
                _ => 80,
            })),
            url: router.app_url(name),
        })
    }

    /// Every replica of the app, at its own address, with its state: the `RUNNING` ones (the
    /// router balances across them) first, then those leaving (`DRAINING` after a redeploy or
    /// a scale-down, `CRASHED` until replaced); empty while nothing runs.
    async fn instances(&self, ctx: &Context<'_>) -> GqlResult<Vec<Instance>> {
        let platform = ctx.data::<Platform>()?;
        Ok(platform
            .replicas_of(&self.domain)
            .await
            .gql()?
            .into_iter()
            .map(|l| Instance {
                id: l.replica.id,
                host: l.replica.endpoint.host,
                port: i32::from(l.replica.endpoint.port),
                deployment: ID(l.deployment.to_string()),
                state: l.replica.state.into(),
                started_at: l.replica.started_at,
            })
            .collect())
    }

    /// CPU and memory use of the live instance (Podman); null where the runtime does not
    /// measure it or nothing runs.
    async fn stats(&self, ctx: &Context<'_>) -> GqlResult<Option<Stats>> {
        let platform = ctx.data::<Platform>()?;
        Ok(platform.stats(&self.domain).await.gql()?.map(|s| Stats {
            cpu_percent: s.cpu_percent,
            cpu_total_nanos: s.cpu_total_ns.to_string(),
            memory_bytes: s.memory_bytes.to_string(),
            memory_limit_bytes: s.memory_limit_bytes.map(|b| b.to_string()),
        }))
    }

    /// What the platform did and does to this app (deploys, restarts, updates, rollbacks),
    /// newest first.
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20, validator(minimum = 1, maximum = 200))] limit: i32,
    ) -> GqlResult<Vec<super::lifecycle::Task>> {
        let platform = ctx.data::<Platform>()?;
        let limit = u64::try_from(limit).unwrap_or(20);
        Ok(platform
            .tasks_of(&self.domain, limit)
            .await
            .gql()?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Where a git host sends this app's pushes (`createWebhook`), without its secret.
    async fn webhook(&self, ctx: &Context<'_>) -> GqlResult<Option<super::hooks::Webhook>> {
        super::hooks::of(ctx, self.domain.id).await
    }

    /// Custom domains routed to this app besides its own name (`addDomain`), sorted.
    async fn domains(&self, ctx: &Context<'_>) -> GqlResult<Vec<String>> {
        let platform = ctx.data::<Platform>()?;
        let domains = platform.domains_of(&self.domain).await.gql()?;
        Ok(domains.into_iter().map(String::from).collect())
    }

    /// What the router counted for this app over the last `windowSeconds` (at most 300): in
    /// this server's router, kept in memory.
    async fn traffic(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 300, validator(minimum = 1, maximum = 300))] window_seconds: i32,
    ) -> super::traffic::Traffic {
        super::traffic::Traffic::of(ctx, self.domain.id, window_seconds)
    }

    /// Deployments of this app, newest first.
    async fn deployments(&self, ctx: &Context<'_>) -> GqlResult<Vec<Deployment>> {
        let platform = ctx.data::<Platform>()?;
        Ok(platform
            .deployments_of(&self.domain)
            .await
            .gql()?
            .into_iter()
            .map(Deployment::from)
            .collect())
    }
}

impl From<model::Application> for Application {
    fn from(a: model::Application) -> Self {
        Self {
            id: ID(a.id.to_string()),
            name: a.name.to_string(),
            status: a.status.into(),
            status_reason: a.status_reason.clone(),
            desired_state: a.desired.into(),
            language: a.language.map(Into::into),
            port: a.port.map(|p| i32::from(p.get())),
            env: a
                .env
                .keys()
                .map(|k| EnvVar { key: k.to_string() })
                .collect(),
            resources: Resources {
                cpu_millis: a.resources.cpu_millis.and_then(|c| i32::try_from(c).ok()),
                memory_mb: a.resources.memory_mb.and_then(|c| i32::try_from(c).ok()),
            },
            port_bindings: a
                .port_bindings
                .iter()
                .map(|b| PortBinding {
                    env: b.env.to_string(),
                    host_port: i32::from(b.host_port.get()),
                    count: i32::from(b.count),
                    protocol: b.protocol.into(),
                })
                .collect(),
            repository: Repository {
                url: a.source.url.to_string(),
                branch: a.source.branch.to_string(),
                commit: a.source.commit.as_ref().map(ToString::to_string),
            },
            visibility: a.visibility.into(),
            https_only: a.https_only,
            auto_deploy: a.auto_deploy,
            scaling: a.scaling.into(),
            health_check: a.health.clone().into(),
            version: a.version,
            created_at: a.created_at,
            updated_at: a.updated_at,
            domain: a,
        }
    }
}

/// What `repository(url, branch)` found.
#[derive(SimpleObject)]
pub struct RepositoryCheck {
    pub exists: bool,
    pub branch_exists: bool,
    pub default_branch: Option<String>,
    /// The language a build would detect from the branch's top-level files (null when none
    /// is recognised or the branch does not exist). Read only when asked for: it fetches the
    /// branch head's file names.
    pub language: Option<Language>,
}

/// One status change, as the subscription streams it.
#[derive(SimpleObject)]
pub struct StatusChange {
    pub application_id: ID,
    pub status: AppStatus,
    /// The app's version after the change: increasing (other changes to the app also bump it).
    pub version: i64,
    pub deployment_id: Option<ID>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<StatusEvent> for StatusChange {
    fn from(e: StatusEvent) -> Self {
        Self {
            application_id: ID(e.app_id.to_string()),
            status: e.status.into(),
            version: e.version,
            deployment_id: e.deployment.map(|d| ID(d.to_string())),
            reason: e.reason,
            at: e.at,
        }
    }
}

#[derive(SimpleObject)]
pub struct Viewer {
    pub id: ID,
    pub name: String,
}

#[derive(InputObject)]
pub struct RepositoryInput {
    pub url: String,
    /// Default: the repository's default branch.
    pub branch: Option<String>,
}

#[derive(InputObject)]
pub struct EnvVarInput {
    pub key: String,
    pub value: String,
}

#[derive(InputObject)]
pub struct CreateApplicationInput {
    /// A DNS label: 1–63 of `a-z`, `0-9` and `-`.
    pub name: String,
    pub repository: RepositoryInput,
    /// Default: detected from the repository's files.
    pub language: Option<Language>,
    /// The port the app listens on. Default: the platform picks one and passes it in `$PORT`.
    pub port: Option<i32>,
    pub env: Option<Vec<EnvVarInput>>,
    pub resources: Option<Resources>,
    /// Extra ports the app needs, each seen by the app as an env var.
    pub ports: Option<Vec<PortBinding>>,
    /// Redirect plain-HTTP requests to HTTPS (default false).
    pub https_only: Option<bool>,
    /// Deploy each new commit on the branch (default false). Not with a pinned commit.
    pub auto_deploy: Option<bool>,
    /// Default: one instance that never sleeps.
    pub scaling: Option<ScalingInput>,
    /// Default: a TCP connect to the app's port.
    pub health_check: Option<super::health::HealthCheckInput>,
}

#[derive(SimpleObject)]
pub struct CreateApplicationPayload {
    pub application: Application,
}
