//! [`Runtime`] on Nomad. An instance is an allocation (its id is the allocation id).
//!
//! - `start` registers the deployment's job version and waits (blocking queries on the job's
//!   allocations) until its allocation runs, failing with Nomad's reason when the task fails
//!   (with the job's deployment's status) or when the evaluation could not place it (no
//!   capacity);
//! - `inspect` reads the allocation; `restart` restarts it in place;
//! - `scale` sets the group's `count` (an app's replicas) and waits until that many run; a new
//!   version keeps the count;
//! - `remove` deregisters the job when the allocation is the job's last live one, lowers the
//!   group's count when others of its version run (replicas), and stops the allocation
//!   otherwise (an older version the platform retires);
//! - `output` follows the task's stdout and stderr through `fs/logs`.

use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use futures::stream::BoxStream;
use nomad_client_rs::allocation::{ReadAllocationOptions, RestartAllocationRequest};
use nomad_client_rs::job::{CreateJobRequest, ListJobsOptions, ReadJobOptions, StopJobOptions};
use nomad_client_rs::{ClientError, Config, Connection, Credential, NomadClient};
use paas_core::logs::LogStream;
use paas_core::model::Endpoint;
use paas_core::runtime::{
    Instance, InstanceSpec, InstanceState, KnownInstance, OutputBatch, Runtime,
};
use paas_core::{Error, Result};

use super::NomadSettings;
use super::api::{self, DesiredStatus, NomadApi, WAIT};
use super::job::{self, META_APP, META_DEPLOYMENT, PORT_LABEL, TASK};
use super::logs;

/// How long `start` waits for the new allocation to run.
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// Lines quoted from an exited task's output.
const TAIL_LINES: usize = 15;

/// Runs apps as Nomad jobs. Cheap to clone.
#[derive(Clone)]
pub struct NomadRuntime {
    pub(super) client: NomadClient,
    pub(super) api: NomadApi,
    pub(super) start_timeout: Duration,
}

impl NomadRuntime {
    pub fn new(settings: NomadSettings) -> Result<Self> {
        // nomad-client-rs leaves the TLS crypto provider to the program: ring, as everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = NomadClient::new(Config {
            connection: Connection::HttpApi {
                address: settings.address.clone(),
                credential: settings
                    .token
                    .as_ref()
                    .map(|t| Credential::AclToken(t.expose().to_owned())),
            },
            ..Config::default()
        })
        .map_err(|e| Error::runtime_from("configuring the Nomad client", e))?;
        Ok(Self {
            client,
            api: NomadApi::new(settings)?,
            start_timeout: START_TIMEOUT,
        })
    }

    /// How long `start` waits for an allocation to run (tests shorten it).
    pub fn with_start_timeout(mut self, timeout: Duration) -> Self {
        self.start_timeout = timeout;
        self
    }

    /// Checks that Nomad answers and has a leader (start-up calls it before saying it is ready).
    pub async fn ping(&self) -> Result<()> {
        self.api.leader().await.map(drop)
    }

    pub(super) fn settings(&self) -> &NomadSettings {
        self.api.settings()
    }

    pub(super) fn namespace(&self) -> Option<String> {
        self.settings().namespace.clone()
    }

    /// A nomad-client-rs error in the platform's terms.
    pub(super) fn error(&self, what: &str, e: ClientError) -> Error {
        match e {
            ClientError::NomadUnreachable(m) => api::unreachable(&self.settings().address, m),
            ClientError::NomadRejected { status, message } => api::refused(what, status, &message),
            other => Error::runtime_from(format!("Nomad {what}"), other),
        }
    }

    /// An allocation, read whole through nomad-client-rs.
    async fn read_allocation(
        &self,
        alloc: &str,
    ) -> std::result::Result<nomad_client_rs::allocation::Allocation, ClientError> {
        self.client
            .read_allocation(
                alloc,
                &ReadAllocationOptions {
                    namespace: self.namespace(),
                },
            )
            .await
    }

    /// Deregisters a job and purges it; a job already gone is fine.
    pub(super) async fn purge_job(&self, job_id: &str) -> Result<()> {
        let purged = self
            .client
            .stop_job(
                job_id,
                &StopJobOptions {
                    purge: Some(true),
                    namespace: self.namespace(),
                    region: self.settings().region.clone(),
                    ..Default::default()
                },
            )
            .await;
        match purged {
            Ok(_) | Err(ClientError::NomadRejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(self.error("the job deregistration", e)),
        }
    }

    /// Where clients reach an allocation: the host address and the allocated port.
    async fn endpoint(&self, alloc: &str) -> Result<Endpoint> {
        let a = self
            .read_allocation(alloc)
            .await
            .map_err(|e| self.error("the allocation read", e))?;
        let shared = a.allocated_resources.and_then(|r| r.shared);
        let port = shared
            .as_ref()
            .and_then(|s| s.ports.as_ref())
            .and_then(|ports| {
                ports
                    .iter()
                    .find(|p| p.label.as_deref() == Some(PORT_LABEL))
                    .map(|p| (p.host_ip.clone(), p.value))
            });
        let from_networks = || {
            shared.as_ref()?.networks.as_ref()?.iter().find_map(|n| {
                let p = n
                    .dynamic_ports
                    .as_ref()?
                    .iter()
                    .find(|p| p.label.as_deref() == Some(PORT_LABEL))?;
                Some((n.ip.clone(), p.value))
            })
        };
        let (host, port) = port.or_else(from_networks).ok_or_else(|| {
            Error::runtime(format!("allocation {alloc} has no `{PORT_LABEL}` port"))
        })?;
        let port = port
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| Error::runtime(format!("allocation {alloc} has no port number")))?;
        let host = match host.filter(|h| !h.is_empty()) {
            Some(h) => h,
            None => {
                let node = a.node_id.unwrap_or_default();
                let node = self
                    .client
                    .read_node(&node)
                    .await
                    .map_err(|e| self.error("the node read", e))?;
                node.http_addr
                    .and_then(|h| h.rsplit_once(':').map(|(host, _)| host.to_owned()))
                    .ok_or_else(|| Error::runtime(format!("node of {alloc} has no address")))?
            }
        };
        Ok(Endpoint { host, port })
    }

    /// The count of the app's job group, if the job exists.
    async fn count(&self, job_id: &str) -> Result<Option<i32>> {
        let read = self
            .client
            .read_job(
                job_id,
                &ReadJobOptions {
                    namespace: self.namespace(),
                },
            )
            .await;
        match read {
            Ok(job) => Ok(job
                .task_groups
                .and_then(|g| g.first().and_then(|g| g.count))
                .filter(|c| *c > 0)),
            Err(ClientError::NomadRejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(self.error("the job read", e)),
        }
    }

    /// The job of an allocation, if Nomad still knows the allocation.
    async fn job_id_of(&self, alloc: &str) -> Result<Option<String>> {
        match self.read_allocation(alloc).await {
            Ok(a) => Ok(a.job_id),
            Err(ClientError::NomadRejected { status: 404, .. }) => Ok(None),
            Err(e) => Err(self.error("the allocation read", e)),
        }
    }
}

#[async_trait]
impl Runtime for NomadRuntime {
    #[tracing::instrument(skip_all, fields(app_id = %spec.app_id, deployment = %spec.deployment_id), err)]
    async fn start(&self, spec: &InstanceSpec) -> Result<Instance> {
        let mut job = job::render(spec, self.settings())?;
        let job_id = job::job_id(spec.app_id);
        // A new version keeps the group's count (its replicas): Nomad rolls them over to it.
        if let Some(count) = self.count(&job_id).await?
            && let Some(group) = job.task_groups.as_mut().and_then(|g| g.first_mut())
        {
            group.count = Some(count);
        }
        let registered = self
            .client
            .create_job(&CreateJobRequest {
                job: Some(job),
                namespace: self.namespace(),
                region: self.settings().region.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| self.error("job", e))?;
        let read = self
            .client
            .read_job(
                &job_id,
                &ReadJobOptions {
                    namespace: self.namespace(),
                },
            )
            .await
            .map_err(|e| self.error("the job read", e))?;
        let version = read
            .version
            .and_then(|v| u64::try_from(v).ok())
            .unwrap_or(0);
        let eval = registered.eval_id.unwrap_or_default();
        let alloc = match self.wait_running(&job_id, version, &eval).await {
            Ok(alloc) => alloc,
            Err(e) => {
                // Nomad would place a version it could not place once room frees (its blocked
                // evaluation): the job goes back to the version that serves, or away.
                self.undo(&job_id, version).await;
                return Err(e);
            }
        };
        let endpoint = self.endpoint(&alloc.id).await?;
        tracing::info!(job = %job_id, version, alloc = %alloc.id, "nomad allocation running");
        Ok(Instance {
            id: alloc.id,
            endpoint,
        })
    }

    async fn stop(&self, instance: &str) -> Result<()> {
        self.remove(instance).await
    }

    /// Replicas are the job group's `count`: set through the job's scale endpoint, Nomad places
    /// or stops allocations (it picks which go), and this waits until `count` run.
    async fn scale(&self, spec: &InstanceSpec, count: u32) -> Result<Option<Vec<Instance>>> {
        let job_id = job::job_id(spec.app_id);
        let message = format!(
            "paas: {count} replica(s) of deployment {}",
            spec.deployment_id
        );
        self.api.scale(&job_id, job::GROUP, count, &message).await?;
        let mut instances = Vec::new();
        for alloc in self.wait_count(&job_id, count).await? {
            let endpoint = self.endpoint(&alloc.id).await?;
            instances.push(Instance {
                id: alloc.id,
                endpoint,
            });
        }
        tracing::info!(job = %job_id, count, "nomad group scaled");
        Ok(Some(instances))
    }

    async fn remove(&self, instance: &str) -> Result<()> {
        let Some(job_id) = self.job_id_of(instance).await? else {
            return Ok(()); // Nomad forgot it: gone
        };
        let (allocs, _) = self.api.job_allocations(&job_id, 0, WAIT).await?;
        let version = allocs
            .iter()
            .find(|a| a.id == instance)
            .map(|a| a.job_version);
        let others: Vec<&api::AllocStub> = allocs
            .iter()
            .filter(|a| {
                a.id != instance
                    && a.desired_status == DesiredStatus::Run
                    && !a.client_status.is_over()
            })
            .collect();
        if others.is_empty() {
            return self.purge_job(&job_id).await;
        }
        if others.iter().all(|a| Some(a.job_version) == version) {
            // One replica of the live version: one fewer in the group's count (a stopped
            // allocation alone would be placed again by Nomad to keep the count).
            let count = u32::try_from(others.len()).unwrap_or(u32::MAX);
            return self
                .api
                .scale(&job_id, job::GROUP, count, "paas: a replica removed")
                .await;
        }
        // An older version: the newer allocations serve, this one goes.
        match self.client.stop_allocation(instance).await {
            Ok(_) | Err(ClientError::NomadRejected { status: 404, .. }) => Ok(()),
            Err(e) => Err(self.error("the allocation stop", e)),
        }
    }

    async fn inspect(&self, instance: &str) -> Result<InstanceState> {
        let Some((alloc, _)) = self.api.allocation(instance, 0, WAIT).await? else {
            return Ok(InstanceState::Missing);
        };
        // Pending includes Nomad restarting the task in place: its restart policy's business.
        if !alloc.client_status.is_over() && alloc.desired_status == DesiredStatus::Run {
            return Ok(InstanceState::Running);
        }
        let events = alloc
            .task_states
            .as_ref()
            .and_then(|s| s.get(TASK))
            .and_then(|t| t.events.clone())
            .unwrap_or_default();
        let code = events
            .iter()
            .rev()
            .find(|e| e.kind == "Terminated")
            .map(|e| e.exit_code);
        let oom_killed = events.iter().any(|e| {
            e.details
                .as_ref()
                .is_some_and(|d| d.get("oom_killed").is_some_and(|v| v == "true"))
                || e.display_message.contains("OOM")
        });
        Ok(InstanceState::Exited {
            code,
            oom_killed,
            output_tail: logs::tail(&self.api, instance, TAIL_LINES).await,
        })
    }

    async fn instances(&self) -> Result<Vec<KnownInstance>> {
        let jobs = self
            .client
            .list_jobs(&ListJobsOptions {
                prefix: Some("paas-".into()),
                namespace: self.namespace(),
                ..Default::default()
            })
            .await
            .map_err(|e| self.error("the job list", e))?;
        let mut known = Vec::new();
        for j in jobs {
            let Some(id) = j.id else { continue };
            let job = match self
                .client
                .read_job(
                    &id,
                    &ReadJobOptions {
                        namespace: self.namespace(),
                    },
                )
                .await
            {
                Ok(job) => job,
                Err(ClientError::NomadRejected { status: 404, .. }) => continue,
                Err(e) => return Err(self.error("the job read", e)),
            };
            let meta = job.meta.unwrap_or_default();
            let (Some(app), Some(dep)) = (
                meta.get(META_APP).and_then(|v| v.parse().ok()),
                meta.get(META_DEPLOYMENT).and_then(|v| v.parse().ok()),
            ) else {
                continue;
            };
            let (allocs, _) = self.api.job_allocations(&id, 0, WAIT).await?;
            known.extend(
                allocs
                    .into_iter()
                    .filter(|a| a.desired_status == DesiredStatus::Run)
                    .map(|a| KnownInstance {
                        id: a.id,
                        app,
                        deployment: dep,
                    }),
            );
        }
        Ok(known)
    }

    fn output(
        &self,
        instance: &str,
        position: Option<String>,
    ) -> BoxStream<'static, Result<OutputBatch>> {
        let (out, err) = position
            .as_deref()
            .and_then(|p| p.split_once(':'))
            .and_then(|(o, e)| Some((o.parse().ok()?, e.parse().ok()?)))
            .unwrap_or((0u64, 0u64));
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        let alloc = instance.to_owned();
        tokio::spawn(logs::watch_allocation(
            self.api.clone(),
            alloc.clone(),
            done_tx,
        ));
        for (stream, offset) in [(LogStream::Stdout, out), (LogStream::Stderr, err)] {
            tokio::spawn(logs::follow(
                self.api.clone(),
                alloc.clone(),
                stream,
                offset,
                done_rx.clone(),
                tx.clone(),
            ));
        }
        drop(tx);
        let frames = tokio_stream::StreamExt::chunks_timeout(
            tokio_stream::wrappers::ReceiverStream::new(rx),
            64,
            Duration::from_millis(50),
        );
        let mut offsets = (out, err);
        frames
            .map(move |chunk| {
                let mut lines = Vec::new();
                for f in chunk {
                    match f.stream {
                        LogStream::Stderr => offsets.1 = f.offset,
                        _ => offsets.0 = f.offset,
                    }
                    lines.extend(f.lines);
                }
                Ok(OutputBatch {
                    lines,
                    position: format!("{}:{}", offsets.0, offsets.1),
                })
            })
            .boxed()
    }

    async fn restart(&self, instance: &str) -> Result<Option<Instance>> {
        self.client
            .restart_allocation(
                instance,
                &RestartAllocationRequest {
                    task_name: Some(TASK.into()),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| self.error("the allocation restart", e))?;
        let endpoint = self.endpoint(instance).await?;
        Ok(Some(Instance {
            id: instance.to_owned(),
            endpoint,
        }))
    }
}
