//! [`Runtime`] on Podman: one container per deployment, its port published on a host port the
//! platform picks from its own range ([`PortRange`]), `init: true` (so stop signals reach the app), a hard CPU quota and a memory
//! limit from the app, labels linking it to app and deployment.

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use paas_core::model::Endpoint;
use paas_core::runtime::{
    Instance, InstanceSpec, InstanceState, InstanceStats, KnownInstance, OutputBatch, Runtime,
};
use paas_core::{Error, Result};
use podman_api::conn::TtyChunk;
use podman_api::opts::{
    ContainerCreateOpts, ContainerDeleteOpts, ContainerListFilter, ContainerListOpts,
    ContainerLogsOpts, ContainerRestartPolicy, ContainerStopOpts,
};
use serde_json::json;

use super::{Podman, PortRange, platform, status};

/// The port an app listens on inside its container when it names none.
pub const DEFAULT_CONTAINER_PORT: u16 = 8080;
/// CFS period the CPU quota is a share of (100 ms, the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;
/// Starts tried when Podman finds the host port picked taken (by something that bound it between
/// the look and Podman's bind).
const START_TRIES: usize = 3;
/// Lines of output quoted when an instance exits, and the most bytes kept to find them.
const TAIL_LINES: usize = 15;
const TAIL_BYTES: usize = 16 * 1024;
/// How often, and how far apart, the log of an exited container is read again while empty.
const LOG_SETTLE_TRIES: usize = 5;
const LOG_SETTLE_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs apps as Podman containers. Cheap to clone.
#[derive(Clone)]
pub struct PodmanRuntime {
    podman: Podman,
    /// Host address ports are published on: loopback by default, a public one in production.
    publish_address: String,
    /// Host ports containers are published on ([`PortRange`]: outside the kernel's own).
    ports: PortRange,
    /// Seconds `stop` waits after SIGTERM before Podman kills.
    stop_timeout: usize,
}

impl PodmanRuntime {
    pub fn new(podman: Podman, publish_address: impl Into<String>) -> Self {
        Self {
            podman,
            publish_address: publish_address.into(),
            ports: PortRange::default(),
            stop_timeout: 10,
        }
    }

    /// Publishes containers on host ports of `ports` (default [`PortRange::default`]).
    pub fn with_ports(mut self, ports: PortRange) -> Self {
        self.ports = ports;
        self
    }

    /// A free host port of the range on the publish address.
    fn free_port(&self) -> Result<u16> {
        self.ports.free_on(&self.publish_address).map_err(|e| {
            Error::io(
                format!(
                    "finding a free port of {} on {}",
                    self.ports, self.publish_address
                ),
                e,
            )
        })
    }

    /// What Podman is asked to create for `spec`, its port published on `host_port`.
    fn create_opts(&self, spec: &InstanceSpec, host_port: u16) -> Result<ContainerCreateOpts> {
        let container_port = spec.port.map_or(DEFAULT_CONTAINER_PORT, |p| p.get());
        let mut env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        env.push(("PORT".into(), container_port.to_string()));
        let mut ports = vec![json!({
            "container_port": container_port,
            "host_port": host_port,
            "host_ip": self.publish_address,
            "protocol": "tcp",
        })];
        for b in &spec.port_bindings {
            env.push((b.env.to_string(), b.host_port.to_string()));
            ports.push(json!({
                "container_port": b.host_port.get(),
                "host_port": b.host_port.get(),
                "host_ip": self.publish_address,
                "protocol": b.protocol.as_str(),
                "range": b.count,
            }));
        }
        let ports = ports
            .into_iter()
            .map(serde_json::from_value)
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| Error::runtime_from("port mapping", e))?;
        // Named after app and deployment, so a container is easy to find with `podman ps`, and
        // after the start (a deployment runs several replicas side by side).
        let name = format!(
            "paas-{}-{}-{:x}",
            spec.app_name,
            spec.deployment_id,
            paas_core::logs::LogTime::now().nanos()
        );
        let mut opts = ContainerCreateOpts::builder()
            .image(&spec.image)
            .name(&name)
            .env(env)
            .portmappings(ports)
            .init(true)
            .labels([
                ("paas.app", spec.app_id.to_string()),
                ("paas.deployment", spec.deployment_id.to_string()),
            ])
            // Crashes are the platform's to count and restart (one place for the restart policy
            // and for the start check); Podman must not restart behind its back.
            .restart_policy(ContainerRestartPolicy::No)
            .stop_timeout(self.stop_timeout as u64);
        // Limits go in the spec's `resource_limits` (OCI LinuxResources): libpod 4.3 ignores
        // the top-level cpu_quota/cpu_period fields.
        let mut limits = serde_json::Map::new();
        if let Some(millis) = spec.resources.cpu_millis {
            // A hard quota per period, not relative shares: 500 millicpus = 50 ms per 100 ms.
            let quota = i64::from(millis) * CPU_PERIOD_US as i64 / 1000;
            limits.insert(
                "cpu".into(),
                json!({ "quota": quota, "period": CPU_PERIOD_US }),
            );
        }
        if let Some(bytes) = spec.resources.memory_bytes() {
            // Swap equal to the limit: no swapping past it, so going over is an OOM kill.
            limits.insert("memory".into(), json!({ "limit": bytes, "swap": bytes }));
        }
        // Images carry their command; a deployment that names one overrides it.
        if let Some(command) = &spec.start_command {
            opts = opts.command(["/bin/sh", "-c", command.as_str()]);
        }
        if !limits.is_empty() {
            let limits = serde_json::from_value(serde_json::Value::Object(limits))
                .map_err(|e| Error::runtime_from("resource limits", e))?;
            opts = opts.resource_limits(limits);
        }
        Ok(opts.build())
    }

    /// The address clients use to reach a published port.
    fn endpoint_host(&self) -> String {
        match self.publish_address.as_str() {
            "0.0.0.0" | "::" => "127.0.0.1".into(),
            other => other.into(),
        }
    }

    /// The last lines of an instance's output. Podman 4.3's `tail` parameter drops a line that
    /// was written in two parts (conmon logs them as a partial and a full record), which is how
    /// many programs print their last words; so the log is read whole, keeping only its end.
    async fn output_tail(&self, id: &str) -> String {
        let opts = ContainerLogsOpts::builder()
            .stdout(true)
            .stderr(true)
            .build();
        let container = self.podman.containers().get(id);
        let mut logs = container.logs(&opts);
        let mut out: Vec<u8> = Vec::new();
        while let Some(Ok(chunk)) = logs.next().await {
            if let TtyChunk::StdOut(b) | TtyChunk::StdErr(b) = chunk {
                out.extend_from_slice(&b);
                if out.len() > 2 * TAIL_BYTES {
                    out.drain(..out.len() - TAIL_BYTES);
                }
            }
        }
        let text = String::from_utf8_lossy(&out);
        let lines: Vec<&str> = text.trim_end().lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }
}

#[async_trait]
impl Runtime for PodmanRuntime {
    #[tracing::instrument(skip_all, fields(app_id = %spec.app_id, deployment = %spec.deployment_id), err)]
    async fn start(&self, spec: &InstanceSpec) -> Result<Instance> {
        let containers = self.podman.containers();
        let mut tries = 0;
        let (id, host_port) = loop {
            tries += 1;
            let host_port = self.free_port()?;
            let created = containers
                .create(&self.create_opts(spec, host_port)?)
                .await
                .map_err(|e| platform(&self.podman, "create", e))?;
            let id = created.id;
            let Err(e) = containers.get(&id).start(None).await else {
                break (id, host_port);
            };
            let _ = self.remove(&id).await;
            let message = super::message(&e);
            if message.contains("address already in use") && tries < START_TRIES {
                tracing::debug!(
                    host_port,
                    "the host port was taken before Podman bound it: another"
                );
                continue;
            }
            return Err(Error::Runtime {
                message: format!("podman could not start the container: {message}"),
                source: Some(Box::new(e)),
            });
        };
        tracing::info!(container = %id, host_port, "container started");
        Ok(Instance {
            id,
            endpoint: Endpoint {
                host: self.endpoint_host(),
                port: host_port,
            },
        })
    }

    async fn stop(&self, instance: &str) -> Result<()> {
        let opts = ContainerStopOpts::builder()
            .timeout(self.stop_timeout)
            .build();
        match self.podman.containers().get(instance).stop(&opts).await {
            Ok(()) => Ok(()),
            // 304: already stopped; 404: gone. Both are what stop wants.
            Err(e) if matches!(status(&e), Some(304 | 404)) => Ok(()),
            Err(e) => Err(platform(&self.podman, "stop", e)),
        }
    }

    async fn remove(&self, instance: &str) -> Result<()> {
        let opts = ContainerDeleteOpts::builder()
            .force(true)
            .timeout(self.stop_timeout)
            .build();
        match self.podman.containers().get(instance).delete(&opts).await {
            Ok(()) => Ok(()),
            Err(e) if status(&e) == Some(404) => Ok(()),
            Err(e) => Err(platform(&self.podman, "remove", e)),
        }
    }

    async fn instances(&self) -> Result<Vec<KnownInstance>> {
        let opts = ContainerListOpts::builder()
            .all(true)
            .filter([ContainerListFilter::LabelKey("paas.app".into())])
            .build();
        let listed = self
            .podman
            .containers()
            .list(&opts)
            .await
            .map_err(|e| platform(&self.podman, "list", e))?;
        Ok(listed
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels?;
                Some(KnownInstance {
                    id: c.id?,
                    app: labels.get("paas.app")?.parse().ok()?,
                    deployment: labels.get("paas.deployment")?.parse().ok()?,
                })
            })
            .collect())
    }

    async fn inspect(&self, instance: &str) -> Result<InstanceState> {
        let data = match self.podman.containers().get(instance).inspect().await {
            Ok(d) => d,
            Err(e) if status(&e) == Some(404) => return Ok(InstanceState::Missing),
            Err(e) => return Err(platform(&self.podman, "inspect", e)),
        };
        let Some(state) = data.state else {
            return Ok(InstanceState::Exited {
                code: None,
                oom_killed: false,
                output_tail: String::new(),
            });
        };
        if state.running == Some(true) {
            return Ok(InstanceState::Running);
        }
        let code = state.exit_code;
        let memory_limited = data
            .host_config
            .and_then(|h| h.memory)
            .is_some_and(|m| m > 0);
        // Podman 4.3 leaves OOMKilled false under cgroup v1: a SIGKILL (137) under a memory
        // limit is how an out-of-memory kill shows.
        let oom_killed = state.oom_killed == Some(true) || (code == Some(137) && memory_limited);
        // conmon writes the log as the output comes; right after the exit the last lines may
        // not be in it yet, and they are the ones that say why.
        let mut output_tail = self.output_tail(instance).await;
        for _ in 0..LOG_SETTLE_TRIES {
            if !output_tail.is_empty() {
                break;
            }
            tokio::time::sleep(LOG_SETTLE_WAIT).await;
            output_tail = self.output_tail(instance).await;
        }
        Ok(InstanceState::Exited {
            code,
            oom_killed,
            output_tail,
        })
    }

    /// Podman's logs endpoint, following, with timestamps (see [`super::logs`]).
    fn output(
        &self,
        instance: &str,
        position: Option<String>,
    ) -> BoxStream<'static, Result<OutputBatch>> {
        super::logs::follow(self.podman.clone(), instance, position)
    }

    async fn stats(&self, instance: &str) -> Result<Option<InstanceStats>> {
        let raw = match self.podman.containers().get(instance).stats().await {
            Ok(v) => v,
            Err(e) if status(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(platform(&self.podman, "stats", e)),
        };
        // Untyped JSON; libpod answers {"Error": …, "Stats": [{"CPU": %, "MemUsage": bytes, …}]}.
        let stats = raw
            .get("Stats")
            .and_then(|s| s.get(0))
            .cloned()
            .unwrap_or_else(|| raw.clone());
        Ok(Some(InstanceStats {
            cpu_percent: stats.get("CPU").and_then(|v| v.as_f64()).unwrap_or(0.0),
            cpu_total_ns: stats.get("CPUNano").and_then(|v| v.as_u64()).unwrap_or(0),
            memory_bytes: stats.get("MemUsage").and_then(|v| v.as_u64()).unwrap_or(0),
            memory_limit_bytes: stats.get("MemLimit").and_then(|v| v.as_u64()),
        }))
    }
}
