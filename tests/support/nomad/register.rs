//! `POST /v1/jobs`: a job registered as Nomad registers it, refused as Nomad refuses it, and
//! rolled out as its `Update` block says.
//!
//! - Nomad's validation (`validate.rs`) refuses with 500 and its multi-error text; what the
//!   platform needs beyond it (`spec.rs`) is recorded as a problem, the job accepted as Nomad would.
//! - The evaluation, the deployment and the allocation are in the job's namespace.
//! - Rollout (Nomad's update block, developer.hashicorp.com/nomad/docs/job-specification/update):
//!   with `Canary` 0 a new version replaces the live allocation destructively (the old one stops
//!   first); with canaries the new allocation runs beside the live one, which stops only when the
//!   canary is promoted: by Nomad once healthy with `AutoPromote`, else never here (the deployment
//!   waits for a manual promotion).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::allocs::app_server;
use super::spec::check_job;
use super::validate::{multi, refusal};
use super::{Alloc, JobEntry, NextAlloc, Shared, event, fail, indexed, new_id, text};

/// How a job's versions roll out (its group's `Update`, with Nomad's defaults).
#[derive(Clone, Copy)]
pub(super) struct Rollout {
    canary: u64,
    auto_promote: bool,
    auto_revert: bool,
}

impl Rollout {
    pub(super) fn of(group: &Value) -> Self {
        Self {
            canary: group["Update"]["Canary"].as_u64().unwrap_or(0),
            auto_promote: group["Update"]["AutoPromote"].as_bool().unwrap_or(false),
            auto_revert: group["Update"]["AutoRevert"].as_bool().unwrap_or(false),
        }
    }
}

pub(super) async fn register(
    shared: &Arc<Shared>,
    body: Value,
    query: &HashMap<String, String>,
) -> Response {
    let job = body["Job"].clone();
    if !job.is_object() {
        // command/agent/job_endpoint.go `jobUpdate`.
        return text(StatusCode::BAD_REQUEST, "Job must be specified");
    }
    if let Some(refused) = refusal(&job) {
        shared.with(|s| s.problems.push(format!("Nomad refused the job: {refused}")));
        return text(StatusCode::INTERNAL_SERVER_ERROR, refused);
    }
    let problems = check_job(&job, shared.namespace.as_deref());
    shared.with(|s| s.problems.extend(problems));
    let next = shared.with(|s| s.next.clone());
    if let NextAlloc::Reject(message) = &next {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            multi(&[format!(
                "Task group app validation failed: {}",
                multi(std::slice::from_ref(message))
            )]),
        );
    }
    // Nomad's precedence: the job's namespace, else the request's, else `default`.
    let namespace = job["Namespace"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or(query.get("namespace").map(String::as_str))
        .unwrap_or("default")
        .to_owned();
    let group = &job["TaskGroups"][0];
    let rollout = Rollout::of(group);
    let to = group["Networks"][0]["DynamicPorts"][0]["To"]
        .as_u64()
        .and_then(|t| u16::try_from(t).ok())
        .unwrap_or(0);
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
            "ID": eval_id, "Namespace": namespace, "Priority": 50, "Type": "service",
            "TriggeredBy": "job-register", "JobID": id, "JobModifyIndex": index,
            "Status": "complete", "StatusDescription": "", "FailedTGAllocs": null,
            "CreateIndex": index, "ModifyIndex": index,
        });
        let live = s.allocs.values().any(|a| {
            a.job_id == id
                && a.desired_status == "run"
                && (a.client_status == "running" || a.client_status == "pending")
        });
        // Canaries only when a version replaces live allocations.
        let canaries = if live { rollout.canary } else { 0 };
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
            if canaries == 0 {
                // A destructive update: the live allocation stops before the new one is placed.
                for other in s.allocs.values_mut() {
                    if other.job_id == id && other.desired_status == "run" {
                        other.retire(index);
                    }
                }
            }
            let a = Alloc {
                id: new_id(),
                job_id: id.clone(),
                namespace: namespace.clone(),
                version,
                client_status: "pending".into(),
                desired_status: "run".into(),
                create_index: index,
                modify_index: index,
                port: 0,
                to,
                canary: canaries > 0,
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
                json!({ "ID": new_id(), "Namespace": namespace, "JobID": id, "JobVersion": version,
                        "JobModifyIndex": index, "Status": "running",
                        "StatusDescription": "Deployment is running",
                        "TaskGroups": { "app": { "AutoRevert": group["Update"]["AutoRevert"],
                                                 "AutoPromote": rollout.auto_promote,
                                                 "Promoted": false,
                                                 "DesiredCanaries": canaries,
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
        tokio::spawn(place(
            shared.clone(),
            id,
            alloc,
            version,
            next,
            rollout,
            true,
        ));
    }
    indexed(
        index,
        json!({ "EvalID": eval_id, "EvalCreateIndex": index, "JobModifyIndex": index,
                "Warnings": "", "Index": index, "LastContact": 0, "KnownLeader": true }),
    )
}

/// The client starts the allocation a moment later: it runs (and a healthy canary is promoted
/// when the job says so), or its task fails and the deployment with it. An allocation of a new
/// version (`replaces`) stops the older ones once promoted; one placed for a count does not.
pub(super) async fn place(
    shared: Arc<Shared>,
    id: String,
    alloc: String,
    version: u64,
    next: NextAlloc,
    rollout: Rollout,
    replaces: bool,
) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let server = match &next {
        NextAlloc::Fail { .. } => None,
        _ => app_server().await,
    };
    shared.with(|s| {
        let index = s.index + 1;
        let mut promoted = false;
        // With `AutoRevert`, Nomad takes a failed deployment back to the previous version itself
        // (as a new version of the job).
        let rolls_back = rollout.auto_revert && version > 0 && matches!(next, NextAlloc::Fail { .. });
        if let Some(a) = s.allocs.get_mut(&alloc) {
            a.events.push(event("Started", "Task started by client", 0));
            match &next {
                NextAlloc::Fail { exit_code, message } => {
                    a.stderr.extend_from_slice(message.as_bytes());
                    a.stderr.push(b'\n');
                    fail(a, *exit_code, message, index);
                    if let Some(d) = s.deployments.get_mut(&id) {
                        d["Status"] = json!("failed");
                        d["StatusDescription"] = json!(if rolls_back {
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
                    a.stdout.extend_from_slice(
                        format!("starting version {version}\nlistening\n").as_bytes(),
                    );
                    a.modify_index = index;
                    promoted = !a.canary || rollout.auto_promote;
                    if promoted {
                        a.canary = false;
                    }
                    if let Some(d) = s.deployments.get_mut(&id) {
                        d["TaskGroups"]["app"]["HealthyAllocs"] = json!(1);
                        if promoted {
                            d["Status"] = json!("successful");
                            d["StatusDescription"] = json!("Deployment completed successfully");
                            d["TaskGroups"]["app"]["Promoted"] = json!(true);
                        } else {
                            d["StatusDescription"] =
                                json!("Deployment is running but requires manual promotion");
                        }
                    }
                }
            }
        }
        if rolls_back
            && let Some(j) = s.jobs.get_mut(&id)
            && let Some(spec) = usize::try_from(version - 1)
                .ok()
                .and_then(|v| j.history.get(v))
                .cloned()
        {
            j.history.push(std::mem::replace(&mut j.job, spec));
            j.version += 1;
            j.modify_index = index;
        }
        // A promoted canary replaces the older allocations of the job.
        if promoted && replaces {
            for other in s.allocs.values_mut() {
                if other.job_id == id && other.id != alloc && other.desired_status == "run" {
                    other.retire(index);
                }
            }
        }
        shared.bump(s);
    });
}
