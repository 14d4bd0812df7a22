//! The calls `nomad-client-rs` does not have, on reqwest: blocking queries on a job's
//! allocations and on one allocation, evaluations, and allocation logs. Every request carries the
//! ACL token, the namespace and the region.

use std::collections::HashMap;
use std::time::Duration;

use paas_core::error::BoxError;
use paas_core::{Error, Result};
use serde::Deserialize;

use super::NomadSettings;

/// How long a blocking query may wait on the server.
pub const WAIT: Duration = Duration::from_secs(5);

/// A client of one Nomad cluster. Cheap to clone.
#[derive(Clone)]
pub struct NomadApi {
    http: reqwest::Client,
    settings: NomadSettings,
}

/// What the client node reports an allocation doing (`ClientStatus`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ClientStatus {
    #[default]
    Pending,
    Running,
    Complete,
    Failed,
    Lost,
    #[serde(other)]
    Unknown,
}

impl ClientStatus {
    /// Over: it will not run again (Nomad may place a replacement).
    pub fn is_over(self) -> bool {
        matches!(self, Self::Complete | Self::Failed | Self::Lost)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Complete => "complete",
            Self::Failed => "failed",
            Self::Lost => "lost",
            Self::Unknown => "unknown",
        }
    }
}

/// What the scheduler wants of an allocation (`DesiredStatus`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DesiredStatus {
    #[default]
    Run,
    Stop,
    Evict,
    #[serde(other)]
    Unknown,
}

/// The state of a job's deployment (`Status`).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DeploymentStatus {
    #[default]
    Running,
    Paused,
    Failed,
    Successful,
    Cancelled,
    #[serde(other)]
    Unknown,
}

/// An allocation as `GET /v1/job/:id/allocations` lists it (the fields used here).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AllocStub {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub job_version: u64,
    #[serde(default)]
    pub client_status: ClientStatus,
    #[serde(default)]
    pub client_description: String,
    #[serde(default)]
    pub desired_status: DesiredStatus,
    #[serde(default)]
    pub task_states: Option<HashMap<String, TaskState>>,
    #[serde(default)]
    pub create_index: u64,
}

/// A task's state in an allocation.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TaskState {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub failed: bool,
    #[serde(default)]
    pub restarts: u64,
    #[serde(default)]
    pub events: Option<Vec<TaskEvent>>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct TaskEvent {
    #[serde(rename = "Type", default)]
    pub kind: String,
    #[serde(default)]
    pub display_message: String,
    #[serde(default)]
    pub exit_code: i32,
    #[serde(default)]
    pub details: Option<HashMap<String, String>>,
}

/// An evaluation (the fields used here).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Evaluation {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub status_description: String,
    /// Task groups that could not be placed, and why.
    #[serde(rename = "FailedTGAllocs", default)]
    pub failed_tg_allocs: Option<HashMap<String, AllocationMetric>>,
}

/// A job's deployment: the rollout of one of its versions.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct Deployment {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(default)]
    pub job_version: u64,
    #[serde(default)]
    pub status: DeploymentStatus,
    #[serde(default)]
    pub status_description: String,
}

/// Why a task group did not fit (`AllocationMetric`).
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationMetric {
    #[serde(default)]
    pub nodes_evaluated: u64,
    #[serde(default)]
    pub nodes_exhausted: u64,
    #[serde(default)]
    pub dimension_exhausted: Option<HashMap<String, u64>>,
    #[serde(default)]
    pub constraint_filtered: Option<HashMap<String, u64>>,
}

/// Nomad unreachable: the platform's fault, retried by the one retry policy.
pub fn unreachable(address: &str, e: impl Into<BoxError>) -> Error {
    let source = e.into();
    Error::Runtime {
        message: format!("Nomad is unreachable at {address}: {source}"),
        source: Some(source),
    }
}

/// A refusal of Nomad, by status. Nomad answers errors in plain text: a job that fails
/// validation (400, or 500 with its multi-error text) is the app's or the configuration's
/// fault, with Nomad's words; anything else the platform's.
pub fn refused(what: &str, status: u16, body: &str) -> Error {
    let body = body.trim();
    let invalid = status == 400
        || (status == 500 && (body.contains("validation") || body.contains("error occurred")));
    if invalid {
        Error::StartFailed(format!("Nomad rejected the {what}: {body}"))
    } else if status == 404 {
        Error::NotFound("nomad object")
    } else {
        Error::runtime(format!("Nomad answered {status} to {what}: {body}"))
    }
}

impl NomadApi {
    pub fn new(settings: NomadSettings) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::runtime_from("building the Nomad client", e))?;
        Ok(Self { http, settings })
    }

    pub fn settings(&self) -> &NomadSettings {
        &self.settings
    }

    /// The address of the region's leader (`GET /v1/status/leader`, which needs no ACL): that
    /// Nomad answers and has a leader, checked at start-up.
    pub async fn leader(&self) -> Result<String> {
        let req = self.get("/status/leader").timeout(Duration::from_secs(5));
        let resp = self.send("the leader query", req).await?;
        resp.json()
            .await
            .map_err(|e| Error::runtime_from("unreadable answer of Nomad to the leader query", e))
    }

    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.scoped(self.http.get(format!("{}/v1{path}", self.settings.address)))
    }

    /// A request in the configured namespace and region, with the ACL token.
    fn scoped(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(ns) = &self.settings.namespace {
            req = req.query(&[("namespace", ns)]);
        }
        if let Some(region) = &self.settings.region {
            req = req.query(&[("region", region)]);
        }
        if let Some(token) = &self.settings.token {
            req = req.header("X-Nomad-Token", token.expose());
        }
        req
    }

    async fn send(&self, what: &str, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req
            .send()
            .await
            .map_err(|e| unreachable(&self.settings.address, e))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(resp);
        }
        let body = resp.text().await.unwrap_or_default();
        Err(refused(what, status, &body))
    }

    /// A blocking query: waits on the server until the object's index passes `index` (or
    /// `wait` elapses). Returns the body and the new index.
    async fn blocking<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
        path: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(T, u64)> {
        let mut req = self.get(path);
        if index > 0 {
            req = req.query(&[
                ("index", index.to_string()),
                ("wait", format!("{}ms", wait.as_millis())),
            ]);
        }
        // Nomad adds up to wait/16 of jitter.
        let req = req.timeout(wait + wait / 8 + Duration::from_secs(5));
        let resp = self.send(what, req).await?;
        let next = resp
            .headers()
            .get("X-Nomad-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = resp
            .json()
            .await
            .map_err(|e| Error::runtime_from(format!("unreadable answer of Nomad to {what}"), e))?;
        // An index that went backwards (a new leader) starts over.
        Ok((body, if next < index { 0 } else { next }))
    }

    /// A job's allocations, blocking until they change after `index`.
    pub async fn job_allocations(
        &self,
        job: &str,
        index: u64,
        wait: Duration,
    ) -> Result<(Vec<AllocStub>, u64)> {
        self.blocking(
            "the allocation list",
            &format!("/job/{job}/allocations"),
            index,
            wait,
        )
        .await
    }

    /// One allocation, blocking until it changes after `index`; `None` once Nomad forgot it.
    pub async fn allocation(
        &self,
        id: &str,
        index: u64,
        wait: Duration,
    ) -> Result<Option<(AllocStub, u64)>> {
        match self
            .blocking("the allocation", &format!("/allocation/{id}"), index, wait)
            .await
        {
            Ok(found) => Ok(Some(found)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1/job/:id/revert`: the job back to an earlier version.
    pub async fn revert(&self, job: &str, version: u64) -> Result<()> {
        let req = self.scoped(
            self.http
                .post(format!("{}/v1/job/{job}/revert", self.settings.address))
                .json(&serde_json::json!({ "JobID": job, "JobVersion": version })),
        );
        self.send("the job revert", req).await.map(|_| ())
    }

    /// `POST /v1/job/:id/scale`: the count of the job's group (Nomad places or stops
    /// allocations to match it).
    pub async fn scale(&self, job: &str, group: &str, count: u32, message: &str) -> Result<()> {
        let req = self.scoped(
            self.http
                .post(format!("{}/v1/job/{job}/scale", self.settings.address))
                .json(&serde_json::json!({
                    "Count": count,
                    "Target": { "Group": group },
                    "Message": message,
                })),
        );
        self.send("the job scaling", req).await.map(|_| ())
    }

    /// The job's latest deployment (`null` when it has none).
    pub async fn job_deployment(&self, job: &str) -> Result<Option<Deployment>> {
        let resp = self
            .send(
                "the deployment",
                self.get(&format!("/job/{job}/deployment")),
            )
            .await?;
        resp.json()
            .await
            .map_err(|e| Error::runtime_from("unreadable deployment", e))
    }

    pub async fn evaluation(&self, id: &str) -> Result<Evaluation> {
        let resp = self
            .send("the evaluation", self.get(&format!("/evaluation/{id}")))
            .await?;
        resp.json()
            .await
            .map_err(|e| Error::runtime_from("unreadable evaluation", e))
    }

    /// `GET /v1/client/fs/logs/:alloc`, framed: the task's `kind` (`stdout`/`stderr`) log from
    /// byte `offset` counted from `origin` (`start` or `end`).
    pub async fn logs(
        &self,
        alloc: &str,
        task: &str,
        kind: &str,
        origin: &str,
        offset: u64,
        follow: bool,
    ) -> Result<reqwest::Response> {
        let req = self.get(&format!("/client/fs/logs/{alloc}")).query(&[
            ("task", task.to_owned()),
            ("type", kind.to_owned()),
            ("origin", origin.to_owned()),
            ("offset", offset.to_string()),
            ("follow", follow.to_string()),
            ("plain", "false".to_owned()),
        ]);
        self.send("the log request", req).await
    }
}
