//! `paas`: the server (`serve`), the build worker (`worker`), the effective settings
//! (`config`), the database schema (`migrate`), user management (`user`), the key of secrets
//! at rest (`secrets rotate`), and the client of a server (`login`, `apps`, `create`, `deploy`,
//! `status`, `logs`, `env`, `restart`, `rollback`, `delete`, `open`: [`paas_graphql::client`]).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::Utc;
use clap::{Parser, Subcommand};
use paas_core::model::{Secret, User, UserId};
use paas_core::store::sql::SqlStore;
use paas_core::store::{NotificationStore, UserStore};
use paas_graphql::client::{ClientCommand, ClientOptions};
use paas_graphql::config::{FlagValues, Loaded};
use paas_graphql::settings::RuntimeKind;
use paas_graphql::{Server, Settings};
use tracing_subscriber::EnvFilter;

use paas_graphql::flags::{DataFlags, ServeFlags, serve_flags};

#[derive(Parser)]
#[command(
    name = "paas",
    version,
    about = "Git repository in, running application out",
    after_help = "Settings come from defaults, then a TOML file (--config or PAAS_CONFIG), then \
                  the environment, then flags. The flag --some-key is the variable \
                  PAAS_SOME_KEY and the key some_key of the file; `paas config` prints the \
                  effective settings and where each came from.\n\n\
                  The client commands talk to a server: `paas login <server-url>` first (the \
                  token is kept in ~/.config/paas/credentials.toml, mode 0600), or give \
                  --server and --token (PAAS_SERVER, PAAS_TOKEN).\n\n\
                  Exit codes of the client commands: 0 done; 1 the API refused (its code and \
                  message on stderr) or a watched app or task ended FAILED; 2 a usage error; \
                  3 not logged in or the token was refused (UNAUTHENTICATED); 4 no such app \
                  (NOT_FOUND); 5 the server cannot be reached."
)]
struct Cli {
    /// Log as JSON lines instead of human-readable text [env: PAAS_LOG_JSON].
    #[arg(long, global = true)]
    log_json: bool,
    #[command(flatten)]
    client: ClientOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API, run the deployer and (unless --no-worker) a build worker.
    Serve {
        #[command(flatten)]
        data: DataFlags,
        #[command(flatten)]
        serve: Box<ServeFlags>,
    },
    /// Build from the queue, nothing else (run many, beside `serve --no-worker`).
    Worker {
        #[command(flatten)]
        data: DataFlags,
        #[command(flatten)]
        serve: Box<ServeFlags>,
    },
    /// Print the effective settings (as TOML, secrets hidden) and where each came from.
    Config {
        #[command(flatten)]
        data: DataFlags,
        #[command(flatten)]
        serve: Box<ServeFlags>,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataFlags,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Print the GraphQL schema (SDL) the server serves.
    Schema,
    /// Manage the key that seals secrets at rest.
    Secrets {
        #[command(subcommand)]
        command: SecretsCommand,
    },
    #[command(flatten)]
    Client(ClientCommand),
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Seal every secret again with a new key, then drop the old key. Stop the paas processes
    /// of this data dir first. With a key file, the new key is made here; with PAAS_SECRET_KEY,
    /// put the new key there and the old one in PAAS_SECRET_KEY_PREVIOUS.
    Rotate {
        #[command(flatten)]
        data: DataFlags,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user and print its API token (shown once; only its hash is stored).
    Create {
        name: String,
        /// The user is an admin: reads every user's events and gets the server's own
        /// notifications (low disk space).
        #[arg(long)]
        admin: bool,
        #[command(flatten)]
        data: DataFlags,
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

/// Reads the layers, starts logging (as configured) and reports what was not understood.
fn configure(mut flags: FlagValues, log_json: bool) -> anyhow::Result<Loaded> {
    flags.switch("log_json", log_json);
    let loaded = paas_graphql::config::load(flags)?;
    init_tracing(loaded.config.log_json);
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    Ok(loaded)
}

async fn store(settings: &Settings) -> anyhow::Result<SqlStore> {
    let keys = settings.keys()?;
    let url = settings.database_url();
    let shown = paas_graphql::config::print::redact_url(&url);
    let store = SqlStore::connect(&url, keys)
        .await
        .with_context(|| format!("cannot reach the database at {shown}"))?;
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

/// Errors end the process with one line (the causes joined), never a backtrace.
#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Client(command) = cli.command {
        return paas_graphql::client::run(cli.client, command).await;
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("paas: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let log_json = cli.log_json;
    match cli.command {
        Command::Serve { data, serve } => {
            let loaded = configure(serve_flags(data, *serve), log_json)?;
            let server = Server::build(Settings::from(&loaded.config)).await?;
            let addr = server.local_addr()?;
            // On stdout, for people and for scripts that start paas on port 0 (which may stop
            // reading it once they have what they need: a closed pipe is no reason to stop).
            let mut out = std::io::stdout();
            let _ = writeln!(
                out,
                "paas listening on http://{addr}/ (dashboard at /ui/, GraphQL playground at /graphql)"
            );
            if let Some(router) = server.router_addr() {
                let _ = writeln!(out, "paas router on http://{router}/ (apps by name)");
            }
            if let Some(metrics) = server.metrics_addr() {
                let _ = writeln!(out, "paas metrics on http://{metrics}/metrics");
            }
            let _ = out.flush();
            server.run(shutdown_signal()).await?;
        }
        Command::Worker { data, serve } => {
            let loaded = configure(serve_flags(data, *serve), log_json)?;
            let settings = Settings::from(&loaded.config);
            anyhow::ensure!(
                settings.redis_url.is_some(),
                "paas worker takes builds from Redis: set REDIS_URL (or --redis-url)"
            );
            if settings.runtime == RuntimeKind::Process {
                tracing::warn!(
                    data_dir = %settings.data_dir.display(),
                    "with local processes, apps start on the `paas serve` machine from the \
                     builds this worker makes: `paas serve` must use this worker's --data-dir \
                     (or --apps-dir), on a shared disk"
                );
            }
            paas_graphql::server::run_worker(settings, shutdown_signal()).await?;
        }
        Command::Config { data, serve } => {
            let loaded = configure(serve_flags(data, *serve), log_json)?;
            print!("{}", paas_graphql::config::print::effective(&loaded));
        }
        Command::Migrate { data } => {
            let loaded = configure(data.values(), log_json)?;
            store(&Settings::from(&loaded.config)).await?;
            println!("migrations applied");
        }
        Command::User {
            command: UserCommand::Create { name, admin, data },
        } => {
            let loaded = configure(data.values(), log_json)?;
            let name = name.trim().to_owned();
            anyhow::ensure!(
                !name.is_empty() && name.len() <= 128,
                "a user name is 1 to 128 characters"
            );
            let store = store(&Settings::from(&loaded.config)).await?;
            let token = Secret::generate_token();
            let user = User {
                id: UserId::new(),
                name,
                created_at: Utc::now(),
            };
            store.create_user(&user, &token.hash()).await?;
            if admin {
                store.set_admin(user.id, true).await?;
            }
            println!("{}", token.expose());
        }
        Command::Schema => print!("{}", paas_graphql::schema::sdl()),
        Command::Secrets {
            command: SecretsCommand::Rotate { data },
        } => {
            let loaded = configure(data.values(), log_json)?;
            paas_graphql::rotate::rotate(&Settings::from(&loaded.config)).await?;
        }
        // Run by `main` before this (they have exit codes of their own).
        Command::Client(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every key of the configuration is a flag of `serve`, `worker` and `config`, named by the
    /// one rule (`redis_prefix` ↔ `--redis-prefix`), and every such flag is a key.
    #[test]
    fn every_key_is_a_flag_and_every_flag_a_key() {
        let cli = super::Cli::command();
        let keys = paas_graphql::config::keys::ordered_keys();
        for sub in ["serve", "worker", "config"] {
            let cmd = cli.find_subcommand(sub).expect("subcommand");
            // `--log-json` is global: declared on the top command.
            let mut flags: Vec<String> = cmd
                .get_arguments()
                .chain(cli.get_arguments())
                .filter_map(|a| a.get_long())
                .filter(|l| *l != "config" && *l != "help")
                .filter(|l| !paas_graphql::client::cli::CLIENT_FLAGS.contains(l))
                .map(|l| l.replace('-', "_"))
                .collect();
            flags.sort();
            let mut want = keys.clone();
            want.sort();
            assert_eq!(flags, want, "flags of `paas {sub}`");
        }
    }
}
