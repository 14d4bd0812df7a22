//! The paas side of the router bench: a real `paas serve` (release build, SQLite) with its
//! router on a port of its own, the bench backend deployed through GraphQL as an app, and the
//! redeploys whose switching time is measured.
//!
//! Only `paas serve` flags, its start-up lines and the GraphQL API are used, so the bench does not
//! depend on how the router is built.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use paas_tests::bench::Samples;
use paas_tests::repo::{commit, file_url};
use paas_tests::server::{open_temp_dir, paas_bin};
use paas_tests::{Client, TestDatabase, TestDb, eventually};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The app's name: requests carry `Host: bench.localhost`.
pub const APP: &str = "bench";
pub const HOST: &str = "bench.localhost";

/// `paas serve` with its GraphQL and router addresses; stopped gracefully (its apps too) on drop.
pub struct Paas {
    child: Child,
    pub router: String,
    pub client: Client,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl Paas {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = open_temp_dir()?;
        let data_dir = dir.path().join("data");
        let db = TestDb::Sqlite.url_in(&data_dir).await?;
        let mut child = Command::new(paas_bin()?)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(["--router-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data_dir)
            .env("DATABASE_URL", &*db)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut address = async || -> anyhow::Result<String> {
            let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
                .await
                .context("paas serve did not start within 30 s")??
                .context("paas serve exited before listening")?;
            line.split_whitespace()
                .find_map(|w| w.strip_prefix("http://"))
                .map(|a| a.trim_end_matches('/').to_owned())
                .with_context(|| format!("no address in {line:?}"))
        };
        let api = address().await?;
        let router = address().await?;
        // The rest of its stdout is read (and dropped) so the server never writes to a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let out = Command::new(paas_bin()?)
            .args(["user", "create", "bench", "--data-dir"])
            .arg(&data_dir)
            .env("DATABASE_URL", &*db)
            .output()
            .await?;
        if !out.status.success() {
            bail!("paas user create: {}", String::from_utf8_lossy(&out.stderr));
        }
        let token = String::from_utf8(out.stdout)?.trim().to_owned();
        Ok(Self {
            child,
            router,
            client: Client::new(&format!("http://{api}"), Some(token)),
            _db: db,
            _dir: dir,
        })
    }

    /// Deploys the bench backend (its binary committed to a repository with a Procfile) with
    /// version 0; returns the app id once the router answers for it.
    pub async fn deploy_backend(&self, repo: &tempfile::TempDir) -> anyhow::Result<String> {
        let created = self
            .client
            .data(
                "mutation($input: CreateApplicationInput!) {
                   createApplication(input: $input) { application { id } } }",
                json!({ "input": { "name": APP, "repository": { "url": file_url(repo.path()) } } }),
            )
            .await?;
        let id = created["createApplication"]["application"]["id"]
            .as_str()
            .context("no app id")?
            .to_owned();
        let http = reqwest::Client::new();
        eventually(Duration::from_secs(120), || async {
            let d = self
                .client
                .data(
                    "query($id: ID!) { application(id: $id) { status statusReason } }",
                    json!({ "id": id }),
                )
                .await?;
            if d["application"]["status"] == "FAILED" {
                bail!(
                    "the backend app failed: {}",
                    d["application"]["statusReason"]
                );
            }
            Ok(self
                .get(&http)
                .await
                .ok()
                .filter(|b| b.contains("version 0")))
        })
        .await?;
        Ok(id)
    }

    /// Runs `n` replicas of the app (`scaling { minInstances: n, maxInstances: n }`; the scaler
    /// brings the count there): returns once `n` are `RUNNING` and none other is listed.
    pub async fn replicas(&self, id: &str, n: u32) -> anyhow::Result<()> {
        self.client
            .data(
                "mutation($id: ID!, $input: UpdateApplicationInput!) {
                   updateApplication(id: $id, input: $input, queue: true) { status } }",
                json!({ "id": id, "input": { "scaling": { "minInstances": n, "maxInstances": n } } }),
            )
            .await?;
        let want = usize::try_from(n)?;
        eventually(Duration::from_secs(120), || async {
            let d = self
                .client
                .data(
                    "query($id: ID!) { application(id: $id) { instances { state } } }",
                    json!({ "id": id }),
                )
                .await?;
            let list = d["application"]["instances"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let running = list.iter().filter(|i| i["state"] == "RUNNING").count();
            Ok((running == want && list.len() == want).then_some(()))
        })
        .await
        .with_context(|| format!("the app never ran {n} replicas"))
    }

    /// One request through the router; the body.
    pub async fn get(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let resp = http
            .get(format!("http://{}/", self.router))
            .header("host", HOST)
            .send()
            .await?
            .error_for_status()?;
        Ok(resp.text().await?)
    }

    /// The deployed instance's own address, as it says in its answers through the router.
    pub async fn instance_addr(&self) -> anyhow::Result<String> {
        let body = self.get(&reqwest::Client::new()).await?;
        let port = body
            .trim()
            .rsplit(' ')
            .next()
            .context("no port in the answer")?;
        Ok(format!("127.0.0.1:{port}"))
    }

    /// `rounds` redeploys (each of a new commit of `repo` changing the version file), while one client sends
    /// requests through the router back to back: for each, the time from the new deployment's
    /// `startedAt` (written as it goes live, just before the endpoint switch) to the first answer
    /// from the new version (ms); and how many requests failed over all the redeploys.
    pub async fn went_live_to_first_request(
        &self,
        id: &str,
        repo: &tempfile::TempDir,
        rounds: u32,
    ) -> anyhow::Result<(Samples, u64, u64)> {
        let probe = Arc::new(Probe::default());
        let looping = tokio::spawn(probe.clone().run(self.router.clone()));
        let mut samples = Samples::default();
        for round in 1..=rounds {
            let version = round.to_string();
            let git = git2::Repository::open(repo.path())?;
            let content = format!("{version}\n");
            let head = commit(&git, repo.path(), &[("version", &content)], "next version")?;
            self.client
                .data(
                    "mutation($id: ID!, $commit: String) {
                       redeployApplication(id: $id, commit: $commit, queue: true) { id } }",
                    json!({ "id": id, "commit": head }),
                )
                .await?;
            let seen = eventually(Duration::from_secs(60), || async {
                Ok(probe.first_seen(&version))
            })
            .await?;
            let started = self.started_at_of_live(id).await?;
            let delta = seen
                .duration_since(started)
                .map(|d| d.as_secs_f64() * 1e3)
                .unwrap_or_else(|e| -e.duration().as_secs_f64() * 1e3);
            samples.push(delta);
        }
        probe.stop.store(true, Ordering::Relaxed);
        looping.await??;
        for (kind, n) in probe
            .failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            println!("  failed: {n} × {kind}");
        }
        Ok((
            samples,
            probe.sent.load(Ordering::Relaxed),
            probe.failed.load(Ordering::Relaxed),
        ))
    }

    /// `startedAt` of the app's running deployment (the newest one that is running).
    async fn started_at_of_live(&self, id: &str) -> anyhow::Result<SystemTime> {
        let d = self
            .client
            .data(
                "query($id: ID!) { application(id: $id) {
                   deployments { status startedAt createdAt } } }",
                json!({ "id": id }),
            )
            .await?;
        let deployments = d["application"]["deployments"]
            .as_array()
            .context("no deployments")?;
        let live = deployments
            .iter()
            .filter(|d| d["status"] == "RUNNING")
            .max_by_key(|d| d["createdAt"].as_str().unwrap_or_default().to_owned())
            .context("no running deployment")?;
        let at: chrono::DateTime<chrono::Utc> = live["startedAt"]
            .as_str()
            .context("no startedAt")?
            .parse()?;
        Ok(at.into())
    }
}

impl Drop for Paas {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            // Graceful, so the app it started is stopped too.
            let _ = kill(Pid::from_raw(pid), Signal::SIGINT);
            for _ in 0..100 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.start_kill();
        }
    }
}

/// A client sending requests through the router back to back, noting when each version first
/// answered.
#[derive(Default)]
struct Probe {
    first: Mutex<HashMap<String, SystemTime>>,
    sent: AtomicU64,
    failed: AtomicU64,
    /// Failed requests by what went wrong (a status or the client's error).
    failures: Mutex<HashMap<String, u64>>,
    stop: AtomicBool,
}

impl Probe {
    async fn run(self: Arc<Self>, router: String) -> anyhow::Result<()> {
        let http = reqwest::Client::new();
        let url = format!("http://{router}/");
        while !self.stop.load(Ordering::Relaxed) {
            self.sent.fetch_add(1, Ordering::Relaxed);
            let answer = match http.get(&url).header("host", HOST).send().await {
                Ok(r) if r.status().is_success() => r.text().await.map_err(|e| e.to_string()),
                Ok(r) => Err(format!("status {}", r.status().as_u16())),
                Err(e) => Err(format!("{e}")),
            };
            let at = SystemTime::now();
            let body = match answer {
                Ok(body) => body,
                Err(e) => {
                    self.failed.fetch_add(1, Ordering::Relaxed);
                    let mut kinds = self.failures.lock().unwrap_or_else(|p| p.into_inner());
                    *kinds.entry(e).or_default() += 1;
                    continue;
                }
            };
            // "hello from version V on port P"
            let version = body.split_whitespace().nth(3).unwrap_or_default();
            let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
            first.entry(version.to_owned()).or_insert(at);
        }
        Ok(())
    }

    fn first_seen(&self, version: &str) -> Option<SystemTime> {
        let first = self.first.lock().unwrap_or_else(|p| p.into_inner());
        first.get(version).copied()
    }
}

/// A repository holding the bench backend's binary and a Procfile that starts it (and an
/// `app.py`, so the platform takes it for a Python app: no build step).
pub fn backend_repo() -> anyhow::Result<tempfile::TempDir> {
    let repo = paas_tests::git_repo(&[
        // The version the backend reports comes from a file, so a commit makes a new one.
        ("Procfile", "web: VERSION=$(cat version) exec ./backend\n"),
        ("version", "0\n"),
        (
            "app.py",
            "# The Procfile starts ./backend (the router bench's backend).\n",
        ),
    ])?;
    let binary = env!("CARGO_BIN_EXE_bench-backend");
    std::fs::copy(binary, repo.path().join("backend"))
        .with_context(|| format!("copying {binary}"))?;
    let git = git2::Repository::open(repo.path())?;
    let mut index = git.index()?;
    index.add_path(std::path::Path::new("backend"))?;
    index.write()?;
    // `commit` writes and adds its files; the binary is already in the index.
    commit(&git, repo.path(), &[], "the backend binary")?;
    Ok(repo)
}
