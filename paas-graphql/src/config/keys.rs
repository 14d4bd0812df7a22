//! [`Config`]: every setting of the `paas` binary as one flat struct, the shape of the TOML file.
//!
//! One name per setting, mapped 1:1: the TOML key `redis_prefix` is the variable
//! `PAAS_REDIS_PREFIX` and the flag `--redis-prefix` ([`env_name`], [`flag_name`]); a few
//! conventional variables are accepted too ([`ALIASES`]). Durations and sizes are whole numbers
//! whose unit ends the name (`_secs`, `_ms`, `_days`, `_mb`, `_bytes`). An empty string means
//! "not set" where a setting is optional (a TOML file cannot say "none").
//!
//! Defaults are written once: the platform's tunables come from `PlatformConfig::default()`,
//! the edge's limits from `Limits::default()`, base images from `BaseImages::default()`, Nomad's
//! job shape from `NomadSettings::new`; the rest is written here.

use std::net::SocketAddr;
use std::path::PathBuf;

use paas_core::PlatformConfig;
use serde::{Deserialize, Serialize};

use crate::limits::Limits;
use crate::router::{AccessLog, OptionalAddr, RouterSettings};
use crate::settings::RuntimeKind;

/// Podman's API socket as given (a path or a `unix:///path` URL), checked when read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PodmanSocket {
    given: String,
    path: PathBuf,
}

impl PodmanSocket {
    /// A socket given as a plain path.
    fn at(path: &str) -> Self {
        Self {
            given: path.to_owned(),
            path: PathBuf::from(path),
        }
    }

    /// The socket's path (a `unix://` URL's path).
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl TryFrom<String> for PodmanSocket {
    type Error = String;
    fn try_from(given: String) -> Result<Self, String> {
        let path = paas_runner::podman::socket_path(&given)?;
        Ok(Self { given, path })
    }
}

impl From<PodmanSocket> for String {
    fn from(s: PodmanSocket) -> Self {
        s.given
    }
}

/// Every setting. See the module doc for the naming rule and `examples/paas.toml` for each
/// key's meaning (a test keeps that file equal to these defaults).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address the API listens on (`PORT` alone gives `127.0.0.1:$PORT`).
    pub listen: SocketAddr,
    /// SQLite database, checkouts, logs and the key file.
    pub data_dir: PathBuf,
    /// Log as JSON lines.
    pub log_json: bool,
    /// Refuse `file://` repositories.
    pub no_local_repos: bool,
    /// `paas serve` builds nothing (left to `paas worker`).
    pub no_worker: bool,
    /// Address the router (apps by name) listens on.
    pub router_listen: SocketAddr,
    /// Turn the router off (another front reads `GET /routes`).
    pub no_router: bool,
    /// Apps answer at `<name>.<domain>`.
    pub domain: String,
    /// Port in the apps' URLs; 0: the router's own port.
    pub router_public_port: u16,
    /// How long a replaced instance may finish requests and websockets in flight.
    pub drain_timeout_ms: u64,
    /// Milliseconds a router client may take to send a request's head.
    pub router_header_timeout_ms: u64,
    /// Milliseconds a router connection may stay open with nothing moving.
    pub router_idle_timeout_ms: u64,
    /// Megabytes of a request body through the router.
    pub router_max_body_mb: u64,
    /// Access lines in the apps' logs: `off`, `all` or a sample rate.
    pub router_access_log: AccessLog,
    /// Address the router serves HTTPS on; empty: no HTTPS.
    pub router_tls_listen: OptionalAddr,
    /// Default certificate chain (PEM) of the HTTPS listener.
    pub tls_cert: String,
    /// Its private key (PEM).
    pub tls_key: String,
    /// Per-domain certificates picked by SNI: `<domain>.crt` and `<domain>.key` (or `.pem`).
    pub tls_cert_dir: String,
    /// Token of the operator's `GET /routes` and `GET /metrics`; empty: they refuse everyone.
    pub admin_token: String,
    /// Address `GET /metrics` is served on, without a token; empty: on the API, behind the
    /// admin token.
    pub metrics_listen: OptionalAddr,
    /// How often the router reads every route again, whatever the event bus said.
    pub router_resync_ms: u64,
    /// The most instances one app may ask for (`scaling.maxInstances`).
    pub scaling_max_instances: u32,
    /// The shortest `scaling.idleSeconds` an app may ask for.
    pub scaling_min_idle_seconds: u32,
    /// Milliseconds between a router's load reports and the scaler's looks.
    pub scale_every_ms: u64,
    /// Requests held per sleeping app while it wakes; more get 503 with Retry-After.
    pub wake_queue: usize,
    /// Milliseconds a held request waits for its app to wake before a 503.
    pub wake_timeout_ms: u64,
    /// Milliseconds the load must stay above the target before an instance is added.
    pub scale_up_after_ms: u64,
    /// Milliseconds the load must stay well below the target before one is removed.
    pub scale_down_after_ms: u64,
    /// Milliseconds after a change of the instance count before the next removal.
    pub scale_cooldown_ms: u64,
    /// `sqlite://…` or `postgres://…`; empty: SQLite in the data dir.
    pub database_url: String,
    /// Key sealing secrets at rest (64 hex digits); empty: `<data-dir>/secret.key`.
    pub secret_key: String,
    /// Earlier keys, still opened but never sealed with (a rotation).
    pub secret_key_previous: Vec<String>,
    /// `redis://…`; empty keeps cache, queue and events in this process.
    pub redis_url: String,
    /// Prefix of every Redis key.
    pub redis_prefix: String,
    /// Turn the cache off.
    pub no_cache: bool,
    /// Seconds an unacked queue message waits before another consumer takes it.
    pub claim_after_secs: u64,
    /// `process`, `podman` or `nomad`.
    pub runtime: RuntimeKind,
    /// Checkouts of apps run as their own users; empty: `<data-dir>.apps`.
    pub apps_dir: String,
    /// Run local apps without bubblewrap.
    pub no_sandbox: bool,
    /// Podman's API socket.
    pub podman_socket: PodmanSocket,
    /// Host address container ports are published on.
    pub publish_address: String,
    /// Host ports container ports are published on, `first-last`: outside the kernel's
    /// ephemeral range, where Podman's lingering NAT rules cannot catch a port bound on port 0.
    pub publish_ports: paas_runner::podman::PortRange,
    pub image_python: String,
    pub image_node: String,
    pub image_static: String,
    pub image_rust_build: String,
    pub image_go_build: String,
    pub image_native_run: String,
    /// Registry built images are pushed to, `host[:port]`; empty: none.
    pub registry: String,
    pub registry_tls_verify: bool,
    pub nomad_addr: String,
    pub nomad_token: String,
    pub nomad_namespace: String,
    pub nomad_region: String,
    pub nomad_driver: String,
    pub nomad_datacenters: Vec<String>,
    pub lock_lease_secs: u64,
    pub lock_wait_secs: u64,
    pub crash_restarts: u32,
    pub crash_backoff_ms: u64,
    pub log_retention_days: u64,
    pub log_max_mb: u64,
    /// Days the event log keeps an event.
    pub event_retention_days: u64,
    /// Below this percentage of free space on the data directory's disk, admins are notified.
    pub disk_low_percent: u8,
    pub git_clone_max_mb: u64,
    pub git_clone_timeout_secs: u64,
    /// Milliseconds between polls of a branch followed by apps with `autoDeploy`.
    pub git_poll_interval_ms: u64,
    /// GitHub's API for tokens stored without a URL (GitHub Enterprise: `https://HOST/api/v3`).
    pub github_api_url: String,
    /// A `git push` to a name no app has creates the app, owned by the pusher.
    pub git_push_creates_apps: bool,
    /// Bytes one `git push` may send.
    pub git_push_max_mb: u64,
    /// SMTP server urgent notifications are mailed through; empty: no mail is sent.
    pub smtp_url: String,
    /// The sender of those mails.
    pub mail_from: String,
    /// The dashboard's address as users reach it, for links in mails and webhooks; empty:
    /// `http://<listen>`.
    pub public_url: String,
    pub header_timeout_ms: u64,
    pub idle_timeout_ms: u64,
    pub max_connections: usize,
    pub ws_init_timeout_ms: u64,
    pub max_subscriptions_per_connection: usize,
    pub max_subscriptions_per_user: usize,
    pub max_body_bytes: usize,
}

const MB: u64 = 1024 * 1024;
const DAY_SECS: u64 = 24 * 3600;

impl Default for Config {
    fn default() -> Self {
        let platform = PlatformConfig::default();
        let limits = Limits::default();
        let images = paas_runner::podman::BaseImages::default();
        let router = RouterSettings::default();
        let nomad = paas_runner::nomad::NomadSettings::new("http://127.0.0.1:4646");
        let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: platform.data_dir.clone(),
            log_json: false,
            no_local_repos: !platform.source_policy.allow_local,
            no_worker: false,
            router_listen: SocketAddr::from(([127, 0, 0, 1], 8000)),
            no_router: false,
            domain: platform.router.domain.clone(),
            router_public_port: 0,
            drain_timeout_ms: ms(platform.drain),
            router_header_timeout_ms: ms(router.header_timeout),
            router_idle_timeout_ms: ms(router.idle_timeout),
            router_max_body_mb: router.max_body_bytes / MB,
            router_access_log: router.access_log,
            router_tls_listen: OptionalAddr(router.tls_listen),
            tls_cert: String::new(),
            tls_key: String::new(),
            tls_cert_dir: String::new(),
            admin_token: String::new(),
            metrics_listen: OptionalAddr(None),
            router_resync_ms: ms(platform.router.resync_every),
            scaling_max_instances: platform.scaler.bounds.max_instances,
            scaling_min_idle_seconds: platform.scaler.bounds.min_idle_seconds,
            scale_every_ms: ms(platform.scaler.every),
            wake_queue: platform.scaler.wake_queue,
            wake_timeout_ms: ms(platform.scaler.wake_timeout),
            scale_up_after_ms: ms(platform.scaler.up_after),
            scale_down_after_ms: ms(platform.scaler.down_after),
            scale_cooldown_ms: ms(platform.scaler.cooldown),
            database_url: String::new(),
            secret_key: String::new(),
            secret_key_previous: Vec::new(),
            redis_url: String::new(),
            redis_prefix: "paas".into(),
            no_cache: false,
            claim_after_secs: 60,
            runtime: RuntimeKind::Process,
            apps_dir: String::new(),
            no_sandbox: false,
            // The root socket of a system Podman.
            podman_socket: PodmanSocket::at("/run/podman/podman.sock"),
            publish_address: "127.0.0.1".into(),
            publish_ports: paas_runner::podman::PortRange::default(),
            image_python: images.python,
            image_node: images.node,
            image_static: images.static_site,
            image_rust_build: images.rust_build,
            image_go_build: images.go_build,
            image_native_run: images.native_run,
            registry: String::new(),
            registry_tls_verify: true,
            nomad_addr: nomad.address,
            nomad_token: String::new(),
            nomad_namespace: String::new(),
            nomad_region: String::new(),
            nomad_driver: nomad.driver,
            nomad_datacenters: nomad.datacenters,
            lock_lease_secs: platform.lock_lease.as_secs(),
            lock_wait_secs: platform.lock_wait.as_secs(),
            crash_restarts: platform.crash_restart.max_attempts,
            crash_backoff_ms: ms(platform.crash_restart.base),
            log_retention_days: platform.log_retention.max_age.as_secs() / DAY_SECS,
            log_max_mb: platform.log_retention.max_bytes_per_app / MB,
            event_retention_days: platform.event_retention.as_secs() / DAY_SECS,
            disk_low_percent: platform.disk_low_percent,
            git_clone_max_mb: platform.git.max_clone_bytes / MB,
            git_clone_timeout_secs: platform.git.clone_timeout.as_secs(),
            git_poll_interval_ms: ms(platform.git_poll),
            github_api_url: platform.git_hosts.github_api_url.clone(),
            git_push_creates_apps: platform.git_push.creates_apps,
            git_push_max_mb: platform.git_push.max_body / MB,
            smtp_url: String::new(),
            mail_from: "paas@localhost".into(),
            public_url: String::new(),
            header_timeout_ms: ms(limits.header_timeout),
            idle_timeout_ms: ms(limits.idle_timeout),
            max_connections: limits.max_connections,
            ws_init_timeout_ms: ms(limits.ws_init_timeout),
            max_subscriptions_per_connection: limits.max_subscriptions_per_connection,
            max_subscriptions_per_user: limits.max_subscriptions_per_user,
            max_body_bytes: limits.max_body_bytes,
        }
    }
}

/// Conventional variables read besides `PAAS_<KEY>` (which wins when both are set).
pub const ALIASES: &[(&str, &str)] = &[
    ("database_url", "DATABASE_URL"),
    ("redis_url", "REDIS_URL"),
    ("podman_socket", "PODMAN_SOCKET"),
    ("nomad_addr", "NOMAD_ADDR"),
    ("nomad_token", "NOMAD_TOKEN"),
    ("nomad_namespace", "NOMAD_NAMESPACE"),
    ("nomad_region", "NOMAD_REGION"),
];

/// Keys whose value is never printed.
pub const SECRETS: &[&str] = &[
    "secret_key",
    "secret_key_previous",
    "nomad_token",
    "admin_token",
];

/// Keys holding URLs that may carry a password, printed with it masked.
pub const CREDENTIAL_URLS: &[&str] = &["database_url", "redis_url", "registry", "smtp_url"];

/// `PAAS_<KEY>`.
pub fn env_name(key: &str) -> String {
    format!("PAAS_{}", key.to_ascii_uppercase())
}

/// `--<key>` with dashes.
pub fn flag_name(key: &str) -> String {
    format!("--{}", key.replace('_', "-"))
}

/// The defaults as a TOML table: its keys are the known keys, its values' types the expected
/// ones.
pub fn defaults() -> toml::Table {
    toml::Table::try_from(Config::default()).unwrap_or_default()
}

/// The known keys in the struct's order (the order of the example file and of `paas config`).
pub fn ordered_keys() -> Vec<String> {
    toml::to_string(&Config::default())
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `examples/paas.toml` lists exactly the known keys, each with its real default, and says
    /// a word about each: it cannot drift from the code.
    #[test]
    fn the_example_file_lists_every_key_with_its_default() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/paas.toml");
        let text = std::fs::read_to_string(&path).expect("examples/paas.toml");
        let example: toml::Table = text.parse().expect("the example is TOML");
        let defaults = defaults();
        let mut listed: Vec<&String> = example.keys().collect();
        let mut known: Vec<&String> = defaults.keys().collect();
        listed.sort();
        known.sort();
        assert_eq!(listed, known, "the example's keys are not the known keys");
        for (key, value) in &defaults {
            assert_eq!(example.get(key), Some(value), "the default of `{key}`");
        }
        // Each key has a comment line just above it.
        let lines: Vec<&str> = text.lines().collect();
        let setting = |l: &&&str| !l.starts_with('#');
        for (i, line) in lines.iter().enumerate().filter(|(_, l)| setting(l)) {
            if let Some((key, _)) = line.split_once(" = ") {
                let above = i.checked_sub(1).map(|j| lines[j]).unwrap_or("");
                assert!(above.starts_with("# "), "`{key}` has no comment above it");
            }
        }
        // And in the order of the struct (the order `paas config` prints).
        let in_file: Vec<String> = lines
            .iter()
            .filter(setting)
            .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.to_owned()))
            .collect();
        assert_eq!(in_file, ordered_keys());
    }

    #[test]
    fn defaults_come_from_the_types_that_own_them() {
        let config = Config::default();
        let platform = PlatformConfig::default();
        assert_eq!(config.lock_lease_secs, platform.lock_lease.as_secs());
        assert_eq!(config.crash_restarts, platform.crash_restart.max_attempts);
        assert_eq!(config.data_dir, platform.data_dir);
        assert_eq!(
            u128::from(config.header_timeout_ms),
            Limits::default().header_timeout.as_millis()
        );
        // And they survive the way back into the platform's tunables.
        let settings = crate::Settings::default();
        let back = settings.platform_config(None);
        assert_eq!(back.crash_restart, platform.crash_restart);
        assert_eq!(back.lock_lease, platform.lock_lease);
        assert_eq!(back.lock_wait, platform.lock_wait);
        assert_eq!(back.log_retention, platform.log_retention);
        assert_eq!(back.git, platform.git);
        assert_eq!(settings.limits, Limits::default());
    }
}
