//! The command-line flags. Each is a key of the configuration (`--redis-prefix` is the key
//! `redis_prefix` and the variable `PAAS_REDIS_PREFIX`), optional and without a default here:
//! defaults live in `paas_graphql::config::Config::default()`, and a flag given overrides the
//! file and the environment. Switches (`--no-cache`) can only turn their setting on.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::FlagValues;
use crate::settings::RuntimeKind;
use clap::Args;

/// The file and the data: every command takes these.
#[derive(Args, Clone)]
pub struct DataFlags {
    /// A TOML file of settings (see examples/paas.toml) [env: PAAS_CONFIG].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for the SQLite database, checkouts and logs.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data dir [env: DATABASE_URL].
    #[arg(long)]
    database_url: Option<String>,
    /// Key sealing env values and git tokens at rest (64 hex digits); default: the key file
    /// `<data-dir>/secret.key`, created 0600 on first start.
    #[arg(long)]
    secret_key: Option<String>,
    /// Earlier keys (comma-separated), still opened but never sealed with: for a rotation.
    #[arg(long, alias = "previous-secret-keys", value_delimiter = ',')]
    secret_key_previous: Option<Vec<String>>,
}

impl DataFlags {
    pub fn values(self) -> FlagValues {
        let mut v = FlagValues {
            config: self.config,
            ..FlagValues::default()
        };
        v.put("data_dir", self.data_dir);
        v.put("database_url", self.database_url);
        v.put("secret_key", self.secret_key);
        v.put("secret_key_previous", self.secret_key_previous);
        v
    }
}

/// Everything else `serve`, `worker` and `config` take.
#[derive(Args, Clone)]
pub struct ServeFlags {
    /// Address to listen on; default 127.0.0.1:$PORT, or 127.0.0.1:8080.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Refuse file:// repositories (production: users must not read the server's disk).
    #[arg(long)]
    no_local_repos: bool,
    /// Do not build in this process (builds are left to `paas worker` processes).
    #[arg(long)]
    no_worker: bool,
    /// Address the router listens on: apps answer there by name (default 127.0.0.1:8000).
    #[arg(long)]
    router_listen: Option<SocketAddr>,
    /// No router in this process (another front, e.g. Traefik, reads `GET /routes`).
    #[arg(long)]
    no_router: bool,
    /// Apps answer at `<name>.<domain>` (default `localhost`: no DNS needed in a browser).
    #[arg(long)]
    domain: Option<String>,
    /// Port in the apps' URLs when a balancer in front publishes the router on another one.
    #[arg(long)]
    router_public_port: Option<u16>,
    /// Milliseconds a replaced instance may finish requests and websockets in flight.
    #[arg(long)]
    drain_timeout_ms: Option<u64>,
    /// The most instances one app may ask for (`scaling.maxInstances`).
    #[arg(long)]
    scaling_max_instances: Option<u32>,
    /// The shortest `scaling.idleSeconds` an app may ask for.
    #[arg(long)]
    scaling_min_idle_seconds: Option<u32>,
    /// Milliseconds between a router's load reports and the scaler's looks.
    #[arg(long)]
    scale_every_ms: Option<u64>,
    /// Requests held per sleeping app while it wakes; more get 503 with Retry-After.
    #[arg(long)]
    wake_queue: Option<usize>,
    /// Milliseconds a held request waits for its app to wake before a 503.
    #[arg(long)]
    wake_timeout_ms: Option<u64>,
    /// Milliseconds the load must stay above the target before an instance is added.
    #[arg(long)]
    scale_up_after_ms: Option<u64>,
    /// Milliseconds the load must stay well below the target before one is removed.
    #[arg(long)]
    scale_down_after_ms: Option<u64>,
    /// Milliseconds after a change of the instance count before the next removal.
    #[arg(long)]
    scale_cooldown_ms: Option<u64>,
    /// Milliseconds a router client may take to send a request's head (slowloris).
    #[arg(long)]
    router_header_timeout_ms: Option<u64>,
    /// Milliseconds a router connection may stay open with nothing moving (not websockets).
    #[arg(long)]
    router_idle_timeout_ms: Option<u64>,
    /// Megabytes of a request body through the router; more is answered 413.
    #[arg(long)]
    router_max_body_mb: Option<u64>,
    /// Access lines in the apps' logs (ROUTER stream): `off`, `all` or a sample rate (0.1).
    #[arg(long)]
    router_access_log: Option<String>,
    /// Address the router serves HTTPS on (with --tls-cert and --tls-key, or --tls-cert-dir).
    #[arg(long)]
    router_tls_listen: Option<String>,
    /// Default certificate chain of the HTTPS listener (PEM; a wildcard `*.<domain>` usually).
    #[arg(long)]
    tls_cert: Option<PathBuf>,
    /// Private key of --tls-cert (PEM).
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// Directory of per-domain certificates picked by SNI (`<domain>.crt` + `<domain>.key`, or
    /// `.pem`); read at start and on SIGHUP.
    #[arg(long)]
    tls_cert_dir: Option<PathBuf>,
    /// Token the operator's `GET /routes` and `GET /metrics` ask for (Bearer).
    #[arg(long)]
    admin_token: Option<String>,
    /// Address `GET /metrics` is served on without a token (keep it private); unset: on the
    /// API, behind --admin-token.
    #[arg(long)]
    metrics_listen: Option<String>,
    /// Milliseconds between the router's full reads of every route (a safety net: route
    /// changes arrive on the event bus).
    #[arg(long)]
    router_resync_ms: Option<u64>,
    /// `redis://…`; unset keeps cache, queue and events in this process [env: REDIS_URL].
    #[arg(long)]
    redis_url: Option<String>,
    /// Prefix of every Redis key, so several platforms share one Redis.
    #[arg(long)]
    redis_prefix: Option<String>,
    /// Turn the cache off: every lookup reads the database.
    #[arg(long)]
    no_cache: bool,
    /// Seconds a queue message may stay unacked by a silent consumer before another takes it.
    #[arg(long)]
    claim_after_secs: Option<u64>,
    /// Which backend runs apps: local processes (the default), Podman or Nomad.
    #[arg(long, value_enum)]
    runtime: Option<RuntimeKind>,
    /// Where local apps' checkouts go when apps run as their own users (server run as root);
    /// default `<data-dir>.apps`. Every parent must be reachable by other users (o+x).
    #[arg(long)]
    apps_dir: Option<PathBuf>,
    /// Run local apps without bubblewrap, even where it works (their own users still apply).
    #[arg(long)]
    no_sandbox: bool,
    /// Podman's API socket: a path or a `unix:///path` URL [env: PODMAN_SOCKET].
    #[arg(long)]
    podman_socket: Option<String>,
    /// Host address container ports are published on (a public one in production).
    #[arg(long)]
    publish_address: Option<String>,
    /// Host ports container ports are published on, first-last (outside the kernel's
    /// ephemeral range).
    #[arg(long)]
    publish_ports: Option<String>,
    /// Base image of Python apps.
    #[arg(long)]
    image_python: Option<String>,
    /// Base image of Node apps.
    #[arg(long)]
    image_node: Option<String>,
    /// Base image serving static sites (busybox httpd).
    #[arg(long)]
    image_static: Option<String>,
    /// Build image of Rust apps.
    #[arg(long)]
    image_rust_build: Option<String>,
    /// Build image of Go apps.
    #[arg(long)]
    image_go_build: Option<String>,
    /// Run image of compiled (Rust, Go) apps.
    #[arg(long)]
    image_native_run: Option<String>,
    /// Registry built images are pushed to, `host[:port]` (Nomad nodes pull from it).
    #[arg(long)]
    registry: Option<String>,
    /// Verify the registry's TLS certificate (false for a plain-HTTP registry).
    #[arg(long, action = clap::ArgAction::Set)]
    registry_tls_verify: Option<bool>,
    /// Nomad's HTTP API, with `--runtime nomad` [env: NOMAD_ADDR].
    #[arg(long)]
    nomad_addr: Option<String>,
    /// Nomad ACL token [env: NOMAD_TOKEN].
    #[arg(long)]
    nomad_token: Option<String>,
    /// Nomad namespace of the apps' jobs [env: NOMAD_NAMESPACE].
    #[arg(long)]
    nomad_namespace: Option<String>,
    /// Nomad region of the apps' jobs [env: NOMAD_REGION].
    #[arg(long)]
    nomad_region: Option<String>,
    /// Nomad task driver: `podman` (nomad-driver-podman) or `docker`.
    #[arg(long)]
    nomad_driver: Option<String>,
    /// Nomad datacenters the jobs may run in, comma-separated.
    #[arg(long, value_delimiter = ',')]
    nomad_datacenters: Option<Vec<String>>,
    /// Seconds a lock stays held without renewal (how soon a dead process's locks free).
    #[arg(long)]
    lock_lease_secs: Option<u64>,
    /// Seconds a task waits for a busy app before the answer is APP_BUSY.
    #[arg(long)]
    lock_wait_secs: Option<u64>,
    /// Crashes in a row restarted before an app is FAILED.
    #[arg(long)]
    crash_restarts: Option<u32>,
    /// Backoff before the first restart after a crash (doubling), in milliseconds.
    #[arg(long)]
    crash_backoff_ms: Option<u64>,
    /// Days an app's log lines are kept.
    #[arg(long)]
    log_retention_days: Option<u64>,
    /// Megabytes of log text kept per app (the oldest lines go first).
    #[arg(long)]
    log_max_mb: Option<u64>,
    /// Days the event log keeps an event.
    #[arg(long)]
    event_retention_days: Option<u64>,
    /// Below this percentage of free space on the data directory's disk, admins are notified
    /// (checked every minute; 0 turns it off).
    #[arg(long)]
    disk_low_percent: Option<u8>,
    /// Megabytes of disk one clone may use (past it the build fails with REPO_TOO_LARGE).
    #[arg(long)]
    git_clone_max_mb: Option<u64>,
    /// Seconds one clone may take before it is stopped.
    #[arg(long)]
    git_clone_timeout_secs: Option<u64>,
    /// Milliseconds between polls of a branch followed by apps with `autoDeploy` (one poll per
    /// repository and branch, with jitter and backoff).
    #[arg(long)]
    git_poll_interval_ms: Option<u64>,
    /// GitHub's API for git host tokens stored without a URL (GitHub Enterprise:
    /// `https://HOST/api/v3`).
    #[arg(long)]
    github_api_url: Option<String>,
    /// A `git push` to a name no app has creates the app, owned by the pusher.
    #[arg(long, action = clap::ArgAction::Set)]
    git_push_creates_apps: Option<bool>,
    /// Megabytes one `git push` may send (past it: 413).
    #[arg(long)]
    git_push_max_mb: Option<u64>,
    /// SMTP server urgent notifications are mailed through: `smtps://user:pass@host:465`
    /// (implicit TLS), `smtp://user:pass@host:587` (STARTTLS required),
    /// `smtp://host:25?tls=opportunistic` or `smtp://host:25?tls=none` (plain, local relays).
    /// Unset: no mail is sent.
    #[arg(long)]
    smtp_url: Option<String>,
    /// The sender of notification mails (`paas@example.com` or `Paas <paas@example.com>`).
    #[arg(long)]
    mail_from: Option<String>,
    /// The dashboard's address as users reach it (`https://paas.example.com`), for links in
    /// mails and webhooks; unset: `http://<listen>`.
    #[arg(long)]
    public_url: Option<String>,
    /// Milliseconds a client may take to send a request's head once it started it.
    #[arg(long)]
    header_timeout_ms: Option<u64>,
    /// Milliseconds a connection may stay open with no request in flight and no byte moving.
    #[arg(long)]
    idle_timeout_ms: Option<u64>,
    /// Connections open at once (websockets included); more are answered 503 and closed.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Milliseconds a websocket may stay open before its connection_init (closed with 4408).
    #[arg(long)]
    ws_init_timeout_ms: Option<u64>,
    /// Subscriptions running at once on one websocket.
    #[arg(long)]
    max_subscriptions_per_connection: Option<usize>,
    /// Subscriptions running at once for one user.
    #[arg(long)]
    max_subscriptions_per_user: Option<usize>,
    /// Bytes of a request body or websocket message; more is answered 413.
    #[arg(long)]
    max_body_bytes: Option<usize>,
}

impl ServeFlags {
    pub fn add_to(self, v: &mut FlagValues) {
        v.put("listen", self.listen);
        v.switch("no_local_repos", self.no_local_repos);
        v.switch("no_worker", self.no_worker);
        v.put("router_listen", self.router_listen);
        v.switch("no_router", self.no_router);
        v.put("domain", self.domain);
        v.put("router_public_port", self.router_public_port);
        v.put("drain_timeout_ms", self.drain_timeout_ms);
        v.put("scaling_max_instances", self.scaling_max_instances);
        v.put("scaling_min_idle_seconds", self.scaling_min_idle_seconds);
        v.put("scale_every_ms", self.scale_every_ms);
        v.put("wake_queue", self.wake_queue);
        v.put("wake_timeout_ms", self.wake_timeout_ms);
        v.put("scale_up_after_ms", self.scale_up_after_ms);
        v.put("scale_down_after_ms", self.scale_down_after_ms);
        v.put("scale_cooldown_ms", self.scale_cooldown_ms);
        v.put("router_header_timeout_ms", self.router_header_timeout_ms);
        v.put("router_idle_timeout_ms", self.router_idle_timeout_ms);
        v.put("router_max_body_mb", self.router_max_body_mb);
        v.put("router_access_log", self.router_access_log);
        v.put("router_tls_listen", self.router_tls_listen);
        v.put("tls_cert", self.tls_cert);
        v.put("tls_key", self.tls_key);
        v.put("tls_cert_dir", self.tls_cert_dir);
        v.put("admin_token", self.admin_token);
        v.put("metrics_listen", self.metrics_listen);
        v.put("router_resync_ms", self.router_resync_ms);
        v.put("redis_url", self.redis_url);
        v.put("redis_prefix", self.redis_prefix);
        v.switch("no_cache", self.no_cache);
        v.put("claim_after_secs", self.claim_after_secs);
        v.put("runtime", self.runtime);
        v.put("apps_dir", self.apps_dir);
        v.switch("no_sandbox", self.no_sandbox);
        v.put("podman_socket", self.podman_socket);
        v.put("publish_address", self.publish_address);
        v.put("publish_ports", self.publish_ports);
        v.put("image_python", self.image_python);
        v.put("image_node", self.image_node);
        v.put("image_static", self.image_static);
        v.put("image_rust_build", self.image_rust_build);
        v.put("image_go_build", self.image_go_build);
        v.put("image_native_run", self.image_native_run);
        v.put("registry", self.registry);
        v.put("registry_tls_verify", self.registry_tls_verify);
        v.put("nomad_addr", self.nomad_addr);
        v.put("nomad_token", self.nomad_token);
        v.put("nomad_namespace", self.nomad_namespace);
        v.put("nomad_region", self.nomad_region);
        v.put("nomad_driver", self.nomad_driver);
        v.put("nomad_datacenters", self.nomad_datacenters);
        v.put("lock_lease_secs", self.lock_lease_secs);
        v.put("lock_wait_secs", self.lock_wait_secs);
        v.put("crash_restarts", self.crash_restarts);
        v.put("crash_backoff_ms", self.crash_backoff_ms);
        v.put("log_retention_days", self.log_retention_days);
        v.put("log_max_mb", self.log_max_mb);
        v.put("event_retention_days", self.event_retention_days);
        v.put("disk_low_percent", self.disk_low_percent);
        v.put("git_clone_max_mb", self.git_clone_max_mb);
        v.put("git_clone_timeout_secs", self.git_clone_timeout_secs);
        v.put("git_poll_interval_ms", self.git_poll_interval_ms);
        v.put("github_api_url", self.github_api_url);
        v.put("git_push_creates_apps", self.git_push_creates_apps);
        v.put("git_push_max_mb", self.git_push_max_mb);
        v.put("smtp_url", self.smtp_url);
        v.put("mail_from", self.mail_from);
        v.put("public_url", self.public_url);
        v.put("header_timeout_ms", self.header_timeout_ms);
        v.put("idle_timeout_ms", self.idle_timeout_ms);
        v.put("max_connections", self.max_connections);
        v.put("ws_init_timeout_ms", self.ws_init_timeout_ms);
        v.put(
            "max_subscriptions_per_connection",
            self.max_subscriptions_per_connection,
        );
        v.put(
            "max_subscriptions_per_user",
            self.max_subscriptions_per_user,
        );
        v.put("max_body_bytes", self.max_body_bytes);
    }
}

/// The flags of `paas serve`, alone: what [`serve_settings`] parses.
#[derive(clap::Parser)]
#[command(name = "paas serve")]
struct ServeCommand {
    #[command(flatten)]
    data: DataFlags,
    #[command(flatten)]
    serve: ServeFlags,
}

/// The flags of `serve` and `worker` as configuration values.
pub fn serve_flags(data: DataFlags, serve: ServeFlags) -> FlagValues {
    let mut flags = data.values();
    serve.add_to(&mut flags);
    flags
}

/// The settings `paas serve <args>` would run with in environment `env` (and no other): the
/// same flags and layers as the binary, for a server started in-process (tests, embedders).
pub fn serve_settings(
    args: &[&str],
    env: &[(String, String)],
) -> Result<crate::Settings, crate::config::ConfigError> {
    use clap::Parser;
    let parsed =
        ServeCommand::try_parse_from(std::iter::once("paas serve").chain(args.iter().copied()))
            .map_err(|e| crate::config::ConfigError::new(e.to_string()))?;
    let loaded = crate::config::load::load_from(serve_flags(parsed.data, parsed.serve), env)?;
    Ok(crate::Settings::from(&loaded.config))
}
