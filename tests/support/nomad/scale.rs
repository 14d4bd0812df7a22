//! `POST /v1/job/:id/scale`: a task group's count changed as Nomad changes it
//! (developer.hashicorp.com/nomad/api-docs/jobs#scale-task-group; refusals as Nomad's
//! `nomad/job_endpoint.go` `Scale`): the job gets a new version with the count (the live
//! allocations are updated to it in place, their task unchanged), missing allocations are
//! placed beside the live ones, extra ones stopped, the newest first (Nomad stops the highest
//! allocation indexes).

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::register::{Rollout, place};
use super::{Alloc, Shared, event, indexed, new_id, text};

pub(super) async fn scale(
    shared: &Arc<Shared>,
    id: &str,
    body: &Value,
    query: &HashMap<String, String>,
) -> Response {
    let Some(group) = body["Target"]["Group"].as_str() else {
        return text(
            StatusCode::BAD_REQUEST,
            "missing task group name for scaling action",
        );
    };
    let count = match body["Count"].as_i64() {
        Some(c) if c < 0 => {
            return text(
                StatusCode::BAD_REQUEST,
                "scaling action count can't be negative",
            );
        }
        Some(c) => u64::try_from(c).unwrap_or(0),
        None => {
            return text(
                StatusCode::BAD_REQUEST,
                "scaling action without a count is not supported here",
            );
        }
    };
    let eval_id = new_id();
    let placed = shared.with(|s| {
        let Some(entry) = s.jobs.get(id).cloned() else {
            return Err((StatusCode::NOT_FOUND, format!("job {id:?} not found")));
        };
        if entry.job["TaskGroups"][0]["Name"] != group {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("task group {group:?} specified for scaling does not exist in job"),
            ));
        }
        let index = shared.bump(s);
        let mut job = entry.job.clone();
        job["TaskGroups"][0]["Count"] = json!(count);
        let version = entry.version + 1;
        let mut history = entry.history.clone();
        history.push(entry.job.clone());
        s.jobs.insert(
            id.to_owned(),
            super::JobEntry {
                job: job.clone(),
                version,
                modify_index: index,
                history,
            },
        );
        let mut live: Vec<&mut Alloc> = s
            .allocs
            .values_mut()
            .filter(|a| {
                a.job_id == id
                    && a.desired_status == "run"
                    && (a.client_status == "running" || a.client_status == "pending")
            })
            .collect();
        live.sort_by_key(|a| a.create_index);
        let have = u64::try_from(live.len()).unwrap_or(u64::MAX);
        for (n, a) in live.into_iter().enumerate() {
            if u64::try_from(n).unwrap_or(u64::MAX) >= count {
                a.retire(index);
            } else {
                a.version = version;
                a.modify_index = index;
            }
        }
        let namespace = query
            .get("namespace")
            .cloned()
            .unwrap_or_else(|| "default".into());
        let to = job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["To"]
            .as_u64()
            .and_then(|t| u16::try_from(t).ok())
            .unwrap_or(0);
        let mut new = Vec::new();
        for _ in have..count {
            let a = Alloc {
                id: new_id(),
                job_id: id.to_owned(),
                namespace: namespace.clone(),
                version,
                client_status: "pending".into(),
                desired_status: "run".into(),
                create_index: index,
                modify_index: index,
                port: 0,
                to,
                canary: false,
                restarts: 0,
                events: vec![event("Received", "Task received by client", 0)],
                stdout: Vec::new(),
                stderr: Vec::new(),
                meta: job["Meta"].clone(),
                server: None,
            };
            new.push(a.id.clone());
            s.allocs.insert(a.id.clone(), a);
        }
        s.evals.insert(
            eval_id.clone(),
            json!({
                "ID": eval_id, "Namespace": namespace, "Priority": 50, "Type": "service",
                "TriggeredBy": "job-scaling", "JobID": id, "JobModifyIndex": index,
                "Status": "complete", "StatusDescription": "", "FailedTGAllocs": null,
                "CreateIndex": index, "ModifyIndex": index,
            }),
        );
        Ok((
            index,
            version,
            new,
            Rollout::of(&job["TaskGroups"][0]),
            s.next.clone(),
        ))
    });
    let (index, version, new, rollout, next) = match placed {
        Ok(placed) => placed,
        Err((status, why)) => return text(status, why),
    };
    for alloc in new {
        tokio::spawn(place(
            shared.clone(),
            id.to_owned(),
            alloc,
            version,
            next.clone(),
            rollout,
            false,
        ));
    }
    indexed(
        index,
        json!({ "EvalID": eval_id, "EvalCreateIndex": index, "JobModifyIndex": index,
                "Warnings": "", "Index": index, "LastContact": 0, "KnownLeader": true }),
    )
}
