//! `paas`: the server (`serve`), the database schema (`migrate`), user management (`user`) and
//! the key of secrets at rest (`secrets rotate`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use clap::{Args, Parser, Subcommand};
use paas_core::model::{Secret, User, UserId};
use paas_core::store::UserStore;
use paas_core::store::sql::SqlStore;
use paas_graphql::settings::RuntimeKind;
use paas_graphql::{Server, Settings};
use tracing_subscriber::EnvFilter;

mod edge_args;
use edge_args::EdgeArgs;

#[derive(Parser)]
#[command(
    name = "paas",
    version,
    about = "Git repository in, running application out"
)]
struct Cli {
    /// Log as JSON lines instead of human-readable text.
    #[arg(long, global = true, env = "PAAS_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives; shared by every command.
#[derive(Args, Clone)]
struct DataArgs {
    /// Directory for the SQLite database, checkouts and logs.
    #[arg(long, env = "PAAS_DATA_DIR", default_value = "paas-data")]
    data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; default: SQLite in the data dir.
    #[arg(long, env = "DATABASE_URL")]
    database_url: Option<String>,
    /// Key sealing env values and git tokens at rest (64 hex digits); default: the key file
    /// `<data-dir>/secret.key`, created 0600 on first start.
    #[arg(long, env = "PAAS_SECRET_KEY", hide_env_values = true)]
    secret_key: Option<String>,
    /// Earlier keys (comma-separated), still opened but never sealed with: for a rotation.
    #[arg(
        long,
        env = "PAAS_SECRET_KEY_PREVIOUS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    previous_secret_keys: Vec<String>,
}

/// Redis, for production: cache, queue and events shared by many processes.
#[derive(Args, Clone)]
struct RedisArgs {
    /// `redis://…`; unset keeps cache, queue and events in this process's memory.
    #[arg(long, env = "REDIS_URL")]
    redis_url: Option<String>,
    /// Prefix of every key, so several platforms share one Redis.
    #[arg(long, env = "PAAS_REDIS_PREFIX", default_value = "paas")]
    redis_prefix: String,
    /// Turn the cache off: every lookup reads the database.
    #[arg(long, env = "PAAS_NO_CACHE")]
    no_cache: bool,
    /// Seconds a queue message may stay unacked by a silent consumer before another takes it.
    #[arg(long, env = "PAAS_CLAIM_AFTER_SECS", default_value_t = 60)]
    claim_after_secs: u64,
}

impl RedisArgs {
    fn apply(self, settings: &mut Settings) {
        settings.redis_url = self.redis_url;
        settings.no_cache = self.no_cache;
        settings.redis_prefix = self.redis_prefix;
        settings.claim_after = std::time::Duration::from_secs(self.claim_after_secs.max(1));
    }
}

/// Which backend runs apps, and its settings.
#[derive(Args, Clone)]
struct RuntimeArgs {
    /// `process` (local processes, the default), `podman` or `nomad`.
    #[arg(long = "runtime", env = "PAAS_RUNTIME", value_enum, default_value_t = RuntimeKind::Process)]
    kind: RuntimeKind,
    /// Podman's API socket: a path or a `unix:///path` URL.
    #[arg(long, env = "PODMAN_SOCKET", default_value = "/run/podman/podman.sock",
          value_parser = paas_runner::podman::socket_path)]
    podman_socket: PathBuf,
    /// Host address container ports are published on (a public one in production).
    #[arg(long, env = "PAAS_PUBLISH_ADDRESS", default_value = "127.0.0.1")]
    publish_address: String,
    /// Where local apps' checkouts go when apps run as their own users (server run as root);
    /// default `<data-dir>.apps`. Every parent must be reachable by other users (o+x).
    #[arg(long, env = "PAAS_APPS_DIR")]
    apps_dir: Option<PathBuf>,
    /// Run local apps without bubblewrap, even where it works (their own users still apply).
    #[arg(long, env = "PAAS_NO_SANDBOX")]
    no_sandbox: bool,
    /// Base image of Python apps.
    #[arg(long, env = "PAAS_IMAGE_PYTHON")]
    image_python: Option<String>,
    /// Base image of Node apps.
    #[arg(long, env = "PAAS_IMAGE_NODE")]
    image_node: Option<String>,
    /// Base image serving static sites (busybox httpd).
    #[arg(long, env = "PAAS_IMAGE_STATIC")]
    image_static: Option<String>,
    /// Build image of Rust apps.
    #[arg(long, env = "PAAS_IMAGE_RUST_BUILD")]
    image_rust_build: Option<String>,
    /// Build image of Go apps.
    #[arg(long, env = "PAAS_IMAGE_GO_BUILD")]
    image_go_build: Option<String>,
    /// Run image of compiled (Rust, Go) apps.
    #[arg(long, env = "PAAS_IMAGE_NATIVE_RUN")]
    image_native_run: Option<String>,
    /// Seconds a lock stays held without renewal (how soon a dead process's locks free).
    #[arg(long, env = "PAAS_LOCK_LEASE_SECS", default_value_t = 30)]
    lock_lease_secs: u64,
    /// Seconds a task waits for a busy app before the answer is APP_BUSY.
    #[arg(long, env = "PAAS_LOCK_WAIT_SECS", default_value_t = 10)]
    lock_wait_secs: u64,
    /// Crashes in a row restarted before an app is FAILED.
    #[arg(long, env = "PAAS_CRASH_RESTARTS", default_value_t = 5)]
    crash_restarts: u32,
    /// Backoff before the first restart after a crash (doubling, up to 30 s), in milliseconds.
    #[arg(long, env = "PAAS_CRASH_BACKOFF_MS", default_value_t = 1000)]
    crash_backoff_ms: u64,
    /// Registry built images are pushed to, `host[:port]` (Nomad nodes pull from it).
    #[arg(long, env = "PAAS_REGISTRY")]
    registry: Option<String>,
    /// Verify the registry's TLS certificate (false for a plain-HTTP registry).
    #[arg(long, env = "PAAS_REGISTRY_TLS_VERIFY", default_value_t = true, action = clap::ArgAction::Set)]
    registry_tls_verify: bool,
    /// Nomad's HTTP API (with `--runtime nomad`).
    #[arg(long, env = "NOMAD_ADDR", default_value = "http://127.0.0.1:4646")]
    nomad_addr: String,
    /// Nomad ACL token.
    #[arg(long, env = "NOMAD_TOKEN", hide_env_values = true)]
    nomad_token: Option<String>,
    /// Nomad namespace of the apps' jobs.
    #[arg(long, env = "NOMAD_NAMESPACE")]
    nomad_namespace: Option<String>,
    /// Nomad region of the apps' jobs.
    #[arg(long, env = "NOMAD_REGION")]
    nomad_region: Option<String>,
    /// Nomad task driver: `podman` (nomad-driver-podman) or `docker`.
    #[arg(long, env = "PAAS_NOMAD_DRIVER", default_value = "podman")]
    nomad_driver: String,
    /// Nomad datacenters the jobs may run in, comma-separated.
    #[arg(
        long,
        env = "PAAS_NOMAD_DATACENTERS",
        value_delimiter = ',',
        default_value = "*"
    )]
    nomad_datacenters: Vec<String>,
    /// Days an app's log lines are kept.
    #[arg(long, env = "PAAS_LOG_RETENTION_DAYS", default_value_t = 7)]
    log_retention_days: u64,
    /// Megabytes of log text kept per app (the oldest lines go first).
    #[arg(long, env = "PAAS_LOG_MAX_MB", default_value_t = 64)]
    log_max_mb: u64,
    /// Megabytes of disk one clone may use (past it the build fails with REPO_TOO_LARGE).
    #[arg(long, env = "PAAS_GIT_CLONE_MAX_MB", default_value_t = 2048)]
    git_clone_max_mb: u64,
    /// Seconds one clone may take before it is stopped.
    #[arg(long, env = "PAAS_GIT_CLONE_TIMEOUT_SECS", default_value_t = 600)]
    git_clone_timeout_secs: u64,
}

impl RuntimeArgs {
    fn apply(self, settings: &mut Settings) {
        settings.runtime = self.kind;
        settings.apps_dir = self.apps_dir;
        settings.sandbox = !self.no_sandbox;
        settings.podman_socket = self.podman_socket;
        settings.publish_address = self.publish_address;
        settings.lock_lease = Duration::from_secs(self.lock_lease_secs.max(1));
        settings.lock_wait = Duration::from_secs(self.lock_wait_secs);
        settings.crash_restarts = self.crash_restarts;
        settings.crash_backoff = Duration::from_millis(self.crash_backoff_ms);
        let mut nomad = paas_runner::nomad::NomadSettings::new(self.nomad_addr);
        nomad.token = self
            .nomad_token
            .filter(|t| !t.is_empty())
            .map(paas_core::model::Secret::new);
        nomad.namespace = self.nomad_namespace.filter(|n| !n.is_empty());
        nomad.region = self.nomad_region.filter(|r| !r.is_empty());
        nomad.driver = self.nomad_driver;
        nomad.datacenters = self.nomad_datacenters;
        settings.nomad = nomad;
        settings.registry =
            self.registry
                .filter(|r| !r.is_empty())
                .map(|host| paas_runner::podman::Registry {
                    host: host.trim_end_matches('/').to_owned(),
                    tls_verify: self.registry_tls_verify,
                });
        settings.log_retention = paas_core::logs::Retention {
            max_age: Duration::from_secs(self.log_retention_days.max(1) * 24 * 3600),
            max_bytes_per_app: self.log_max_mb.max(1) * 1024 * 1024,
        };
        settings.git.max_clone_bytes = self.git_clone_max_mb.max(1) * 1024 * 1024;
        settings.git.clone_timeout = Duration::from_secs(self.git_clone_timeout_secs.max(1));
        let images = &mut settings.base_images;
        for (value, slot) in [
            (self.image_python, &mut images.python),
            (self.image_node, &mut images.node),
            (self.image_static, &mut images.static_site),
            (self.image_rust_build, &mut images.rust_build),
            (self.image_go_build, &mut images.go_build),
            (self.image_native_run, &mut images.native_run),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, run the deployer and (unless --no-worker) a build worker.
    Serve {
        #[command(flatten)]
        data: DataArgs,
        /// Address to listen on; default 127.0.0.1:$PORT, or 127.0.0.1:8080.
        #[arg(long, env = "PAAS_LISTEN")]
        listen: Option<SocketAddr>,
        /// Refuse file:// repositories (production: users must not read the server's disk).
        #[arg(long, env = "PAAS_NO_LOCAL_REPOS")]
        no_local_repos: bool,
        /// Do not build in this process (builds are left to `paas worker` processes).
        #[arg(long)]
        no_worker: bool,
        #[command(flatten)]
        runtime: Box<RuntimeArgs>,
        #[command(flatten)]
        redis: RedisArgs,
        #[command(flatten)]
        edge: EdgeArgs,
    },
    /// Build from the queue, nothing else (run many, beside `serve --no-worker`).
    Worker {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        runtime: Box<RuntimeArgs>,
        #[command(flatten)]
        redis: RedisArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the key that seals secrets at rest.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Seal every secret again with a new key, then drop the old key. Stop the paas processes
    /// of this data dir first. With a key file, the new key is made here; with PAAS_SECRET_KEY,
    /// put the new key there and the old one in PAAS_SECRET_KEY_PREVIOUS.
    Rotate {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print its API token (shown once; only its hash is stored).
    Create {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn,sea_orm_migration=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Settings of a process that runs apps: data, then runtime, then Redis.
fn runner_settings(data: DataArgs, runtime: RuntimeArgs, redis: RedisArgs) -> Settings {
    let mut settings = settings(data);
    runtime.apply(&mut settings);
    redis.apply(&mut settings);
    settings
}

fn settings(data: DataArgs) -> Settings {
    Settings {
        data_dir: data.data_dir,
        database_url: data.database_url,
        secret_key: data.secret_key.filter(|k| !k.is_empty()).map(Secret::new),
        previous_secret_keys: data
            .previous_secret_keys
            .into_iter()
            .filter(|k| !k.is_empty())
            .map(Secret::new)
            .collect(),
        ..Settings::default()
    }
}

async fn store(settings: &Settings) -> anyhow::Result<SqlStore> {
    let keys = settings.keys()?;
    let store = SqlStore::connect(&settings.database_url(), keys)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("migrating the database")?;
    Ok(store)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_json);
    match cli.command {
        Command::Serve {
            data,
            listen,
            no_local_repos,
            no_worker,
            runtime,
            redis,
            edge,
        } => {
            let mut settings = runner_settings(data, *runtime, redis);
            edge.apply(&mut settings);
            settings.allow_local_repos = !no_local_repos;
            settings.run_worker = !no_worker;
            settings.listen = match (listen, std::env::var("PORT").ok()) {
                (Some(addr), _) => addr,
                (None, Some(port)) => {
                    let port: u16 = port.parse().context("PORT is not a port number")?;
                    SocketAddr::from(([127, 0, 0, 1], port))
                }
                (None, None) => settings.listen,
            };
            let server = Server::build(settings).await?;
            let addr = server.local_addr()?;
            // On stdout, for people and for scripts that start paas on port 0.
            println!("paas listening on http://{addr}/ (GraphQL playground)");
            server.run(shutdown_signal()).await?;
        }
        Command::Worker {
            data,
            runtime,
            redis,
        } => {
            let settings = runner_settings(data, *runtime, redis);
            anyhow::ensure!(
                settings.redis_url.is_some(),
                "paas worker takes builds from Redis: set REDIS_URL (or --redis-url)"
            );
            paas_graphql::server::run_worker(settings, shutdown_signal()).await?;
        }
        Command::Migrate { data } => {
            store(&settings(data)).await?;
            println!("migrations applied");
        }
        Command::User {
            command: UserCommand::Create { name, data },
        } => {
            let name = name.trim().to_owned();
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 128,
                "a user name is 1 to 128 characters"
            );
            let store = store(&settings(data)).await?;
            let token = Secret::generate_token();
            let user = User {
                id: UserId::new(),
                name,
                created_at: Utc::now(),
            };
            store.create_user(&user, &token.hash()).await?;
            println!("{}", token.expose());
        }
        Command::Secrets {
            command: SecretsCommand::Rotate { data },
        } => paas_graphql::rotate::rotate(&settings(data)).await?,
    }
    Ok(())
}
