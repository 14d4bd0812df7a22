//! A Nomad HTTP API inside the test process, for the part of the API the Nomad runtime uses.
//! Nomad cannot be installed on these machines; this server follows Nomad's API documentation
//! (developer.hashicorp.com/nomad/api-docs): PascalCase JSON, plain-text errors, durations in
//! nanoseconds, `X-Nomad-Index` and blocking queries (`index`, `wait`), `X-Nomad-Token`,
//! `?namespace=`/`?region=`, framed allocation logs (JSON frames back to back, base64 `Data`,
//! `{}` heartbeats every second, a followed log that does not end when the task dies).
//!
//! It checks every request it receives (method, path, token, namespace, the job's fields) and
//! records what it refused in [`FakeNomad::problems`], which tests assert to be empty.
//!
//! A "running" allocation is a small HTTP server on 127.0.0.1 answering `hello from nomad`, so
//! the platform's start check and users' requests reach something real.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Value, json};
use tokio::sync::Notify;

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
    pub version: u64,
    pub client_status: String,
    pub desired_status: String,
    pub create_index: u64,
    pub modify_index: u64,
    pub port: u16,
    pub restarts: u64,
    pub events: Vec<Value>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub meta: Value,
    server: Option<Arc<tokio::task::JoinHandle<()>>>,
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

fn event(kind: &str, message: &str, exit_code: i32) -> Value {
    json!({
        "Type": kind,
        "Time": chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0),
        "DisplayMessage": message,
        "Message": "",
        "ExitCode": exit_code,
        "Details": { "exit_code": exit_code.to_string() },
        "FailsTask": kind == "Not Restarting",
    })
}

fn fail(a: &mut Alloc, exit_code: i32, message: &str, index: u64) {
    a.events.push(event("Terminated", message, exit_code));
    a.events.push(event(
        "Not Restarting",
        "Exceeded allowed attempts 2 in interval 5m0s and mode is \"fail\"",
        0,
    ));
    a.client_status = "failed".into();
    a.modify_index = index;
}

fn stub(a: &Alloc) -> Value {
    let state = match a.client_status.as_str() {
        "running" => "running",
        "pending" => "pending",
        _ => "dead",
    };
    json!({
        "ID": a.id,
        "EvalID": new_id(),
        "Name": format!("{}.app[0]", a.job_id),
        "Namespace": "default",
        "NodeID": "node-1",
        "NodeName": "fake-node",
        "JobID": a.job_id,
        "JobType": "service",
        "JobVersion": a.version,
        "TaskGroup": "app",
        "DesiredStatus": a.desired_status,
        "DesiredDescription": "",
        "ClientStatus": a.client_status,
        "ClientDescription": match a.client_status.as_str() {
            "running" => "Tasks are running",
            "pending" => "No tasks have started",
            "failed" => "Failed tasks",
            _ => "All tasks have completed",
        },
        "TaskStates": { "app": {
            "State": state,
            "Failed": a.client_status == "failed",
            "Restarts": a.restarts,
            "Events": a.events,
        }},
        "DeploymentStatus": { "Healthy": a.client_status == "running", "Canary": false },
        "CreateIndex": a.create_index,
        "ModifyIndex": a.modify_index,
        "CreateTime": 0,
        "ModifyTime": 0,
    })
}

fn full(a: &Alloc) -> Value {
    let mut v = stub(a);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "AllocatedResources".into(),
            json!({
                "Shared": {
                    "DiskMB": 300,
                    "Networks": [{ "Mode": "host", "IP": "127.0.0.1",
                                   "DynamicPorts": [{ "Label": "http", "Value": a.port, "To": 0 }] }],
                    "Ports": [{ "Label": "http", "Value": a.port, "To": 0, "HostIP": "127.0.0.1" }],
                },
                "Tasks": { "app": { "Cpu": { "CpuShares": 100 }, "Memory": { "MemoryMB": 256 } } },
            }),
        );
        o.insert("Job".into(), json!({ "ID": a.job_id, "Meta": a.meta }));
    }
    v
}

/// A tiny HTTP server standing in for the app of a running allocation.
async fn app_server() -> Option<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
    let port = listener.local_addr().ok()?.port();
    let app = Router::new().fallback(|| async { "hello from nomad" });
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Some((port, h))
}

/// Checks a job against what the runtime must send; returns what is wrong.
fn check_job(job: &Value, namespace: Option<&str>) -> Vec<String> {
    let mut p = Vec::new();
    let mut need = |ok: bool, what: &str| {
        if !ok {
            p.push(format!("job spec: {what}: {job}"));
        }
    };
    need(
        job["ID"].as_str().is_some_and(|id| id.starts_with("paas-")),
        "ID derived from the app id",
    );
    need(job["Type"] == "service", "Type service");
    need(
        job["Datacenters"].as_array().is_some_and(|d| !d.is_empty()),
        "Datacenters",
    );
    if let Some(ns) = namespace {
        need(job["Namespace"] == ns, "Namespace");
    }
    need(job["Meta"]["paas.app"].is_string(), "Meta paas.app");
    need(
        job["Meta"]["paas.deployment"].is_string(),
        "Meta paas.deployment",
    );
    let groups = job["TaskGroups"].as_array().cloned().unwrap_or_default();
    need(groups.len() == 1, "one task group");
    let Some(g) = groups.first() else { return p };
    need(g["Count"] == 1, "Count 1");
    let dynamic = &g["Networks"][0]["DynamicPorts"][0];
    need(dynamic["Label"] == "http", "a dynamic port labelled http");
    need(
        dynamic["To"].as_u64().is_some_and(|t| t > 0),
        "the dynamic port maps To the app port",
    );
    let u = &g["Update"];
    need(u["AutoRevert"] == true, "Update.AutoRevert");
    need(u["MaxParallel"] == 1, "Update.MaxParallel");
    need(u["HealthCheck"] == "checks", "Update.HealthCheck checks");
    need(
        u["HealthyDeadline"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "HealthyDeadline in ns",
    );
    need(
        u["MinHealthyTime"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "MinHealthyTime in ns",
    );
    need(g["RestartPolicy"]["Mode"].is_string(), "RestartPolicy");
    need(
        g["RestartPolicy"]["Delay"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "RestartPolicy.Delay in ns",
    );
    need(g["ReschedulePolicy"].is_object(), "ReschedulePolicy");
    let check = &g["Services"][0]["Checks"][0];
    need(
        g["Services"][0]["PortLabel"] == "http",
        "a service on the http port",
    );
    need(
        check["Type"] == "tcp" || check["Type"] == "http",
        "a tcp or http check",
    );
    need(
        check["Interval"]
            .as_i64()
            .is_some_and(|n| n >= 1_000_000_000),
        "check Interval in ns",
    );
    let tasks = g["Tasks"].as_array().cloned().unwrap_or_default();
    need(tasks.len() == 1, "one task");
    let Some(t) = tasks.first() else { return p };
    need(
        t["Driver"] == "podman" || t["Driver"] == "docker",
        "Driver podman or docker",
    );
    need(
        t["Config"]["image"].as_str().is_some_and(|i| !i.is_empty()),
        "Config.image",
    );
    need(
        t["Config"]["ports"]
            .as_array()
            .is_some_and(|ps| ps.iter().any(|x| x == "http")),
        "Config.ports names http",
    );
    need(t["Env"]["PORT"].is_string(), "Env.PORT");
    need(
        t["Resources"]["CPU"].as_i64().is_some_and(|c| c > 0),
        "Resources.CPU (MHz)",
    );
    need(
        t["Resources"]["MemoryMB"].as_i64().is_some_and(|m| m > 0),
        "Resources.MemoryMB",
    );
    p
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let token = headers
        .get("X-Nomad-Token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    shared.with(|s| {
        s.requests.push(Request {
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            token: token.clone(),
            body: body.clone(),
        });
    });
    if let Some(expected) = &shared.token
        && token.as_deref() != Some(expected)
    {
        shared.with(|s| {
            s.problems
                .push(format!("{method} {path}: no or wrong X-Nomad-Token"))
        });
        return text(StatusCode::FORBIDDEN, "Permission denied");
    }
    // The node endpoint of nomad-client-rs takes no namespace (nodes have none).
    if let Some(ns) = &shared.namespace
        && !path.starts_with("/v1/node/")
        && !path.ends_with("/restart")
        && !path.ends_with("/stop")
        && query.get("namespace") != Some(ns)
        // Registration may name it in the body instead (Nomad's precedence: query, body, job).
        && !(path == "/v1/jobs" && (body["Namespace"] == *ns || body["Job"]["Namespace"] == *ns))
    {
        shared.with(|s| {
            s.problems
                .push(format!("{method} {path}: namespace missing"))
        });
    }
    let parts: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    match (method.clone(), parts.as_slice()) {
        (Method::POST | Method::PUT, ["jobs"]) => register(&shared, body).await,
        (Method::GET, ["jobs"]) => list_jobs(&shared, &query),
        (Method::GET, ["job", id]) => read_job(&shared, id),
        (Method::POST | Method::PUT, ["job", id, "revert"]) => revert(&shared, id, &body),
        (Method::DELETE, ["job", id]) => deregister(&shared, id, &query),
        (Method::GET, ["job", id, "deployment"]) => {
            // 200 with `null` for a job without one (or an unknown job), as Nomad answers.
            let id = id.to_string();
            blocking(&shared, &query, move |s| {
                Some(s.deployments.get(&id).cloned().unwrap_or(Value::Null))
            })
            .await
        }
        (Method::GET, ["job", id, "allocations"]) => {
            let id = id.to_string();
            blocking(&shared, &query, move |s| {
                let mut list: Vec<&Alloc> = s.allocs.values().filter(|a| a.job_id == id).collect();
                list.sort_by_key(|a| a.create_index);
                Some(Value::Array(list.into_iter().map(stub).collect()))
            })
            .await
        }
        (Method::GET, ["allocation", id]) => {
            let id = id.to_string();
            blocking(&shared, &query, move |s| s.allocs.get(&id).map(full)).await
        }
        (Method::POST | Method::PUT, ["allocation", id, "stop"]) => stop_alloc(&shared, id),
        (Method::POST | Method::PUT, ["client", "allocation", id, "restart"]) => {
            restart(&shared, id, &body)
        }
        (Method::GET, ["evaluation", id]) => match shared.with(|s| s.evals.get(*id).cloned()) {
            Some(e) => indexed(shared.with(|s| s.index), e),
            None => text(StatusCode::NOT_FOUND, "eval not found"),
        },
        (Method::GET, ["node", id]) => indexed(
            shared.with(|s| s.index),
            json!({ "ID": id, "Name": "fake-node", "HTTPAddr": "127.0.0.1:4646", "Status": "ready" }),
        ),
        (Method::GET, ["client", "fs", "logs", id]) => logs(shared.clone(), id, &query).await,
        _ => {
            shared.with(|s| {
                s.problems
                    .push(format!("unexpected request {method} {path}"))
            });
            text(
                StatusCode::NOT_FOUND,
                format!("no handler for {method} {path}"),
            )
        }
    }
}

async fn register(shared: &Arc<Shared>, body: Value) -> Response {
    let job = body["Job"].clone();
    if !job.is_object() {
        return text(StatusCode::BAD_REQUEST, "Job must be specified");
    }
    let problems = check_job(&job, shared.namespace.as_deref());
    if !problems.is_empty() {
        shared.with(|s| s.problems.extend(problems.clone()));
        return text(StatusCode::BAD_REQUEST, problems.join("\n"));
    }
    let next = shared.with(|s| s.next.clone());
    if let NextAlloc::Reject(message) = &next {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "1 error occurred:\n\t* Task group app validation failed: 1 error occurred:\n\t* {message}\n\n"
            ),
        );
    }
    let id = job["ID"].as_str().unwrap_or_default().to_owned();
    let eval_id = new_id();
    let (index, version, alloc) = shared.with(|s| {
        let index = shared.bump(s);
        let version = s.jobs.get(&id).map_or(0, |j| j.version + 1);
        let mut history = s
            .jobs
            .get(&id)
            .map(|j| j.history.clone())
            .unwrap_or_default();
        if let Some(previous) = s.jobs.get(&id) {
            history.push(previous.job.clone());
        }
        s.jobs.insert(
            id.clone(),
            JobEntry {
                job: job.clone(),
                version,
                modify_index: index,
                history,
            },
        );
        let mut eval = json!({
            "ID": eval_id, "Namespace": "default", "Priority": 50, "Type": "service",
            "TriggeredBy": "job-register", "JobID": id, "JobModifyIndex": index,
            "Status": "complete", "StatusDescription": "", "FailedTGAllocs": null,
            "CreateIndex": index, "ModifyIndex": index,
        });
        let alloc = if next == NextAlloc::NoCapacity {
            eval["FailedTGAllocs"] = json!({ "app": {
                "NodesEvaluated": 1, "NodesFiltered": 0, "NodesInPool": 1,
                "NodesAvailable": { "dc1": 1 }, "NodesExhausted": 1,
                "DimensionExhausted": { "memory": 1 }, "ConstraintFiltered": null,
                "ClassExhausted": null, "CoalescedFailures": 0,
            }});
            eval["BlockedEval"] = json!(new_id());
            None
        } else {
            let a = Alloc {
                id: new_id(),
                job_id: id.clone(),
                version,
                client_status: "pending".into(),
                desired_status: "run".into(),
                create_index: index,
                modify_index: index,
                port: 0,
                restarts: 0,
                events: vec![event("Received", "Task received by client", 0)],
                stdout: Vec::new(),
                stderr: Vec::new(),
                meta: job["Meta"].clone(),
                server: None,
            };
            s.allocs.insert(a.id.clone(), a.clone());
            s.deployments.insert(
                id.clone(),
                json!({ "ID": new_id(), "Namespace": "default", "JobID": id, "JobVersion": version,
                        "JobModifyIndex": index, "Status": "running",
                        "StatusDescription": "Deployment is running",
                        "TaskGroups": { "app": { "AutoRevert": true, "DesiredCanaries": 1,
                                                 "DesiredTotal": 1, "PlacedAllocs": 1,
                                                 "HealthyAllocs": 0, "UnhealthyAllocs": 0 } },
                        "CreateIndex": index, "ModifyIndex": index }),
            );
            Some(a.id)
        };
        s.evals.insert(eval_id.clone(), eval);
        (index, version, alloc)
    });
    if let Some(alloc) = alloc {
        let shared = shared.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let server = match &next {
                NextAlloc::Fail { .. } => None,
                _ => app_server().await,
            };
            shared.with(|s| {
                let index = s.index + 1;
                if let Some(a) = s.allocs.get_mut(&alloc) {
                    a.events.push(event("Started", "Task started by client", 0));
                    match &next {
                        NextAlloc::Fail { exit_code, message } => {
                            a.stderr.extend_from_slice(message.as_bytes());
                            a.stderr.push(b'\n');
                            fail(a, *exit_code, message, index);
                            if let Some(d) = s.deployments.get_mut(&id) {
                                d["Status"] = json!("failed");
                                d["StatusDescription"] = json!(if version > 0 {
                                    format!("Failed due to unhealthy allocations - rolling back to job version {}", version - 1)
                                } else {
                                    "Failed due to unhealthy allocations".to_owned()
                                });
                                d["TaskGroups"]["app"]["UnhealthyAllocs"] = json!(1);
                            }
                        }
                        _ => {
                            if let Some((port, h)) = server {
                                a.port = port;
                                a.server = Some(Arc::new(h));
                            }
                            a.client_status = "running".into();
                            if let Some(d) = s.deployments.get_mut(&id) {
                                d["Status"] = json!("successful");
                                d["StatusDescription"] = json!("Deployment completed successfully");
                                d["TaskGroups"]["app"]["HealthyAllocs"] = json!(1);
                            }
                            a.stdout.extend_from_slice(
                                format!("starting version {version}\nlistening\n").as_bytes(),
                            );
                            a.modify_index = index;
                        }
                    }
                }
                // A healthy canary is promoted: older allocations of the job stop.
                if matches!(next, NextAlloc::Run) {
                    for other in s.allocs.values_mut() {
                        if other.job_id == id && other.id != alloc && other.desired_status == "run"
                        {
                            other.desired_status = "stop".into();
                            other.client_status = "complete".into();
                            other.modify_index = index;
                            if let Some(srv) = other.server.take() {
                                srv.abort();
                            }
                        }
                    }
                }
                shared.bump(s);
            });
        });
    }
    indexed(
        index,
        json!({ "EvalID": eval_id, "EvalCreateIndex": index, "JobModifyIndex": index,
                "Warnings": "", "Index": index, "LastContact": 0, "KnownLeader": true }),
    )
}

fn list_jobs(shared: &Arc<Shared>, query: &HashMap<String, String>) -> Response {
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let meta = query.get("meta").is_some_and(|m| m == "true");
    shared.with(|s| {
        let jobs: Vec<Value> = s
            .jobs
            .iter()
            .filter(|(id, _)| id.starts_with(&prefix))
            .map(|(id, j)| {
                let mut v = json!({ "ID": id, "Name": j.job["Name"], "Type": "service",
                                    "Status": "running", "Version": j.version,
                                    "JobModifyIndex": j.modify_index });
                if meta {
                    v["Meta"] = j.job["Meta"].clone();
                }
                v
            })
            .collect();
        indexed(s.index, Value::Array(jobs))
    })
}

/// `POST /v1/job/:id/revert {"JobID", "JobVersion"}`: the job goes back to an earlier
/// version's spec, as a new version; no allocation changes (the live one is that version's).
fn revert(shared: &Arc<Shared>, id: &str, body: &Value) -> Response {
    if body["JobID"] != id {
        return text(StatusCode::BAD_REQUEST, "Job ID does not match");
    }
    let Some(to) = body["JobVersion"].as_u64() else {
        return text(StatusCode::BAD_REQUEST, "missing JobVersion");
    };
    shared.with(|s| {
        let index = s.index + 1;
        let Some(j) = s.jobs.get_mut(id) else {
            return text(StatusCode::NOT_FOUND, "job not found");
        };
        let Some(spec) = usize::try_from(to)
            .ok()
            .and_then(|v| j.history.get(v))
            .cloned()
        else {
            return text(
                StatusCode::BAD_REQUEST,
                format!("job version {to} not found"),
            );
        };
        j.history.push(j.job.clone());
        j.job = spec;
        j.version += 1;
        j.modify_index = index;
        shared.bump(s);
        indexed(
            index,
            json!({ "EvalID": new_id(), "EvalCreateIndex": index, "JobModifyIndex": index }),
        )
    })
}

fn read_job(shared: &Arc<Shared>, id: &str) -> Response {
    shared.with(|s| match s.jobs.get(id) {
        Some(j) => {
            let mut v = j.job.clone();
            v["Version"] = json!(j.version);
            v["Status"] = json!("running");
            v["JobModifyIndex"] = json!(j.modify_index);
            v["Stable"] = json!(false);
            indexed(s.index, v)
        }
        None => text(StatusCode::NOT_FOUND, "job not found"),
    })
}

fn deregister(shared: &Arc<Shared>, id: &str, query: &HashMap<String, String>) -> Response {
    let purge = query.get("purge").is_some_and(|p| p == "true");
    shared.with(|s| {
        if !s.jobs.contains_key(id) {
            return text(StatusCode::NOT_FOUND, "job not found");
        }
        let index = shared.bump(s);
        for a in s.allocs.values_mut().filter(|a| a.job_id == id) {
            a.desired_status = "stop".into();
            if a.client_status == "running" || a.client_status == "pending" {
                a.client_status = "complete".into();
            }
            a.modify_index = index;
            if let Some(srv) = a.server.take() {
                srv.abort();
            }
        }
        if purge {
            s.jobs.remove(id);
            s.deployments.remove(id);
            s.allocs.retain(|_, a| a.job_id != id);
        }
        indexed(
            index,
            json!({ "EvalID": new_id(), "EvalCreateIndex": index, "JobModifyIndex": index }),
        )
    })
}

fn stop_alloc(shared: &Arc<Shared>, id: &str) -> Response {
    shared.with(|s| {
        let index = s.index + 1;
        let Some(a) = s.allocs.get_mut(id) else {
            return text(StatusCode::NOT_FOUND, "alloc not found");
        };
        a.desired_status = "stop".into();
        a.client_status = "complete".into();
        a.modify_index = index;
        if let Some(srv) = a.server.take() {
            srv.abort();
        }
        shared.bump(s);
        indexed(index, json!({ "EvalID": new_id(), "Index": index }))
    })
}

fn restart(shared: &Arc<Shared>, id: &str, body: &Value) -> Response {
    if body["TaskName"] != "app" && body["AllTasks"] != true {
        return text(StatusCode::BAD_REQUEST, "unknown task name");
    }
    shared.with(|s| {
        let index = s.index + 1;
        let Some(a) = s.allocs.get_mut(id) else {
            return text(StatusCode::NOT_FOUND, "Unknown allocation");
        };
        if a.client_status != "running" {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "Task not running");
        }
        a.restarts += 1;
        a.events.push(event(
            "Restart Signaled",
            "User requested task to restart",
            0,
        ));
        a.events
            .push(event("Restarting", "Task restarting in 0s", 0));
        a.events.push(event("Started", "Task started by client", 0));
        a.stdout.extend_from_slice(b"restarted\n");
        a.modify_index = index;
        shared.bump(s);
        axum::Json(json!({})).into_response()
    })
}

/// A blocking query: with `index`, waits (up to `wait`, default 5 m) until the state's index
/// passes it.
async fn blocking(
    shared: &Arc<Shared>,
    query: &HashMap<String, String>,
    read: impl Fn(&StateInner) -> Option<Value>,
) -> Response {
    let since: u64 = query.get("index").and_then(|i| i.parse().ok()).unwrap_or(0);
    let wait = query
        .get("wait")
        .and_then(|w| go_duration(w))
        .unwrap_or(Duration::from_secs(300))
        .min(Duration::from_secs(600));
    if query.contains_key("wait") && query.get("wait").and_then(|w| go_duration(w)).is_none() {
        return text(StatusCode::BAD_REQUEST, "Invalid wait time");
    }
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let notified = shared.changed.notified();
        let (index, value) = shared.with(|s| (s.index, read(s)));
        if since == 0 || index > since || tokio::time::Instant::now() >= deadline {
            return match value {
                Some(v) => indexed(index, v),
                None => text(StatusCode::NOT_FOUND, "alloc not found"),
            };
        }
        let _ = tokio::time::timeout_at(deadline, notified).await;
    }
}

async fn logs(shared: Arc<Shared>, id: &str, query: &HashMap<String, String>) -> Response {
    if query.get("task").map(String::as_str) != Some("app") {
        return text(StatusCode::BAD_REQUEST, "unknown task name");
    }
    let kind = query.get("type").cloned().unwrap_or_default();
    if kind != "stdout" && kind != "stderr" {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "must provide log type (stdout/stderr)",
        );
    }
    if query.get("plain").is_some_and(|p| p == "true") {
        shared.with(|s| {
            s.problems
                .push("logs asked plain; the runtime reads frames".into())
        });
    }
    let follow = query.get("follow").is_some_and(|f| f == "true");
    let origin = query
        .get("origin")
        .cloned()
        .unwrap_or_else(|| "start".into());
    let offset: usize = query
        .get("offset")
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let id = id.to_owned();
    let content = move |s: &StateInner| -> Option<Vec<u8>> {
        let a = s.allocs.get(&id)?;
        Some(if kind == "stdout" {
            a.stdout.clone()
        } else {
            a.stderr.clone()
        })
    };
    let Some(now) = shared.with(|s| content(s)) else {
        return text(StatusCode::NOT_FOUND, "Unknown allocation");
    };
    let start = if origin == "end" {
        now.len().saturating_sub(offset)
    } else {
        offset.min(now.len())
    };
    let frame = |data: &[u8], at: usize| {
        json!({
            "Offset": at,
            "Data": base64::engine::general_purpose::STANDARD.encode(data),
            "File": "alloc/logs/app.stdout.0",
        })
        .to_string()
    };
    if !follow {
        let body = if start < now.len() {
            frame(&now[start..], now.len())
        } else {
            String::new()
        };
        return Response::builder()
            .header("Content-Type", "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response"));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut sent = start;
        let mut beat = tokio::time::Instant::now();
        loop {
            let current = shared.with(|s| content(s)).unwrap_or_default();
            if current.len() > sent {
                if tx
                    .send(Ok(frame(&current[sent..], current.len())))
                    .await
                    .is_err()
                {
                    return;
                }
                sent = current.len();
            }
            if beat.elapsed() >= Duration::from_secs(1) {
                // Nomad's heartbeat; the stream goes on after the task died.
                if tx.send(Ok("{}".to_owned())).await.is_err() {
                    return;
                }
                beat = tokio::time::Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response"))
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
