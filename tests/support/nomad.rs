//! A Nomad HTTP API inside the test process, for the part of the API the Nomad runtime uses.
//! Nomad cannot be installed on these machines; this server follows Nomad's API documentation
//! (developer.hashicorp.com/nomad/api-docs): PascalCase JSON, plain-text errors, durations in
//! nanoseconds, `X-Nomad-Index` and blocking queries (`index`, `wait`), `X-Nomad-Token`,
//! `?namespace=`/`?region=`, framed allocation logs (JSON frames back to back, base64 `Data`,
//! `{}` heartbeats every second, a followed log that does not end when the task dies), and
//! `GET /v1/status/leader` (the start-up check: the leader's RPC address as a JSON string).
//!
//! It checks every request it receives (method, path, token, namespace, the job's fields):
//! it refuses what Nomad refuses, with Nomad's status and words (`validate.rs`, after Nomad's
//! source), and records both those refusals and what the platform needs beyond Nomad's rules
//! (`spec.rs`) in [`FakeNomad::problems`], which tests assert to be empty. It answers as Nomad
//! does: allocations, evaluations and deployments in the job's namespace, allocated ports
//! mapped `To` the job's port, log frames naming the file they come from, rollouts as the job's
//! `Update` block says (`register.rs`), a group's count changed through the job's scale
//! endpoint (`scale.rs`).
//!
//! A "running" allocation is a small HTTP server on 127.0.0.1 answering `hello from nomad`, so
//! the platform's start check and users' requests reach something real.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::sync::Notify;

mod allocs;
mod handlers;
mod logs;
mod register;
mod scale;
mod spec;
mod validate;

use allocs::{event, fail};
use handlers::handle;

/// What registrations do, until told otherwise.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum NextAlloc {
    /// Placed, pending for a moment, then running.
    #[default]
    Run,
    /// Placed, then its task fails with this exit code and message.
    Fail { exit_code: i32, message: String },
    /// No node has room: the evaluation reports the memory dimension exhausted.
    NoCapacity,
    /// The job fails validation with this message (HTTP 500, Nomad's multi-error text).
    Reject(String),
}

#[derive(Clone, Debug)]
pub struct Alloc {
    pub id: String,
    pub job_id: String,
    /// The job's namespace.
    pub namespace: String,
    pub version: u64,
    pub client_status: String,
    pub desired_status: String,
    pub create_index: u64,
    pub modify_index: u64,
    /// The allocated host port, and the port it maps `To` (the job's dynamic port's).
    pub port: u16,
    pub to: u16,
    /// A canary not promoted yet.
    pub canary: bool,
    pub restarts: u64,
    pub events: Vec<Value>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub meta: Value,
    server: Option<Arc<tokio::task::JoinHandle<()>>>,
}

impl Alloc {
    /// The scheduler stops it: replaced, or its job deregistered.
    fn retire(&mut self, index: u64) {
        self.desired_status = "stop".into();
        if self.client_status == "running" || self.client_status == "pending" {
            self.client_status = "complete".into();
        }
        self.modify_index = index;
        if let Some(srv) = self.server.take() {
            srv.abort();
        }
    }
}

#[derive(Clone, Debug)]
pub struct JobEntry {
    pub job: Value,
    pub version: u64,
    pub modify_index: u64,
    /// Earlier versions' specs, oldest first (for revert).
    pub history: Vec<Value>,
}

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub token: Option<String>,
    pub body: Value,
}

#[derive(Default)]
struct StateInner {
    index: u64,
    jobs: HashMap<String, JobEntry>,
    allocs: HashMap<String, Alloc>,
    evals: HashMap<String, Value>,
    /// The latest deployment of each job.
    deployments: HashMap<String, Value>,
    requests: Vec<Request>,
    problems: Vec<String>,
    /// Each revert done: the job and the version it went back to.
    reverts: Vec<(String, u64)>,
    next: NextAlloc,
}

struct Shared {
    state: Mutex<StateInner>,
    changed: Notify,
    token: Option<String>,
    namespace: Option<String>,
}

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut StateInner) -> R) -> R {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut s)
    }
    fn bump(&self, s: &mut StateInner) -> u64 {
        s.index += 1;
        self.changed.notify_waiters();
        s.index
    }
}

/// The fake cluster. Dropping it stops its server and its allocations.
pub struct FakeNomad {
    pub address: String,
    shared: Arc<Shared>,
    server: Option<tokio::task::JoinHandle<()>>,
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, body.into()).into_response()
}

fn indexed(index: u64, body: Value) -> Response {
    let mut resp = axum::Json(body).into_response();
    let h = resp.headers_mut();
    h.insert("X-Nomad-Index", index.into());
    h.insert("X-Nomad-KnownLeader", "true".parse().expect("header"));
    h.insert("X-Nomad-LastContact", "0".parse().expect("header"));
    resp
}

/// Go duration strings as Nomad's `wait` takes them (`5s`, `100ms`, `1m`).
fn go_duration(s: &str) -> Option<Duration> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return None,
    })
}

impl FakeNomad {
    /// Starts the fake; every request must carry `token` (if any) and `namespace` (if any).
    pub async fn start(token: Option<&str>, namespace: Option<&str>) -> anyhow::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(StateInner {
                index: 1,
                ..Default::default()
            }),
            changed: Notify::new(),
            token: token.map(str::to_owned),
            namespace: namespace.map(str::to_owned),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr: SocketAddr = listener.local_addr()?;
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            address: format!("http://{addr}"),
            shared,
            server: Some(server),
        })
    }

    /// Stops answering (connections are refused): Nomad down.
    pub fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.abort();
        }
    }

    pub fn set_next(&self, next: NextAlloc) {
        self.shared.with(|s| s.next = next);
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.with(|s| s.requests.clone())
    }

    /// What the fake refused or found wrong in requests.
    pub fn problems(&self) -> Vec<String> {
        self.shared.with(|s| s.problems.clone())
    }

    /// The reverts done, in order: (job, version it went back to).
    pub fn reverts(&self) -> Vec<(String, u64)> {
        self.shared.with(|s| s.reverts.clone())
    }

    pub fn job(&self, id: &str) -> Option<JobEntry> {
        self.shared.with(|s| s.jobs.get(id).cloned())
    }

    pub fn alloc(&self, id: &str) -> Option<Alloc> {
        self.shared.with(|s| s.allocs.get(id).cloned())
    }

    pub fn allocs_of(&self, job: &str) -> Vec<Alloc> {
        self.shared.with(|s| {
            let mut v: Vec<Alloc> = s
                .allocs
                .values()
                .filter(|a| a.job_id == job)
                .cloned()
                .collect();
            v.sort_by_key(|a| a.create_index);
            v
        })
    }

    /// The task writes to its stdout.
    pub fn write_stdout(&self, alloc: &str, text: &str) {
        let shared = &self.shared;
        shared.with(|s| {
            if let Some(a) = s.allocs.get_mut(alloc) {
                a.stdout.extend_from_slice(text.as_bytes());
            }
            shared.bump(s);
        });
    }

    /// The task dies with `exit_code`, writing `last_words` to stderr; Nomad gives up on it.
    pub fn crash(&self, alloc: &str, exit_code: i32, last_words: &str) {
        let shared = &self.shared;
        shared.with(|s| {
            let index = s.index + 1;
            if let Some(a) = s.allocs.get_mut(alloc) {
                a.stderr.extend_from_slice(last_words.as_bytes());
                a.stderr.push(b'\n');
                fail(a, exit_code, "Exit Code: non-zero", index);
                if let Some(srv) = a.server.take() {
                    srv.abort();
                }
            }
            shared.bump(s);
        });
    }
}

impl Drop for FakeNomad {
    fn drop(&mut self) {
        self.stop();
        self.shared.with(|s| {
            for a in s.allocs.values_mut() {
                if let Some(srv) = a.server.take() {
                    srv.abort();
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::go_duration;
    use std::time::Duration;

    #[test]
    fn go_durations() {
        assert_eq!(go_duration("5s"), Some(Duration::from_secs(5)));
        assert_eq!(go_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(go_duration("soon"), None);
    }
}
