//! The `Runtime` port: running instances of built apps.

use async_trait::async_trait;
use futures::stream::{self, BoxStream, StreamExt};

use crate::error::Result;
use crate::logs::{LogStream, LogTime};
use crate::model::{AppId, AppName, DeploymentId, Endpoint, EnvVars, Port, PortBinding, Resources};

/// What to run.
#[derive(Clone, Debug)]
pub struct InstanceSpec {
    pub app_id: AppId,
    pub app_name: AppName,
    pub deployment_id: DeploymentId,
    pub image: String,
    pub start_command: Option<String>,
    /// The port the app listens on (given to it as `$PORT`); `None` lets the runtime choose.
    pub port: Option<Port>,
    pub env: EnvVars,
    pub resources: Resources,
    pub port_bindings: Vec<PortBinding>,
}

/// What an instance uses right now.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceStats {
    /// Percent of one CPU core, as the runtime reports it.
    pub cpu_percent: f64,
    /// CPU time used since the instance started, in nanoseconds (two samples give the use over
    /// an interval).
    pub cpu_total_ns: u64,
    pub memory_bytes: u64,
    pub memory_limit_bytes: Option<u64>,
}

/// A started instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// The runtime's id for it (process id, container id, job id).
    pub id: String,
    pub endpoint: Endpoint,
}

/// An instance the runtime has, whoever started it (for recovery: finding orphans).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownInstance {
    pub id: String,
    pub app: AppId,
    pub deployment: DeploymentId,
}

/// What an instance is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceState {
    Running,
    Exited {
        code: Option<i32>,
        /// Killed for going over its memory limit.
        oom_killed: bool,
        /// The end of the instance's output, to tell the user why.
        output_tail: String,
    },
    /// The runtime does not know the instance (removed, or lost with a restart).
    Missing,
}

/// One line an instance wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputLine {
    pub stream: LogStream,
    pub text: String,
    /// When the runtime recorded it, if it says; otherwise the time it was read is used.
    pub at: Option<LogTime>,
}

/// Lines read from an instance's output, and where reading got to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutputBatch {
    pub lines: Vec<OutputLine>,
    /// Opaque to the platform: handed back to [`Runtime::output`] to go on after these lines.
    pub position: String,
}

#[async_trait]
pub trait Runtime: Send + Sync {
    /// Creates and starts an instance. Returns once it is started, not once it answers.
    async fn start(&self, spec: &InstanceSpec) -> Result<Instance>;
    /// Stops gracefully, then kills after a timeout. Stopping a stopped instance succeeds.
    async fn stop(&self, instance: &str) -> Result<()>;
    /// Stops if needed and forgets the instance.
    async fn remove(&self, instance: &str) -> Result<()>;
    async fn inspect(&self, instance: &str) -> Result<InstanceState>;
    /// Every instance of an app this runtime runs, including those started by an earlier run
    /// of the platform (so that recovery can remove the ones nothing records).
    async fn instances(&self) -> Result<Vec<KnownInstance>>;
    /// CPU and memory use, where the runtime measures them; `None` for a gone instance.
    async fn stats(&self, _instance: &str) -> Result<Option<InstanceStats>> {
        Ok(None)
    }
    /// Sets how many instances of `spec`'s deployment run, where the runtime keeps an app's
    /// replicas itself (a Nomad job group's `count`): returns every running instance once
    /// there are `count` (those that ran on keep their ids; the runtime picks which go when
    /// there are fewer). `None` (the default): the runtime runs single instances, and the
    /// platform starts and removes each replica with [`Runtime::start`] and
    /// [`Runtime::remove`].
    async fn scale(&self, _spec: &InstanceSpec, _count: u32) -> Result<Option<Vec<Instance>>> {
        Ok(None)
    }
    /// Restarts an instance in place (same id and endpoint), where the runtime can (a Nomad
    /// allocation); `None` where it cannot, and the platform replaces the instance instead.
    async fn restart(&self, _instance: &str) -> Result<Option<Instance>> {
        Ok(None)
    }
    /// Follows an instance's stdout and stderr from `position` (`None`: from its start), in
    /// batches as they are written, and ends once the instance is gone and everything it wrote
    /// was read. The platform stores the lines with the position of each batch, so a follower
    /// started again (after a restart of the platform) goes on where the last one stopped.
    fn output(
        &self,
        _instance: &str,
        _position: Option<String>,
    ) -> BoxStream<'static, Result<OutputBatch>> {
        stream::empty().boxed()
    }
    /// Whether an instance's fixed port (`InstanceSpec::port`) is taken on the host itself, so
    /// that two replicas of an app with one could not both listen (local processes); runtimes
    /// that give each instance its own network (containers, allocations) say no.
    fn fixed_ports_are_shared(&self) -> bool {
        false
    }
    /// Called once when the platform shuts down: a runtime whose instances die with the
    /// platform's process (local processes) stops them here and returns their ids; others keep
    /// them running and return nothing.
    async fn shutdown(&self) -> Vec<String> {
        Vec::new()
    }
}
