//! Routing and the job endpoints: register, list, read, revert, deregister.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::allocs::{app_server, blocking, full, restart, stop_alloc, stub};
use super::logs::logs;
use super::spec::check_job;
use super::{Alloc, JobEntry, NextAlloc, Request, Shared, event, fail, indexed, new_id, text};

pub(super) async fn handle(
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
        // Nomad answers the leader's RPC address as a JSON string (no ACL needed).
        (Method::GET, ["status", "leader"]) => {
            axum::response::IntoResponse::into_response(axum::Json(json!("127.0.0.1:4647")))
        }
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

pub(super) async fn register(shared: &Arc<Shared>, body: Value) -> Response {
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

pub(super) fn list_jobs(shared: &Arc<Shared>, query: &HashMap<String, String>) -> Response {
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
pub(super) fn revert(shared: &Arc<Shared>, id: &str, body: &Value) -> Response {
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

pub(super) fn read_job(shared: &Arc<Shared>, id: &str) -> Response {
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

pub(super) fn deregister(
    shared: &Arc<Shared>,
    id: &str,
    query: &HashMap<String, String>,
) -> Response {
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
