//! Rolling out a job version: waiting for its allocation (blocking queries), telling why it
//! failed in Nomad's words (the task's events, the job's deployment, the evaluation's placement
//! metrics), and taking back a version that did not come up. Also waiting for the group's count
//! of allocations (replicas) after a scaling.

use std::time::Duration;

use paas_core::{Error, Result};

use super::api::{self, AllocStub, ClientStatus, DeploymentStatus, DesiredStatus, WAIT};
use super::job::TASK;
use super::runtime::NomadRuntime;

impl NomadRuntime {
    /// Waits until the allocation of job `version` runs; fails with Nomad's reason.
    pub(super) async fn wait_running(
        &self,
        job_id: &str,
        version: u64,
        eval: &str,
    ) -> Result<AllocStub> {
        let deadline = tokio::time::Instant::now() + self.start_timeout;
        let mut index = 0;
        loop {
            let (allocs, next) = self.api.job_allocations(job_id, index, WAIT).await?;
            index = next;
            let ours = allocs
                .into_iter()
                .filter(|a| a.job_version == version)
                .max_by_key(|a| a.create_index);
            match ours {
                Some(a) if a.client_status == ClientStatus::Running => return Ok(a),
                Some(a) if a.client_status.is_over() => {
                    let mut why = task_failure(&a);
                    if let Some(d) = self.failed_deployment(job_id, version).await {
                        why = format!("{why}; Nomad's deployment: {d}");
                    }
                    return Err(Error::StartFailed(why));
                }
                Some(_) => {
                    if let Some(d) = self.failed_deployment(job_id, version).await {
                        return Err(Error::StartFailed(format!(
                            "Nomad's deployment of version {version} failed: {d}"
                        )));
                    }
                }
                None => {
                    if !eval.is_empty() {
                        let evaluation = self.api.evaluation(eval).await?;
                        if let Some(why) = placement_failure(&evaluation) {
                            return Err(Error::StartFailed(why));
                        }
                    }
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::StartFailed(format!(
                    "no allocation of job {job_id} version {version} ran within {}s",
                    self.start_timeout.as_secs()
                )));
            }
            if index == 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Waits until `count` allocations of the job run (and none more is meant to); returns
    /// them, oldest first.
    pub(super) async fn wait_count(&self, job_id: &str, count: u32) -> Result<Vec<AllocStub>> {
        let deadline = tokio::time::Instant::now() + self.start_timeout;
        let want = usize::try_from(count).unwrap_or(usize::MAX);
        let mut index = 0;
        loop {
            let (allocs, next) = self.api.job_allocations(job_id, index, WAIT).await?;
            index = next;
            let meant: Vec<AllocStub> = allocs
                .into_iter()
                .filter(|a| a.desired_status == DesiredStatus::Run && !a.client_status.is_over())
                .collect();
            let mut running: Vec<AllocStub> = meant
                .iter()
                .filter(|a| a.client_status == ClientStatus::Running)
                .cloned()
                .collect();
            if running.len() == want && meant.len() == want {
                running.sort_by_key(|a| a.create_index);
                return Ok(running);
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(Error::StartFailed(format!(
                    "job {job_id} did not run {count} allocations within {}s ({} run)",
                    self.start_timeout.as_secs(),
                    running.len()
                )));
            }
            if index == 0 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    /// Why the deployment of job `version` failed, if it did.
    async fn failed_deployment(&self, job_id: &str, version: u64) -> Option<String> {
        match self.api.job_deployment(job_id).await {
            Ok(Some(d)) if d.job_version == version && d.status == DeploymentStatus::Failed => {
                Some(d.status_description)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::debug!(job = %job_id, error = %e, "no deployment status");
                None
            }
        }
    }

    /// Takes back a version that did not come up: the previous version again, or no job.
    pub(super) async fn undo(&self, job_id: &str, version: u64) {
        let undone = if version > 0 {
            self.api.revert(job_id, version - 1).await
        } else {
            self.purge_job(job_id).await
        };
        if let Err(e) = undone {
            tracing::warn!(job = %job_id, version, error = %e, "could not take back a job version");
        }
    }
}

/// Why an allocation's task failed, in Nomad's words.
fn task_failure(a: &AllocStub) -> String {
    let state = a
        .task_states
        .as_ref()
        .and_then(|s| s.get(TASK))
        .cloned()
        .unwrap_or_default();
    let events = state.events.unwrap_or_default();
    let exit = events.iter().rev().find(|e| e.kind == "Terminated");
    let last = events
        .iter()
        .rev()
        .find(|e| !e.display_message.is_empty())
        .map(|e| e.display_message.clone())
        .unwrap_or_else(|| a.client_description.clone());
    match exit {
        Some(e) => format!(
            "the task {} on Nomad: exit code {} ({last})",
            a.client_status.as_str(),
            e.exit_code
        ),
        None => format!("the task {} on Nomad: {last}", a.client_status.as_str()),
    }
}

/// Why an evaluation could not place the job, if it could not.
fn placement_failure(e: &api::Evaluation) -> Option<String> {
    let failed = e.failed_tg_allocs.as_ref().filter(|f| !f.is_empty())?;
    let mut parts = Vec::new();
    for (group, m) in failed {
        let mut why: Vec<String> = m
            .dimension_exhausted
            .iter()
            .flatten()
            .map(|(dim, n)| format!("{dim} exhausted on {n} node(s)"))
            .collect();
        why.extend(
            m.constraint_filtered
                .iter()
                .flatten()
                .map(|(c, n)| format!("constraint {c} filtered {n} node(s)")),
        );
        if why.is_empty() {
            why.push(format!(
                "{} of {} node(s) exhausted",
                m.nodes_exhausted, m.nodes_evaluated
            ));
        }
        parts.push(format!(
            "group {group}: {} (of {} node(s) evaluated)",
            why.join(", "),
            m.nodes_evaluated
        ));
    }
    parts.sort();
    Some(format!(
        "Nomad could not place the app (no capacity): {}",
        parts.join("; ")
    ))
}
