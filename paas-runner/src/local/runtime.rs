//! [`Runtime`] for local processes: the start command runs under `sh -c` as the leader of its own
//! process group (so stop reaches everything it spawned), with a clean environment: the server's
//! `PATH`, `HOME`, `LANG` and `TMPDIR`, the app's env vars, and `PORT`. Nothing else of the
//! server's environment (database URLs, tokens) leaks into apps.
//!
//! Processes outlive a crashed server (they lead their own groups). Each start is recorded on
//! disk ([`records`]), so the next run of the server adopts the processes still alive (inspect,
//! stop and remove work on them) and can remove the ones nothing needs.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use paas_core::model::Endpoint;
use paas_core::runtime::{
    Instance, InstanceSpec, InstanceState, KnownInstance, OutputBatch, Runtime,
};
use paas_core::{Error, Result};
use tokio::sync::watch;

use super::output::{FOLLOW_EVERY, FOLLOW_SOON, Follower, err_log, out_log, tail};
use super::records::{self, Record};
use super::{Isolation, Lifetime};

/// Server variables passed on to apps: what a program needs to find its tools.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "TMPDIR", "USER"];

struct Running {
    pgid: Pid,
    exit: watch::Receiver<Option<ExitStatus>>,
    log: PathBuf,
}

/// Runs apps as child processes of the server. Cheap to clone.
#[derive(Clone)]
pub struct LocalRuntime {
    logs_dir: PathBuf,
    /// How long `stop` waits after SIGTERM before SIGKILL.
    stop_timeout: Duration,
    /// How long a removed instance's output files stay, so its follower reads the last lines.
    output_grace: Duration,
    /// Each app as its own user, sandboxed where possible, when the server runs as root.
    isolation: Isolation,
    instances: Arc<Mutex<HashMap<String, Running>>>,
}

impl LocalRuntime {
    /// Instance output goes to files in `logs_dir`.
    pub fn new(logs_dir: impl Into<PathBuf>) -> Self {
        Self {
            logs_dir: logs_dir.into(),
            stop_timeout: Duration::from_secs(10),
            output_grace: Duration::from_secs(10),
            isolation: Isolation::off(),
            instances: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Runs each app as its own user ([`Isolation`]); its checkout must be handed over to it
    /// (the [`super::LocalBuilder`] with the same isolation does that).
    pub fn with_isolation(mut self, isolation: Isolation) -> Self {
        self.isolation = isolation;
        self
    }

    /// How long a removed instance's output files stay on disk (its lines are in the store).
    pub fn with_output_grace(mut self, grace: Duration) -> Self {
        self.output_grace = grace;
        self
    }

    fn with<R>(&self, f: impl FnOnce(&mut HashMap<String, Running>) -> R) -> R {
        let mut guard = self.instances.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    fn lookup(&self, id: &str) -> Option<(Pid, watch::Receiver<Option<ExitStatus>>, PathBuf)> {
        self.with(|m| m.get(id).map(|r| (r.pgid, r.exit.clone(), r.log.clone())))
    }
}

/// A free port on the loopback interface. The port is released before the app binds it, so
/// another program could take it in between; the start check then fails and start is retried.
fn free_port() -> Result<u16> {
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(|e| Error::io("finding a free port", e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| Error::io("finding a free port", e))
}

async fn wait_exit(rx: &mut watch::Receiver<Option<ExitStatus>>, timeout: Duration) -> bool {
    tokio::time::timeout(timeout, rx.wait_for(|s| s.is_some()))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// Waits until no process is left in the group (signal 0 probes without signalling).
async fn group_gone(pgid: Pid, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if killpg(pgid, None).is_err() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl LocalRuntime {
    /// Whether an instance runs, without reading its output (for followers).
    fn inspect_quiet(&self, instance: &str) -> InstanceState {
        match self.lookup(instance) {
            Some((_, exit, _)) if exit.borrow().is_none() => InstanceState::Running,
            Some(_) => InstanceState::Missing,
            None => match records::read(&self.logs_dir, instance) {
                Some(r) if r.alive() => InstanceState::Running,
                _ => InstanceState::Missing,
            },
        }
    }

    /// Stops a process group started by an earlier run of the platform.
    async fn stop_adopted(&self, instance: &str) -> Result<()> {
        let Some(record) = records::read(&self.logs_dir, instance) else {
            return Ok(());
        };
        if !record.alive() {
            return Ok(());
        }
        let pgid = Pid::from_raw(record.pgid);
        let _ = killpg(pgid, Signal::SIGTERM);
        if !group_gone(pgid, self.stop_timeout).await {
            let _ = killpg(pgid, Signal::SIGKILL);
            group_gone(pgid, Duration::from_secs(5)).await;
        }
        Ok(())
    }
}

#[async_trait]
impl Runtime for LocalRuntime {
    fn fixed_ports_are_shared(&self) -> bool {
        true
    }

    #[tracing::instrument(skip_all, fields(app_id = %spec.app_id, deployment = %spec.deployment_id), err)]
    async fn start(&self, spec: &InstanceSpec) -> Result<Instance> {
        let command = spec
            .start_command
            .as_deref()
            .ok_or_else(|| Error::StartFailed("the deployment has no start command".into()))?;
        let port = match spec.port {
            Some(p) => p.get(),
            None => free_port()?,
        };
        std::fs::create_dir_all(&self.logs_dir)
            .map_err(|e| Error::io(format!("creating {}", self.logs_dir.display()), e))?;
        // Named before the process exists (its output goes there from the first byte), unique
        // per start, so each instance's output is its own and can be followed by the id alone.
        let id = format!(
            "{}-{}",
            spec.app_name,
            paas_core::logs::LogTime::now().nanos()
        );
        let log = out_log(&self.logs_dir, &id);
        let open = |path: &std::path::Path| {
            paas_core::secrets::files::append_private(path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))
        };
        let out = open(&log)?;
        let err = open(&err_log(&log))?;

        let dir = std::path::Path::new(&spec.image);
        // The build ran where its worker keeps checkouts; a `paas worker` on another data dir
        // (or host) built somewhere this process cannot see: say so, not "No such file".
        if !dir.is_dir() {
            return Err(Error::StartFailed(format!(
                "the build of this deployment is in {}, which this process cannot see: with \
                 local processes, `paas serve` and `paas worker` must share a --data-dir (or \
                 --apps-dir)",
                dir.display()
            )));
        }
        // A checkout built before isolation was on (or by another builder) is handed over now.
        self.isolation.hand_over(spec.app_id, dir)?;
        let mut cmd = self
            .isolation
            .shell(spec.app_id, dir, command, Lifetime::Own);
        cmd.env_clear()
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        for key in INHERITED_ENV {
            if let Ok(v) = std::env::var(key) {
                cmd.env(key, v);
            }
        }
        if self.isolation.is_on() {
            // The server's home and name are not the app's.
            cmd.env("HOME", dir).env_remove("USER");
        }
        for (k, v) in spec.env.iter() {
            cmd.env(k.as_str(), v);
        }
        for binding in &spec.port_bindings {
            cmd.env(binding.env.as_str(), binding.host_port.to_string());
        }
        cmd.env("PORT", port.to_string());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::runtime_from("could not start the app", e))?;
        let pid = child
            .id()
            .and_then(|p| i32::try_from(p).ok())
            .ok_or_else(|| Error::runtime("the app exited before it could be watched"))?;
        records::write(
            &self.logs_dir,
            &Record {
                id: id.clone(),
                pgid: pid,
                started: records::start_time(pid),
                app: spec.app_id,
                deployment: spec.deployment_id,
                log: log.clone(),
            },
        )?;
        let (tx, rx) = watch::channel(None);
        tokio::spawn(async move {
            let status = child.wait().await;
            // Reaping failed: treat as gone so nothing waits forever.
            let _ =
                tx.send(Some(status.unwrap_or_else(|_| {
                    std::os::unix::process::ExitStatusExt::from_raw(0)
                })));
        });
        self.with(|m| {
            m.insert(
                id.clone(),
                Running {
                    pgid: Pid::from_raw(pid),
                    exit: rx,
                    log,
                },
            )
        });
        tracing::info!(instance = %id, port, "process started");
        Ok(Instance {
            id,
            endpoint: Endpoint {
                host: "127.0.0.1".into(),
                port,
            },
        })
    }

    async fn stop(&self, instance: &str) -> Result<()> {
        let Some((pgid, mut exit, _)) = self.lookup(instance) else {
            return self.stop_adopted(instance).await;
        };
        // ESRCH: already gone, which is what we want.
        let _ = killpg(pgid, Signal::SIGTERM);
        let leader_gone = wait_exit(&mut exit, self.stop_timeout).await;
        // The leader may be gone while its children still run: stop means the whole group.
        if !leader_gone || !group_gone(pgid, Duration::from_secs(2)).await {
            tracing::warn!(instance, "did not stop on SIGTERM, killing");
            let _ = killpg(pgid, Signal::SIGKILL);
            wait_exit(&mut exit, Duration::from_secs(5)).await;
            group_gone(pgid, Duration::from_secs(5)).await;
        }
        Ok(())
    }

    async fn remove(&self, instance: &str) -> Result<()> {
        self.stop(instance).await?;
        let log = self
            .with(|m| m.remove(instance))
            .map(|r| r.log)
            .or_else(|| records::read(&self.logs_dir, instance).map(|r| r.log));
        records::remove(&self.logs_dir, instance);
        // The output goes too, once its follower has had time to store the last lines.
        if let Some(out) = log {
            let grace = self.output_grace;
            tokio::spawn(async move {
                tokio::time::sleep(grace).await;
                for file in [err_log(&out), out] {
                    let _ = std::fs::remove_file(file);
                }
            });
        }
        Ok(())
    }

    async fn inspect(&self, instance: &str) -> Result<InstanceState> {
        let Some((_, exit, log)) = self.lookup(instance) else {
            // Started by an earlier run of the platform: alive, or gone without an exit code.
            return Ok(match records::read(&self.logs_dir, instance) {
                Some(r) if r.alive() => InstanceState::Running,
                Some(r) => InstanceState::Exited {
                    code: None,
                    oom_killed: false,
                    output_tail: tail(&r.log),
                },
                None => InstanceState::Missing,
            });
        };
        let status = *exit.borrow();
        Ok(match status {
            None => InstanceState::Running,
            Some(status) => InstanceState::Exited {
                code: status.code(),
                oom_killed: false,
                output_tail: tail(&log),
            },
        })
    }

    async fn instances(&self) -> Result<Vec<KnownInstance>> {
        Ok(records::all(&self.logs_dir)
            .into_iter()
            .map(|r| KnownInstance {
                id: r.id,
                app: r.app,
                deployment: r.deployment,
            })
            .collect())
    }

    fn output(
        &self,
        instance: &str,
        position: Option<String>,
    ) -> BoxStream<'static, Result<OutputBatch>> {
        let runtime = self.clone();
        let instance = instance.to_owned();
        // Found by the id alone: the instance may be removed before its output is all read.
        let log = self
            .lookup(&instance)
            .map(|(_, _, log)| log)
            .or_else(|| records::read(&self.logs_dir, &instance).map(|r| r.log))
            .unwrap_or_else(|| out_log(&self.logs_dir, &instance));
        if !log.exists() {
            return futures::stream::empty().boxed();
        }
        let follower = Follower::new(&log, position.as_deref());
        // Look whether the process is gone, then read; once it is gone, one last read ends it.
        // The wait before the next look: short while the process writes, back to
        // FOLLOW_EVERY while it is quiet.
        futures::stream::unfold(Some((follower, FOLLOW_EVERY)), move |state| {
            let runtime = runtime.clone();
            let instance = instance.clone();
            async move {
                let (mut follower, mut wait) = state?;
                loop {
                    let gone = !matches!(runtime.inspect_quiet(&instance), InstanceState::Running);
                    match follower.read(gone) {
                        Ok(Some(batch)) => {
                            let rest = !gone || follower.more();
                            return Some((Ok(batch), rest.then_some((follower, FOLLOW_SOON))));
                        }
                        Ok(None) if gone => return None,
                        Ok(None) => {
                            tokio::time::sleep(wait).await;
                            wait = (wait * 2).min(FOLLOW_EVERY);
                        }
                        Err(e) => return Some((Err(e), None)),
                    }
                }
            }
        })
        .boxed()
    }

    async fn shutdown(&self) -> Vec<String> {
        let ids: Vec<String> = self.with(|m| m.keys().cloned().collect());
        let mut stopped = Vec::new();
        for id in ids {
            let was_running = matches!(self.inspect(&id).await, Ok(InstanceState::Running));
            if self.remove(&id).await.is_ok() && was_running {
                stopped.push(id);
            }
        }
        stopped
    }
}
