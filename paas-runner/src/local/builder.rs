//! [`ImageBuilder`] for local processes: runs the language's build step in the checkout; the
//! "image" is the checkout directory itself.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use async_trait::async_trait;
use paas_core::builder::{BuildJob, BuiltImage, ImageBuilder, log_line};
use paas_core::model::{AppId, Language};
use paas_core::{Error, Result};

use super::output::tail;
use super::{Isolation, Lifetime};

/// Builds checkouts in place.
#[derive(Clone, Debug)]
pub struct LocalBuilder {
    /// A build running longer than this is stopped and failed.
    timeout: Duration,
    /// Build steps run as the app's user (they run the app's code: scripts, build.rs).
    isolation: Isolation,
}

impl Default for LocalBuilder {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30 * 60),
            isolation: Isolation::off(),
        }
    }
}

/// Server variables that build steps must not see (the rest of the environment stays, for the
/// toolchains' own settings).
const SERVER_SECRETS: &[&str] = &[
    "PAAS_SECRET_KEY",
    "PAAS_SECRET_KEY_PREVIOUS",
    "DATABASE_URL",
    "REDIS_URL",
    "NOMAD_TOKEN",
];

impl LocalBuilder {
    pub fn with_timeout(timeout: Duration) -> Self {
        Self {
            timeout,
            ..Self::default()
        }
    }

    /// Runs build steps as the app's own user ([`Isolation`]).
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }
}

/// The build steps and default start command of a language.
fn recipe(language: Language, dir: &Path) -> Result<(Vec<&'static str>, Option<String>)> {
    Ok(match language {
        Language::Rust => (
            vec!["cargo build --release --locked || cargo build --release"],
            rust_binary(dir).map(|bin| format!("./target/release/{bin}")),
        ),
        // The checkout has no .git: a repository the data dir sits in is not the app's.
        Language::Go => (
            vec!["go build -buildvcs=false -o .paas-app ."],
            Some("./.paas-app".into()),
        ),
        Language::Node => (
            vec![
                "npm install --no-audit --no-fund",
                "npm run build --if-present",
            ],
            Some("npm start".into()),
        ),
        Language::Python => (vec![], python_entry(dir).map(|f| format!("python3 {f}"))),
        Language::Static => (
            vec![],
            Some("python3 -m http.server \"$PORT\" --bind 127.0.0.1".into()),
        ),
        Language::Containerfile => {
            return Err(Error::BuildFailed(
                "this app builds from its Containerfile/Dockerfile, which needs the podman \
                 runtime (PAAS_RUNTIME=podman); or choose its language explicitly"
                    .into(),
            ));
        }
    })
}

/// The file a Python app starts from when no Procfile says otherwise.
pub(crate) fn python_entry(dir: &Path) -> Option<&'static str> {
    ["app.py", "main.py", "server.py"]
        .into_iter()
        .find(|f| dir.join(f).is_file())
}

/// The binary `cargo build` makes: the first `[[bin]]` name, else the package name.
pub(crate) fn rust_binary(dir: &Path) -> Option<String> {
    let manifest: toml::Table = std::fs::read_to_string(dir.join("Cargo.toml"))
        .ok()?
        .parse()
        .ok()?;
    let bin = manifest
        .get("bin")
        .and_then(|b| b.as_array())
        .and_then(|bins| bins.first())
        .and_then(|b| b.get("name"))
        .and_then(|n| n.as_str());
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str());
    bin.or(package).map(str::to_owned)
}

/// Kills a process group when dropped (the group of a build step, whose leader's pid is its id).
struct GroupKill(u32);

impl Drop for GroupKill {
    fn drop(&mut self) {
        if let Ok(pgid) = i32::try_from(self.0) {
            // Gone already is fine: the group only lives as long as one of its processes.
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pgid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

impl LocalBuilder {
    /// Runs one build step; its output goes to `log`.
    async fn run_step(&self, app: AppId, step: &str, dir: &Path, log: &Path) -> Result<()> {
        let out = paas_core::secrets::files::append_private(log)
            .map_err(|e| Error::io(format!("opening {}", log.display()), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io("duplicating the build log handle", e))?;
        let mut cmd = self.isolation.shell(app, dir, step, Lifetime::Server);
        if self.isolation.is_on() {
            // The app's user has its own home: its checkout.
            cmd.env_clear().env("HOME", dir);
            for key in ["PATH", "LANG", "TMPDIR"] {
                if let Some(v) = std::env::var_os(key) {
                    cmd.env(key, v);
                }
            }
        } else {
            for key in SERVER_SECRETS {
                cmd.env_remove(key);
            }
        }
        // Its own process group, killed whole when the build is dropped (cancelled, or the
        // server stopping): a step's children (npm's, a compiler's) must not outlive it.
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| Error::io("starting a build step", e))?;
        let _group = child.id().map(GroupKill);
        let status = match tokio::time::timeout(self.timeout, child.wait()).await {
            Ok(status) => status.map_err(|e| Error::io("waiting for a build step", e))?,
            Err(_) => {
                return Err(Error::BuildFailed(format!(
                    "`{step}` did not finish within {} minutes",
                    self.timeout.as_secs() / 60
                )));
            }
        };
        if status.success() {
            return Ok(());
        }
        let code = status
            .code()
            .map_or_else(|| "a signal".into(), |c| format!("code {c}"));
        let hint = if status.code() == Some(127) {
            " (a tool the build needs is not installed on this server)"
        } else {
            ""
        };
        Err(Error::BuildFailed(format!(
            "`{step}` exited with {code}{hint}:\n{}",
            tail(log)
        )))
    }
}

#[async_trait]
impl ImageBuilder for LocalBuilder {
    #[tracing::instrument(skip_all, fields(app_id = %job.app.id, deployment = %job.deployment.id, language = %job.language), err)]
    async fn build(&self, job: BuildJob<'_>) -> Result<BuiltImage> {
        let dir = job.source_dir;
        let (steps, default_start) = recipe(job.language, dir)?;
        self.isolation.hand_over(job.app.id, dir)?;
        for step in steps {
            tracing::info!(step, "build step");
            log_line(job.log, &format!("$ {step}"))?;
            self.run_step(job.app.id, step, dir, job.log).await?;
        }
        let start_command = job.start_command.or(default_start).ok_or_else(|| {
            Error::BuildFailed(format!(
                "no start command for this {} app: add a Procfile with a `web:` line",
                job.language
            ))
        })?;
        Ok(BuiltImage {
            image: dir.display().to_string(),
            start_command: Some(start_command),
        })
    }

    async fn remove_image(&self, image: &str) -> Result<()> {
        let dir = Path::new(image);
        for result in [
            tokio::fs::remove_dir_all(dir).await,
            tokio::fs::remove_file(dir.with_extension("build.log")).await,
        ] {
            match result {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {image}"), e));
                }
                _ => {}
            }
        }
        Ok(())
    }
}
