//! The one `Settings` struct. Layers: defaults here, then the environment (`PORT`,
//! `DATABASE_URL`, `PAAS_*`), then command-line flags (see `main.rs`, which uses clap's `env`
//! support so a flag overrides its variable).

use std::net::SocketAddr;
use std::path::PathBuf;

/// Which backend runs apps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum RuntimeKind {
    /// Child processes of the server: nothing to install.
    #[default]
    Process,
    /// Podman containers, through the libpod API socket.
    Podman,
    /// Nomad jobs on a cluster (images built with Podman).
    Nomad,
}

/// Everything `paas serve` needs to start.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Address the API listens on. Default `127.0.0.1:8080`, or `127.0.0.1:$PORT`.
    pub listen: SocketAddr,
    /// Database, checkouts and logs. Default `./paas-data`.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`. Default: SQLite in the data dir.
    pub database_url: Option<String>,
    /// Whether users may deploy `file://` repositories (off in production).
    pub allow_local_repos: bool,
    /// Whether this process also builds (`paas serve` on one machine does).
    pub run_worker: bool,
    pub runtime: RuntimeKind,
    /// Podman's API socket (the root socket by default).
    pub podman_socket: PathBuf,
    /// Host address container ports are published on.
    pub publish_address: String,
    /// Base images of the generated Containerfiles.
    pub base_images: paas_runner::podman::BaseImages,
    /// Where built images are pushed (other machines pull them from there).
    pub registry: Option<paas_runner::podman::Registry>,
    /// The Nomad cluster, with `runtime: Nomad`.
    pub nomad: paas_runner::nomad::NomadSettings,
    /// Redis for cache, queue and events across processes; `None` keeps them in memory.
    pub redis_url: Option<String>,
    /// Turns the cache off (every lookup reads the database).
    pub no_cache: bool,
    /// Prefix of every Redis key, so several platforms (or test runs) share one Redis.
    pub redis_prefix: String,
    /// How long a queue message may stay unacked (its consumer silent) before another takes it.
    pub claim_after: std::time::Duration,
    /// How long a lock stays held without renewal.
    pub lock_lease: std::time::Duration,
    /// How long a task waits for a busy app.
    pub lock_wait: std::time::Duration,
    /// Crashes in a row restarted before an app is failed.
    pub crash_restarts: u32,
    /// Backoff before the first restart after a crash (doubling).
    pub crash_backoff: std::time::Duration,
    /// How long and how much of each app's log is kept.
    pub log_retention: paas_core::logs::Retention,
    /// The key secrets are sealed with (`PAAS_SECRET_KEY`); `None` uses the data dir's key file.
    pub secret_key: Option<paas_core::model::Secret>,
    /// Earlier keys, to open values sealed before a rotation (`PAAS_SECRET_KEY_PREVIOUS`).
    pub previous_secret_keys: Vec<paas_core::model::Secret>,
    /// Where local apps' checkouts go when apps run as their own users (a server run as root):
    /// outside the data dir. Default: `<data-dir>.apps` beside it.
    pub apps_dir: Option<PathBuf>,
    /// Whether local apps run in bubblewrap where it works (besides their own users).
    pub sandbox: bool,
    /// Bounds on each git operation (time, disk a clone may use).
    pub git: paas_core::git::GitLimits,
    /// What one client may hold: timeouts, connection and subscription caps, body size.
    pub limits: crate::limits::Limits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("paas-data"),
            database_url: None,
            allow_local_repos: true,
            run_worker: true,
            runtime: RuntimeKind::Process,
            podman_socket: PathBuf::from("/run/podman/podman.sock"),
            publish_address: "127.0.0.1".into(),
            base_images: paas_runner::podman::BaseImages::default(),
            registry: None,
            nomad: paas_runner::nomad::NomadSettings::new("http://127.0.0.1:4646"),
            redis_url: None,
            no_cache: false,
            redis_prefix: "paas".into(),
            claim_after: std::time::Duration::from_secs(60),
            lock_lease: std::time::Duration::from_secs(30),
            lock_wait: std::time::Duration::from_secs(10),
            crash_restarts: 5,
            crash_backoff: std::time::Duration::from_secs(1),
            log_retention: paas_core::logs::Retention::default(),
            secret_key: None,
            previous_secret_keys: Vec::new(),
            apps_dir: None,
            sandbox: true,
            git: paas_core::git::GitLimits::default(),
            limits: crate::limits::Limits::default(),
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

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| paas_core::platform::default_database_url(&self.data_dir))
    }
}
