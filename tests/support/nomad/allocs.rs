//! Allocations as Nomad shows them (stubs, full reads, task events), their stand-in app servers,
//! and the calls that change one: stop, restart, and blocking reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Alloc, Shared, StateInner, go_duration, indexed, new_id, text};

pub(super) fn event(kind: &str, message: &str, exit_code: i32) -> Value {
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

pub(super) fn fail(a: &mut Alloc, exit_code: i32, message: &str, index: u64) {
    a.events.push(event("Terminated", message, exit_code));
    a.events.push(event(
        "Not Restarting",
        "Exceeded allowed attempts 2 in interval 5m0s and mode is \"fail\"",
        0,
    ));
    a.client_status = "failed".into();
    a.modify_index = index;
}

pub(super) fn stub(a: &Alloc) -> Value {
    let state = match a.client_status.as_str() {
        "running" => "running",
        "pending" => "pending",
        _ => "dead",
    };
    json!({
        "ID": a.id,
        "EvalID": new_id(),
        "Name": format!("{}.app[0]", a.job_id),
        "Namespace": a.namespace,
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
        "DeploymentStatus": { "Healthy": a.client_status == "running", "Canary": a.canary },
        "CreateIndex": a.create_index,
        "ModifyIndex": a.modify_index,
        "CreateTime": 0,
        "ModifyTime": 0,
    })
}

pub(super) fn full(a: &Alloc) -> Value {
    let mut v = stub(a);
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "AllocatedResources".into(),
            json!({
                "Shared": {
                    "DiskMB": 300,
                    "Networks": [{ "Mode": "host", "IP": "127.0.0.1",
                                   "DynamicPorts": [{ "Label": "http", "Value": a.port, "To": a.to }] }],
                    "Ports": [{ "Label": "http", "Value": a.port, "To": a.to, "HostIP": "127.0.0.1" }],
                },
                "Tasks": { "app": { "Cpu": { "CpuShares": 100 }, "Memory": { "MemoryMB": 256 } } },
            }),
        );
        o.insert(
            "Job".into(),
            json!({ "ID": a.job_id, "Namespace": a.namespace, "Meta": a.meta }),
        );
    }
    v
}

/// A tiny HTTP server standing in for the app of a running allocation.
pub(super) async fn app_server() -> Option<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.ok()?;
    let port = listener.local_addr().ok()?.port();
    let app = Router::new().fallback(|| async { "hello from nomad" });
    let h = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Some((port, h))
}

pub(super) fn stop_alloc(shared: &Arc<Shared>, id: &str) -> Response {
    shared.with(|s| {
        let index = s.index + 1;
        let Some(a) = s.allocs.get_mut(id) else {
            return text(StatusCode::NOT_FOUND, "alloc not found");
        };
        a.retire(index);
        shared.bump(s);
        indexed(index, json!({ "EvalID": new_id(), "Index": index }))
    })
}

pub(super) fn restart(shared: &Arc<Shared>, id: &str, body: &Value) -> Response {
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
pub(super) async fn blocking(
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
