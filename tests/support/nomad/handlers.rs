//! Routing and the job endpoints: list, read, revert, deregister (register in `register.rs`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{Value, json};

use super::allocs::{blocking, full, restart, stop_alloc, stub};
use super::logs::logs;
use super::register::register;
use super::{Alloc, Request, Shared, indexed, new_id, text};

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
        (Method::POST | Method::PUT, ["jobs"]) => register(&shared, body, &query).await,
        (Method::GET, ["jobs"]) => list_jobs(&shared, &query),
        (Method::GET, ["job", id]) => read_job(&shared, id),
        (Method::POST | Method::PUT, ["job", id, "revert"]) => revert(&shared, id, &body, &query),
        (Method::DELETE, ["job", id]) => deregister(&shared, id, &query),
        (Method::POST | Method::PUT, ["job", id, "scale"]) => {
            super::scale::scale(&shared, id, &body, &query).await
        }
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
/// Refusals as Nomad's (`command/agent/job_endpoint.go` `jobRevert`: 400; `nomad/job_endpoint.go`
/// `Job.Revert`: plain errors, answered 500).
pub(super) fn revert(
    shared: &Arc<Shared>,
    id: &str,
    body: &Value,
    query: &HashMap<String, String>,
) -> Response {
    if body["JobID"].as_str().unwrap_or_default().is_empty() {
        return text(StatusCode::BAD_REQUEST, "JobID must be specified");
    }
    if body["JobID"] != id {
        return text(StatusCode::BAD_REQUEST, "Job ID does not match");
    }
    let to = body["JobVersion"].as_u64().unwrap_or(0);
    let namespace = query.get("namespace").map_or("default", String::as_str);
    shared.with(|s| {
        let index = s.index + 1;
        let Some(j) = s.jobs.get_mut(id) else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("job {id:?} not found"),
            );
        };
        if to == j.version {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "can't revert to current version",
            );
        }
        let Some(spec) = usize::try_from(to)
            .ok()
            .and_then(|v| j.history.get(v))
            .cloned()
        else {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("job {id:?} in namespace {namespace:?} at version {to} not found"),
            );
        };
        j.history.push(j.job.clone());
        j.job = spec;
        j.version += 1;
        j.modify_index = index;
        s.reverts.push((id.to_owned(), to));
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
