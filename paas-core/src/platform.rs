//! [`Platform`]: the one handle that holds the chosen adapters and runs the flows. Cheap to
//! clone (an `Arc` inside), built once with [`Platform::builder`].

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::builder::ImageBuilder;
use crate::cache::Cache;
use crate::cache::memory::MemoryCache;
use crate::error::{Error, Result};
use crate::events::EventBus;
use crate::events::memory::MemoryBus;
use crate::git::cli::GitCli;
use crate::git::{GitLimits, GitProvider};
use crate::lock::Locks;
use crate::model::SourcePolicy;
use crate::queue::BuildQueue;
use crate::queue::memory::MemoryQueue;
use crate::retry::RetryPolicy;
use crate::runtime::Runtime;
use crate::store::Store;
use crate::store::sql::SqlStore;

/// Tunables of the flows, with defaults that suit one machine.
#[derive(Clone, Debug)]
pub struct PlatformConfig {
    /// Where the platform keeps its files (SQLite database, checkouts, logs).
    pub data_dir: PathBuf,
    /// Where checkouts and build logs go instead of `<data-dir>/builds`: outside the data dir
    /// when apps run as their own users and must reach their checkout but not the data dir.
    pub builds_dir: Option<PathBuf>,
    /// Whether [`Platform::run`] runs the builder here. Off when separate build workers
    /// (`paas worker`, [`crate::flow::Loops::BUILDER`]) take every build.
    pub run_builder: bool,
    /// Which repository URLs users may give.
    pub source_policy: SourcePolicy,
    /// Bounds on each git operation (time, disk, ref listing).
    pub git: GitLimits,
    /// Bounds on reading git hosts' APIs (the user's repositories).
    pub git_hosts: crate::git::hosts::GitHostsConfig,
    /// What `git push` to the platform may do.
    pub git_push: crate::flow::GitPushConfig,
    /// Retries of builds and git calls that fail by the platform's fault.
    pub build_retry: RetryPolicy,
    /// Starts of an instance before the app is failed (the design's 3 starts).
    pub start_retry: RetryPolicy,
    /// How long a started instance may take to answer on its port.
    pub start_timeout: Duration,
    /// How long a replaced instance may keep requests and websockets in flight after the route
    /// switched away from it (the drain timeout); it is removed as soon as they finish.
    pub drain: Duration,
    /// The router's names and how routers keep in step.
    pub router: RouterConfig,
    /// Scale to zero, wake on request, replicas and autoscaling.
    pub scaler: ScalerConfig,
    /// Images kept per app (newest first) for rollback; older ones are pruned.
    pub keep_images: usize,
    /// How long a lock stays held without renewal: how soon a dead holder's lock frees.
    pub lock_lease: Duration,
    /// How long a restart waits for a busy app before the answer is `APP_BUSY` (other tasks
    /// answer at once, or queue).
    pub lock_wait: Duration,
    /// How long a build or start step waits for its app's lock (held by a forced restart).
    pub step_lock_wait: Duration,
    /// Restarts of a crashed instance: attempts before the app is `FAILED`, and the backoff.
    pub crash_restart: RetryPolicy,
    /// An instance up this long has its crash count reset.
    pub steady_after: Duration,
    /// How often running instances are checked.
    pub supervise_every: Duration,
    /// How long and how much of each app's log is kept.
    pub log_retention: crate::logs::Retention,
    /// Lines a live log subscriber may have waiting before newer ones are dropped for it (and
    /// it is told so).
    pub log_buffer: usize,
    /// How often the log of an app with live followers is looked at in the store when no event
    /// says there is more: once per app, shared by all its followers in this process. Only a
    /// safety net (the bus is best effort; when it knows it dropped events, it says so and
    /// followers look at once), so it can be rare.
    pub log_poll: Duration,
    /// How often the branch of an app with `autoDeploy` is polled for new commits (one poll per
    /// repository, branch and owner, however many apps follow it).
    pub git_poll: Duration,
    /// How long the event log keeps an event.
    pub event_retention: Duration,
    /// Below this share of free space (percent) on the data directory's disk, the admins are
    /// notified (`DiskLow`); back above, it is cleared.
    pub disk_low_percent: u8,
    /// How often the data directory's free space is looked at.
    pub disk_check: Duration,
}

/// How apps are named and reached through the router ([`crate::router`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouterConfig {
    /// Apps answer at `<name>.<domain>`; `localhost` works in a browser with no DNS set up.
    pub domain: String,
    /// The scheme of the stable URLs (`https` when the router serves TLS).
    pub url_scheme: String,
    /// The port in the stable URLs; `None` for the scheme's default (80, 443).
    pub url_port: Option<u16>,
    /// How long a deployer waits for routers to report a replaced instance before it takes
    /// their silence as "nothing in flight".
    pub drain_settle: Duration,
    /// How often a router reads every route again, whatever the bus said.
    pub resync_every: Duration,
}

impl Default for RouterConfig {
    fn default() -> Self {
        Self {
            domain: "localhost".into(),
            url_scheme: "http".into(),
            url_port: Some(8000),
            drain_settle: Duration::from_millis(250),
            resync_every: Duration::from_secs(30),
        }
    }
}

/// How apps sleep, wake and scale ([`crate::model::Scaling`] is each app's wish).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScalerConfig {
    /// What an app's scaling settings may ask for.
    pub bounds: crate::model::ScalingBounds,
    /// How often each router reports its load per app, and the scaler looks at every app.
    pub every: Duration,
    /// Requests a router holds per sleeping app while it wakes; more get 503 with
    /// `Retry-After`.
    pub wake_queue: usize,
    /// How long a held request waits for its app to wake before a 503 with `Retry-After`.
    pub wake_timeout: Duration,
    /// How long the load per instance must stay above the target before an instance is added.
    pub up_after: Duration,
    /// How long it must stay well below (under half the target for the instances left) before
    /// one is removed.
    pub down_after: Duration,
    /// After any change of the instance count, how long before the next removal.
    pub cooldown: Duration,
}

impl Default for ScalerConfig {
    fn default() -> Self {
        Self {
            bounds: crate::model::ScalingBounds::default(),
            every: Duration::from_secs(1),
            wake_queue: 256,
            wake_timeout: Duration::from_secs(60),
            up_after: Duration::from_secs(5),
            down_after: Duration::from_secs(30),
            cooldown: Duration::from_secs(30),
        }
    }
}

impl RouterConfig {
    /// The stable URL of an app: `http://hello.localhost:8000/`.
    pub fn app_url(&self, name: &crate::model::AppName) -> String {
        match self.url_port {
            Some(port) => format!("{}://{name}.{}:{port}/", self.url_scheme, self.domain),
            None => format!("{}://{name}.{}/", self.url_scheme, self.domain),
        }
    }
}

impl PlatformConfig {
    /// Where builds check out and build: `builds_dir`, or `<data-dir>/builds`.
    pub fn build_dir(&self) -> PathBuf {
        self.builds_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("builds"))
    }

    /// The build log file of a deployment: the builder's buffer while it runs, removed once its
    /// lines are in the log store.
    pub(crate) fn build_log(&self, deployment: crate::model::DeploymentId) -> PathBuf {
        self.build_dir().join(format!("{deployment}.build.log"))
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("paas-data"),
            builds_dir: None,
            run_builder: true,
            source_policy: SourcePolicy::default(),
            git: GitLimits::default(),
            git_hosts: crate::git::hosts::GitHostsConfig::default(),
            git_push: crate::flow::GitPushConfig::default(),
            build_retry: RetryPolicy::attempts(3),
            start_retry: RetryPolicy {
                base: Duration::from_millis(200),
                ..RetryPolicy::attempts(3)
            },
            start_timeout: Duration::from_secs(30),
            drain: Duration::from_secs(30),
            router: RouterConfig::default(),
            scaler: ScalerConfig::default(),
            keep_images: 3,
            lock_lease: Duration::from_secs(30),
            lock_wait: Duration::from_secs(10),
            step_lock_wait: Duration::from_secs(120),
            crash_restart: RetryPolicy {
                base: Duration::from_secs(1),
                max: Duration::from_secs(30),
                ..RetryPolicy::attempts(5)
            },
            steady_after: Duration::from_secs(60),
            supervise_every: Duration::from_secs(1),
            log_retention: crate::logs::Retention::default(),
            log_buffer: 4096,
            log_poll: Duration::from_secs(10),
            git_poll: Duration::from_secs(60),
            event_retention: Duration::from_secs(30 * 24 * 3600),
            disk_low_percent: 5,
            disk_check: Duration::from_secs(60),
        }
    }
}

struct Inner {
    store: Arc<dyn Store>,
    cache: Arc<dyn Cache>,
    queue: Arc<dyn BuildQueue>,
    bus: Arc<dyn EventBus>,
    git: Arc<dyn GitProvider>,
    runtime: Arc<dyn Runtime>,
    images: Arc<dyn ImageBuilder>,
    locks: Locks,
    config: PlatformConfig,
    /// Instances whose output this process follows.
    followed: std::sync::Mutex<std::collections::HashSet<String>>,
    /// Wakes the requeue loop: a push failed, what is waiting must be queued again.
    requeue: tokio::sync::Notify,
    /// One watch per followed app, shared by every log follower of it in this process.
    log_watches: crate::flow::LogWatches,
    /// Where new notifications go besides the store (email, outgoing webhooks).
    sinks: Vec<Arc<dyn crate::notify::NotificationSink>>,
    /// Runs health checks (one HTTP client for all of them).
    prober: crate::health::probe::Prober,
}

/// The platform: adapters plus flows. See [`crate::flow`].
#[derive(Clone)]
pub struct Platform {
    inner: Arc<Inner>,
}

impl Platform {
    pub fn builder() -> PlatformBuilder {
        PlatformBuilder::default()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }
    pub fn cache(&self) -> &Arc<dyn Cache> {
        &self.inner.cache
    }
    pub fn queue(&self) -> &Arc<dyn BuildQueue> {
        &self.inner.queue
    }
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.inner.bus
    }
    pub fn git(&self) -> &Arc<dyn GitProvider> {
        &self.inner.git
    }
    pub fn runtime(&self) -> &Arc<dyn Runtime> {
        &self.inner.runtime
    }
    /// The image builder: workers build with it, the platform removes images with it.
    pub fn images(&self) -> &Arc<dyn ImageBuilder> {
        &self.inner.images
    }
    pub fn config(&self) -> &PlatformConfig {
        &self.inner.config
    }
    /// The sinks new notifications are handed to.
    pub fn notification_sinks(&self) -> &[Arc<dyn crate::notify::NotificationSink>] {
        &self.inner.sinks
    }
    /// Marks an instance as followed by this process; false if it already was.
    pub(crate) fn follow_instance(&self, instance: &str) -> bool {
        let mut set = self
            .inner
            .followed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        set.insert(instance.to_owned())
    }
    pub(crate) fn unfollow_instance(&self, instance: &str) {
        let mut set = self
            .inner
            .followed
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        set.remove(instance);
    }
    /// Locks in the store, shared with every process on the same database.
    pub fn locks(&self) -> &Locks {
        &self.inner.locks
    }
    pub(crate) fn requeue_wanted(&self) -> &tokio::sync::Notify {
        &self.inner.requeue
    }
    pub(crate) fn prober(&self) -> &crate::health::probe::Prober {
        &self.inner.prober
    }

    pub(crate) fn log_watches(&self) -> &crate::flow::LogWatches {
        &self.inner.log_watches
    }
}

/// Builds a [`Platform`]; every adapter has a default but the runtime and the image builder,
/// which live in `paas-runner` (`LocalRuntime` and `LocalBuilder` are the zero-setup ones).
#[derive(Default)]
pub struct PlatformBuilder {
    database_url: Option<String>,
    store: Option<Arc<dyn Store>>,
    cache: Option<Arc<dyn Cache>>,
    queue: Option<Arc<dyn BuildQueue>>,
    bus: Option<Arc<dyn EventBus>>,
    git: Option<Arc<dyn GitProvider>>,
    runtime: Option<Arc<dyn Runtime>>,
    images: Option<Arc<dyn ImageBuilder>>,
    keys: Option<crate::secrets::Keyring>,
    sinks: Vec<Arc<dyn crate::notify::NotificationSink>>,
    config: PlatformConfig,
}

impl PlatformBuilder {
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.data_dir = dir.into();
        self
    }
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data dir.
    pub fn database_url(mut self, url: impl Into<String>) -> Self {
        self.database_url = Some(url.into());
        self
    }
    pub fn config(mut self, config: PlatformConfig) -> Self {
        self.config = config;
        self
    }
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }
    pub fn cache(mut self, cache: Arc<dyn Cache>) -> Self {
        self.cache = Some(cache);
        self
    }
    pub fn queue(mut self, queue: Arc<dyn BuildQueue>) -> Self {
        self.queue = Some(queue);
        self
    }
    pub fn bus(mut self, bus: Arc<dyn EventBus>) -> Self {
        self.bus = Some(bus);
        self
    }
    pub fn git(mut self, git: Arc<dyn GitProvider>) -> Self {
        self.git = Some(git);
        self
    }
    pub fn runtime(mut self, runtime: Arc<dyn Runtime>) -> Self {
        self.runtime = Some(runtime);
        self
    }
    pub fn images(mut self, images: Arc<dyn ImageBuilder>) -> Self {
        self.images = Some(images);
        self
    }
    /// The keys secrets are sealed with in the default store; default: the key file of the data
    /// dir (created on first start).
    pub fn keys(mut self, keys: crate::secrets::Keyring) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Adds a sink new notifications are handed to (email, outgoing webhooks).
    pub fn notification_sink(mut self, sink: Arc<dyn crate::notify::NotificationSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Connects the store (migrating it) and assembles the platform.
    pub async fn build(self) -> Result<Platform> {
        crate::metrics::install();
        let runtime = self
            .runtime
            .ok_or_else(|| Error::runtime("no runtime was given to the platform builder"))?;
        let images = self
            .images
            .ok_or_else(|| Error::runtime("no image builder was given to the platform builder"))?;
        // Repositories are read with the git client: without it nothing could be deployed.
        let git: Arc<dyn GitProvider> = match self.git {
            Some(g) => g,
            None => {
                let git = GitCli::new(self.config.git.clone(), self.config.source_policy)
                    .with_internal_repos(&self.config.data_dir.join("repos"));
                git.probe().await?;
                Arc::new(git)
            }
        };
        crate::secrets::files::private_dir(&self.config.data_dir)?;
        let store: Arc<dyn Store> = match self.store {
            Some(s) => s,
            None => {
                let url = self
                    .database_url
                    .unwrap_or_else(|| default_database_url(&self.config.data_dir));
                let keys = match self.keys {
                    Some(keys) => keys,
                    None => crate::secrets::Keyring::load(&self.config.data_dir, None, &[])?,
                };
                let store = SqlStore::connect(&url, keys).await?;
                store.migrate().await?;
                // Plain text of older versions gets sealed; a wrong key stops the start here.
                store.reseal().await?;
                Arc::new(store)
            }
        };
        let locks = Locks::new(store.clone(), self.config.lock_lease);
        Ok(Platform {
            inner: Arc::new(Inner {
                locks,
                store,
                cache: Arc::new(crate::cache::metered::Metered(
                    self.cache
                        .unwrap_or_else(|| Arc::new(MemoryCache::default())),
                )),
                queue: self
                    .queue
                    .unwrap_or_else(|| Arc::new(MemoryQueue::default())),
                bus: self.bus.unwrap_or_else(|| Arc::new(MemoryBus::default())),
                git,
                runtime,
                images,
                config: self.config,
                followed: Default::default(),
                requeue: tokio::sync::Notify::new(),
                log_watches: Default::default(),
                sinks: self.sinks,
                prober: Default::default(),
            }),
        })
    }
}

/// `sqlite://<data-dir>/paas.db?mode=rwc`
pub fn default_database_url(data_dir: &std::path::Path) -> String {
    format!("sqlite://{}/paas.db?mode=rwc", data_dir.display())
}
