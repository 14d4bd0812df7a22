//! [`Settings`]: the configuration ([`crate::config::Config`], read in layers) in the types the
//! server uses. No default is written here: `Settings::default()` is the default configuration.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use paas_core::PlatformConfig;
use paas_core::model::Secret;

use crate::config::{Config, CredentialUrl};

/// Which backend runs apps.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RuntimeKind {
    /// Child processes of the server: nothing to install.
    #[default]
    Process,
    /// Podman containers, through the libpod API socket.
    Podman,
    /// Nomad jobs on a cluster (images built with Podman).
    Nomad,
}

/// Everything `paas serve` and `paas worker` need to start. `Debug` shows no secret and no
/// password (URLs are [`CredentialUrl`]s, keys [`Secret`]s).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Database, checkouts and logs.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; `None`: SQLite in the data dir.
    pub database_url: Option<CredentialUrl>,
    /// Whether users may deploy `file://` repositories (off in production).
    pub allow_local_repos: bool,
    /// Whether this process also builds (`paas serve` on one machine does).
    pub run_worker: bool,
    /// Where the router listens; `None`: no router in this process.
    pub router_listen: Option<SocketAddr>,
    /// Apps answer at `<name>.<domain>`.
    pub domain: String,
    /// Port in the apps' URLs; `None`: the router's own port.
    pub router_public_port: Option<u16>,
    /// How long a replaced instance may finish what it has in flight.
    pub drain_timeout: Duration,
    /// How often the router reads every route again.
    pub router_resync: Duration,
    /// Scale to zero, wake, replicas and autoscaling.
    pub scaler: paas_core::ScalerConfig,
    pub runtime: RuntimeKind,
    /// Podman's API socket.
    pub podman_socket: PathBuf,
    /// Host address container ports are published on.
    pub publish_address: String,
    /// Host ports container ports are published on.
    pub publish_ports: paas_runner::podman::PortRange,
    /// Base images of the generated Containerfiles.
    pub base_images: paas_runner::podman::BaseImages,
    /// Where built images are pushed (`host[:port]`; other machines pull them from there).
    pub registry: Option<CredentialUrl>,
    /// Whether the registry's TLS certificate is verified.
    pub registry_tls_verify: bool,
    /// The Nomad cluster, with `runtime: Nomad`.
    pub nomad: paas_runner::nomad::NomadSettings,
    /// Redis for cache, queue and events across processes; `None` keeps them in memory.
    pub redis_url: Option<CredentialUrl>,
    /// Turns the cache off (every lookup reads the database).
    pub no_cache: bool,
    /// Prefix of every Redis key, so several platforms (or test runs) share one Redis.
    pub redis_prefix: String,
    /// How long a queue message may stay unacked (its consumer silent) before another takes it.
    pub claim_after: Duration,
    /// How long a lock stays held without renewal.
    pub lock_lease: Duration,
    /// How long a task waits for a busy app.
    pub lock_wait: Duration,
    /// Crashes in a row restarted before an app is failed.
    pub crash_restarts: u32,
    /// Backoff before the first restart after a crash (doubling).
    pub crash_backoff: Duration,
    /// How long and how much of each app's log is kept.
    pub log_retention: paas_core::logs::Retention,
    /// How long the event log keeps an event.
    pub event_retention: Duration,
    /// Below this share of free space on the data directory's disk (percent), admins are
    /// notified.
    pub disk_low_percent: u8,
    /// The key secrets are sealed with; `None` uses the data dir's key file.
    pub secret_key: Option<Secret>,
    /// Earlier keys, to open values sealed before a rotation.
    pub previous_secret_keys: Vec<Secret>,
    /// Where local apps' checkouts go when apps run as their own users (a server run as root):
    /// outside the data dir. `None`: `<data-dir>.apps` beside it.
    pub apps_dir: Option<PathBuf>,
    /// Whether local apps run in bubblewrap where it works (besides their own users).
    pub sandbox: bool,
    /// Bounds on each git operation (time, disk a clone may use).
    pub git: paas_core::git::GitLimits,
    /// How often a branch followed by apps with `autoDeploy` is polled.
    pub git_poll: Duration,
    /// What `git push` to the platform may do.
    pub git_push: paas_core::flow::GitPushConfig,
    /// Where GitHub's API is, and the bounds on reading git hosts.
    pub git_hosts: paas_core::git::hosts::GitHostsConfig,
    /// What one client may hold: timeouts, connection and subscription caps, body size.
    pub limits: crate::limits::Limits,
    /// The router's timeouts, body limit, access log and TLS files.
    pub router: crate::router::RouterSettings,
    /// The token of `GET /routes` and `GET /metrics`; `None`: they refuse everyone.
    pub admin_token: Option<Secret>,
    /// The SMTP server urgent notifications are mailed through; `None`: no mail.
    pub smtp_url: Option<CredentialUrl>,
    /// The sender of those mails.
    pub mail_from: String,
    /// The dashboard's address for links in mails and webhooks; `None`: `http://<listen>`.
    pub public_url: Option<String>,
    /// Where `GET /metrics` is served without a token; `None`: on the API, behind the token.
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for Settings {
    fn default() -> Self {
        Self::from(&Config::default())
    }
}

/// A directory made absolute against the working directory once, at start: checkouts are
/// recorded by path and used by other processes (and by the sandbox, which runs elsewhere), so
/// a relative `paas-data` must mean the same directory to all of them.
fn absolute(dir: &std::path::Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_owned())
}

impl From<&Config> for Settings {
    fn from(c: &Config) -> Self {
        let platform = PlatformConfig::default();
        let mut nomad = paas_runner::nomad::NomadSettings::new(c.nomad_addr.clone());
        nomad.token = non_empty(&c.nomad_token).map(Secret::new);
        nomad.namespace = non_empty(&c.nomad_namespace);
        nomad.region = non_empty(&c.nomad_region);
        nomad.driver = c.nomad_driver.clone();
        nomad.datacenters = c.nomad_datacenters.clone();
        const MB: u64 = 1024 * 1024;
        Self {
            listen: c.listen,
            data_dir: absolute(&c.data_dir),
            database_url: CredentialUrl::new(&c.database_url),
            allow_local_repos: !c.no_local_repos,
            run_worker: !c.no_worker,
            router_listen: (!c.no_router).then_some(c.router_listen),
            domain: c.domain.trim_end_matches('.').to_ascii_lowercase(),
            router_public_port: (c.router_public_port != 0).then_some(c.router_public_port),
            drain_timeout: Duration::from_millis(c.drain_timeout_ms),
            router_resync: Duration::from_millis(c.router_resync_ms.max(1)),
            scaler: paas_core::ScalerConfig {
                bounds: paas_core::model::ScalingBounds {
                    max_instances: c.scaling_max_instances.max(1),
                    min_idle_seconds: c.scaling_min_idle_seconds,
                },
                every: Duration::from_millis(c.scale_every_ms.max(1)),
                wake_queue: c.wake_queue,
                wake_timeout: Duration::from_millis(c.wake_timeout_ms),
                up_after: Duration::from_millis(c.scale_up_after_ms),
                down_after: Duration::from_millis(c.scale_down_after_ms),
                cooldown: Duration::from_millis(c.scale_cooldown_ms),
            },
            runtime: c.runtime,
            podman_socket: c.podman_socket.path().to_path_buf(),
            publish_address: c.publish_address.clone(),
            publish_ports: c.publish_ports,
            base_images: paas_runner::podman::BaseImages {
                python: c.image_python.clone(),
                node: c.image_node.clone(),
                static_site: c.image_static.clone(),
                rust_build: c.image_rust_build.clone(),
                go_build: c.image_go_build.clone(),
                native_run: c.image_native_run.clone(),
            },
            registry: CredentialUrl::new(c.registry.trim_end_matches('/')),
            registry_tls_verify: c.registry_tls_verify,
            nomad,
            redis_url: CredentialUrl::new(&c.redis_url),
            no_cache: c.no_cache,
            redis_prefix: c.redis_prefix.clone(),
            claim_after: Duration::from_secs(c.claim_after_secs.max(1)),
            lock_lease: Duration::from_secs(c.lock_lease_secs.max(1)),
            lock_wait: Duration::from_secs(c.lock_wait_secs),
            crash_restarts: c.crash_restarts,
            crash_backoff: Duration::from_millis(c.crash_backoff_ms),
            log_retention: paas_core::logs::Retention {
                max_age: Duration::from_secs(c.log_retention_days.max(1) * 24 * 3600),
                max_bytes_per_app: c.log_max_mb.max(1) * MB,
            },
            event_retention: Duration::from_secs(c.event_retention_days.max(1) * 24 * 3600),
            disk_low_percent: c.disk_low_percent.min(100),
            secret_key: non_empty(&c.secret_key).map(Secret::new),
            previous_secret_keys: c
                .secret_key_previous
                .iter()
                .filter(|k| !k.is_empty())
                .map(|k| Secret::new(k.clone()))
                .collect(),
            apps_dir: non_empty(&c.apps_dir).map(|d| absolute(d.as_ref())),
            sandbox: !c.no_sandbox,
            git: paas_core::git::GitLimits {
                max_clone_bytes: c.git_clone_max_mb.max(1) * MB,
                clone_timeout: Duration::from_secs(c.git_clone_timeout_secs.max(1)),
                ..platform.git
            },
            git_poll: Duration::from_millis(c.git_poll_interval_ms.max(50)),
            git_push: paas_core::flow::GitPushConfig {
                creates_apps: c.git_push_creates_apps,
                max_body: c.git_push_max_mb.max(1) * MB,
            },
            git_hosts: paas_core::git::hosts::GitHostsConfig {
                github_api_url: non_empty(&c.github_api_url)
                    .unwrap_or_else(|| platform.git_hosts.github_api_url.clone()),
                ..platform.git_hosts.clone()
            },
            limits: crate::limits::Limits {
                header_timeout: Duration::from_millis(c.header_timeout_ms.max(1)),
                idle_timeout: Duration::from_millis(c.idle_timeout_ms.max(1)),
                max_connections: c.max_connections.max(1),
                ws_init_timeout: Duration::from_millis(c.ws_init_timeout_ms.max(1)),
                max_subscriptions_per_connection: c.max_subscriptions_per_connection,
                max_subscriptions_per_user: c.max_subscriptions_per_user,
                max_body_bytes: c.max_body_bytes.max(1024),
            },
            router: crate::router::RouterSettings {
                header_timeout: Duration::from_millis(c.router_header_timeout_ms.max(1)),
                idle_timeout: Duration::from_millis(c.router_idle_timeout_ms.max(1)),
                max_body_bytes: c.router_max_body_mb.max(1) * MB,
                access_log: c.router_access_log,
                tls_listen: c.router_tls_listen.0,
                tls_cert: non_empty(&c.tls_cert).map(PathBuf::from),
                tls_key: non_empty(&c.tls_key).map(PathBuf::from),
                tls_cert_dir: non_empty(&c.tls_cert_dir).map(PathBuf::from),
                ..crate::router::RouterSettings::default()
            },
            admin_token: non_empty(&c.admin_token).map(Secret::new),
            smtp_url: CredentialUrl::new(&c.smtp_url),
            mail_from: c.mail_from.clone(),
            public_url: non_empty(c.public_url.trim_end_matches('/')),
            metrics_listen: c.metrics_listen.0,
        }
    }
}

impl Settings {
    /// The apps dir in force: `apps_dir`, or `<data-dir>.apps`.
    pub fn apps_dir(&self) -> PathBuf {
        self.apps_dir.clone().unwrap_or_else(|| {
            let mut dir = self.data_dir.clone().into_os_string();
            dir.push(".apps");
            PathBuf::from(dir)
        })
    }

    /// The keys of this process ([`paas_core::secrets::Keyring::load`]); makes the data dir
    /// (0700) first, since the key file may be created there.
    pub fn keys(&self) -> Result<paas_core::secrets::Keyring, paas_core::secrets::SecretsError> {
        paas_core::secrets::files::private_dir(&self.data_dir)?;
        let previous: Vec<String> = self
            .previous_secret_keys
            .iter()
            .map(|k| k.expose().to_owned())
            .collect();
        paas_core::secrets::Keyring::load(
            &self.data_dir,
            self.secret_key.as_ref().map(|k| k.expose()),
            &previous,
        )
    }

    /// The database URL in force (with its password: only for connecting).
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose().to_owned(),
            None => paas_core::platform::default_database_url(&self.data_dir),
        }
    }

    /// The platform's tunables from these settings; the rest from `PlatformConfig::default()`.
    pub fn platform_config(&self, builds_dir: Option<PathBuf>) -> PlatformConfig {
        let defaults = PlatformConfig::default();
        let port = self
            .router_public_port
            .or(self.router_listen.map(|a| a.port()))
            .unwrap_or(80);
        PlatformConfig {
            drain: self.drain_timeout,
            scaler: self.scaler.clone(),
            router: paas_core::RouterConfig {
                domain: self.domain.clone(),
                url_port: (port != 80).then_some(port),
                resync_every: self.router_resync,
                ..defaults.router.clone()
            },
            data_dir: self.data_dir.clone(),
            builds_dir,
            run_builder: self.run_worker,
            source_policy: paas_core::model::SourcePolicy {
                allow_local: self.allow_local_repos,
            },
            lock_lease: self.lock_lease,
            lock_wait: self.lock_wait,
            crash_restart: paas_core::retry::RetryPolicy {
                base: self.crash_backoff,
                max_attempts: self.crash_restarts,
                ..defaults.crash_restart
            },
            log_retention: self.log_retention,
            event_retention: self.event_retention,
            disk_low_percent: self.disk_low_percent,
            git: self.git.clone(),
            git_poll: self.git_poll,
            git_push: self.git_push.clone(),
            git_hosts: self.git_hosts.clone(),
            ..defaults
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Settings are logged and printed with `Debug`: no password, no key, no token in it.
    #[test]
    fn debug_shows_no_secret() {
        let config = Config {
            database_url: "postgres://paas:pw-db@db/paas".into(),
            redis_url: "redis://:pw-redis@redis:6379".into(),
            registry: "bot:pw-registry@registry:5000".into(),
            secret_key: "ef".repeat(32),
            secret_key_previous: vec!["01".repeat(32)],
            nomad_token: "pw-nomad".into(),
            admin_token: "pw-admin".into(),
            smtp_url: "smtps://mailer:pw-smtp@mail.example.com:465".into(),
            ..Config::default()
        };
        let settings = Settings::from(&config);
        let debug = format!("{settings:?}");
        for secret in [
            "pw-db",
            "pw-redis",
            "pw-registry",
            "efef",
            "0101",
            "pw-nomad",
            "pw-admin",
            "pw-smtp",
        ] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
        assert!(debug.contains("postgres://paas:***@db/paas"), "{debug}");
        // The one place that connects still gets the whole URL.
        assert_eq!(settings.database_url(), "postgres://paas:pw-db@db/paas");
    }

    #[test]
    fn relative_dirs_are_made_absolute_once() {
        let config = Config {
            apps_dir: "apps".into(),
            ..Config::default()
        };
        let settings = Settings::from(&config);
        assert!(settings.data_dir.is_absolute() && settings.data_dir.ends_with("paas-data"));
        assert!(settings.apps_dir().is_absolute() && settings.apps_dir().ends_with("apps"));
    }
}
