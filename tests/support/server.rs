//! The real `paas` binary on a random port with a fresh data dir and database.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::Client;
use crate::db::TestDb;

/// The `paas` binary cargo built for this workspace (next to the test executable).
/// `paas serve` on ports of its own (API and router on port 0) and `data_dir`: what every test
/// that starts the binary itself begins with.
pub fn serve_command(data_dir: &std::path::Path) -> anyhow::Result<Command> {
    let mut command = Command::new(paas_bin()?);
    command
        .arg("serve")
        .args(["--listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data_dir);
    Ok(command)
}

pub fn paas_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    // target/<profile>/deps/<test> → target/<profile>/paas
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("paas"))
        .context("locating the target dir")?;
    if !bin.is_file() {
        bail!(
            "{} is missing: build it first (cargo build -p paas-graphql)",
            bin.display()
        );
    }
    Ok(bin)
}

/// A temp dir other users may pass through (not list): a server run as root keeps its data dir
/// (0700) in it, and its apps, which run as their own users, reach their checkouts in the apps
/// dir beside it (`<data>.apps`), which goes with the temp dir.
pub fn open_temp_dir() -> anyhow::Result<tempfile::TempDir> {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711))?;
    Ok(dir)
}

/// Where a server on `data_dir` checks out and builds local apps: the apps dir beside the data
/// dir when it runs as root (apps then run as their own users and must reach their checkouts),
/// else `<data-dir>/builds`.
pub fn builds_dir(data_dir: &Path) -> PathBuf {
    if nix::unistd::geteuid().is_root() {
        let mut dir = data_dir.as_os_str().to_owned();
        dir.push(".apps");
        PathBuf::from(dir)
    } else {
        data_dir.join("builds")
    }
}

/// A running `paas serve`, stopped (gracefully, so its apps stop too) on drop.
pub struct TestServer {
    child: Option<Child>,
    pub url: String,
    /// The router's address (apps by name), unless `--no-router` was given.
    pub router: Option<std::net::SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// The database, when this server owns it (dropped after the server stopped).
    _owned_db: Option<crate::TestDatabase>,
    /// The data dir, when this server owns it.
    _owned: Option<tempfile::TempDir>,
}

impl TestServer {
    /// Starts `paas serve` on `db` with extra arguments, in a data dir of its own.
    pub async fn spawn(db: TestDb, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_with_env(db, args, &[]).await
    }

    /// Starts `paas serve` on `db` with extra arguments and environment variables (settings
    /// given as `PAAS_*` variables), in a data dir of its own.
    pub async fn spawn_with_env(
        db: TestDb,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = open_temp_dir()?;
        let data_dir = dir.path().join("data");
        let database_url = db.url_in(&data_dir).await?;
        let mut server = Self::spawn_in(&data_dir, &database_url, args, env).await?;
        server._owned_db = Some(database_url);
        server._owned = Some(dir);
        Ok(server)
    }

    /// Keeps `database` until this server is dropped (for a helper that made both).
    pub fn keep_database(&mut self, database: crate::TestDatabase) {
        self._owned_db = Some(database);
    }

    /// Where this server checks out and builds ([`builds_dir`]).
    pub fn builds_dir(&self) -> PathBuf {
        builds_dir(&self.data_dir)
    }

    /// The server's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// Starts `paas serve` in a data dir and database shared with other processes.
    pub async fn spawn_in(
        data_dir: &Path,
        database_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::spawn_from(None, data_dir, database_url, args, env).await
    }

    /// Like [`TestServer::spawn_in`], run from the directory `cwd` (a relative `data_dir` is
    /// then relative to it, as an operator's default `paas-data` is).
    pub async fn spawn_from(
        cwd: Option<&Path>,
        data_dir: &Path,
        database_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = serve_command(data_dir)?;
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        let mut child = command
            .args(args)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .context("paas serve did not start within 30 s")??
            .context("paas serve exited before listening")?;
        let url = format!("http://{}", address_in(&line)?);
        // The second line names the router, unless it was turned off (`--no-router`).
        let router = if args.contains(&"--no-router") {
            None
        } else {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("paas serve did not name its router within 30 s")??
                .context("paas serve exited before naming its router")?;
            anyhow::ensure!(
                line.starts_with("paas router on "),
                "not the router: {line}"
            );
            Some(address_in(&line)?.parse()?)
        };
        // Nobody reads stdout any more: drained, so the server never blocks writing to it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        crate::sweep::started(data_dir);
        Ok(Self {
            child: Some(child),
            url,
            router,
            data_dir: cwd.map_or_else(|| data_dir.to_path_buf(), |c| c.join(data_dir)),
            database_url: database_url.to_owned(),
            _owned_db: None,
            _owned: None,
        })
    }

    /// Creates a user with `paas user create` and returns a client with its token.
    pub async fn user(&self, name: &str) -> anyhow::Result<Client> {
        let out = Command::new(paas_bin()?)
            .args(["user", "create", name, "--data-dir"])
            .arg(&self.data_dir)
            .env("DATABASE_URL", &self.database_url)
            .output()
            .await?;
        if !out.status.success() {
            bail!(
                "paas user create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let token = String::from_utf8(out.stdout)?.trim().to_owned();
        Ok(Client::new(&self.url, Some(token)).with_router(self.router))
    }

    /// A client without a token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None).with_router(self.router)
    }

    /// Whether the server process is still running (it has not exited or crashed).
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Kills the server with SIGKILL, as a crash would: nothing it runs is stopped.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().context("already stopped")?;
        child.kill().await?;
        Ok(())
    }

    /// Stops the server like Ctrl-C does and waits for it.
    pub async fn stop(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.signal(Signal::SIGINT).await
    }

    /// Stops the server like a service manager does (SIGTERM) and waits for it.
    pub async fn terminate(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        self.signal(Signal::SIGTERM).await
    }

    async fn signal(&mut self, signal: Signal) -> anyhow::Result<std::process::ExitStatus> {
        let mut child = self.child.take().context("already stopped")?;
        if let Some(pid) = child.id() {
            kill(Pid::from_raw(i32::try_from(pid)?), signal)?;
        }
        Ok(tokio::time::timeout(Duration::from_secs(30), child.wait()).await??)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(child) = self.child.as_mut()
            && let Some(pid) = child.id()
            && let Ok(pid) = i32::try_from(pid)
        {
            // Graceful, so the apps it started are stopped too; then wait briefly.
            let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
            let mut exited = false;
            for _ in 0..100 {
                if matches!(child.try_wait(), Ok(Some(_))) {
                    exited = true;
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !exited {
                let _ = child.start_kill();
            }
        }
        // Apps of a server killed earlier in the test (or that did not stop) go too.
        crate::sweep::stopped(&self.data_dir);
    }
}

impl TestServer {
    /// Counts the rows of a table straight from the database (to prove a refusal wrote nothing).
    pub async fn count_rows(&self, table: &str) -> anyhow::Result<i64> {
        crate::db::count_rows(&self.database_url, table).await
    }
}

/// The `http://host:port` in a start-up line of `paas serve`.
fn address_in(line: &str) -> anyhow::Result<String> {
    Ok(line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("no address in the start-up line {line:?}"))?
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned())
}

/// A running `paas worker`.
pub struct TestWorker {
    child: Child,
}

impl TestWorker {
    /// Starts `paas worker` on a shared data dir, database and Redis (`env` names them).
    pub fn spawn(
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::spawn_from(None, data_dir, database_url, env)
    }

    /// Like [`TestWorker::spawn`], run from the directory `cwd`.
    pub fn spawn_from(
        cwd: Option<&Path>,
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(paas_bin()?);
        if let Some(cwd) = cwd {
            command.current_dir(cwd);
        }
        Self::start(command, data_dir, database_url, env)
    }

    /// Starts `paas worker` through `command` (the binary, or a wrapper that runs it).
    fn start(
        mut command: Command,
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let child = command
            .args(["worker", "--data-dir"])
            .arg(data_dir)
            .env("DATABASE_URL", database_url)
            .env("RUST_LOG", "info,sqlx=warn")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        Ok(Self { child })
    }

    /// A worker as on another host: run in a mount namespace where `hidden` (which holds its
    /// data dir) is a fresh tmpfs, so what it builds there no other process sees. Needs bwrap.
    pub fn spawn_elsewhere(
        hidden: &Path,
        data_dir: &Path,
        database_url: &str,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new("bwrap");
        command
            .args(["--die-with-parent", "--dev-bind", "/", "/", "--tmpfs"])
            .arg(hidden)
            .arg("--")
            .arg(paas_bin()?);
        Self::start(command, data_dir, database_url, env)
    }

    /// The worker's process id (while it runs).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Whether this worker holds an app's lock (it does while it builds the app): lock holders
    /// are named `<host>:<pid>:<uuid>`.
    pub async fn holds_an_app_lock(&self, database_url: &str) -> anyhow::Result<bool> {
        use sea_orm::{ConnectionTrait, Database, Statement};
        let Some(pid) = self.pid() else {
            return Ok(false);
        };
        let db = Database::connect(database_url).await?;
        let rows = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT holder FROM locks WHERE key LIKE 'app:%' AND holder IS NOT NULL",
            ))
            .await?;
        db.close().await?;
        let mine = format!(":{pid}:");
        Ok(rows.iter().any(|r| {
            r.try_get_by_index::<String>(0)
                .is_ok_and(|holder| holder.contains(&mine))
        }))
    }

    /// Kills the worker with SIGKILL, as a crash would.
    pub async fn kill9(&mut self) -> anyhow::Result<()> {
        self.child.kill().await?;
        Ok(())
    }
}
