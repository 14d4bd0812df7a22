//! Tasks: what the platform does to an app on a user's request (deploy, restart, update,
//! rollback, stop, start, delete), each with a record the API shows: kind, state, progress, error, times.
//!
//! Expected flow: a task takes its app's lock ([`crate::lock`]) and runs; a task on a busy app is
//! refused with `APP_BUSY` (saying what it waits for), or, if the user asks for it, recorded as
//! `QUEUED` and run by the task loop once the app is free, oldest first. A deploy task lives as
//! long as its deployment: the builder and the deployer move it on, and it ends with the
//! deployment (running or failed).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AppId, AppUpdate, CommitId, DeploymentId, PushedCommit, TaskId, UserId};

/// What a task does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskKind {
    Deploy,
    Restart,
    Update,
    Rollback,
    /// A user stopped the app; it stays stopped until a user starts it.
    Stop,
    /// A user started a stopped app again, from its current image.
    Start,
    Delete,
    /// The scaler changed the instance count: woke a sleeping app, put an idle one to sleep,
    /// added or removed replicas for the load. The task's progress says why.
    Scale,
}

/// Where a task stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskState {
    /// Waiting for its app to be free.
    Queued,
    Running,
    Succeeded,
    Failed,
}

macro_rules! names {
    ($ty:ident { $($v:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $($ty::$v => $s),* }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some($ty::$v),)* _ => None }
            }
        }
    };
}
names!(TaskKind { Deploy => "DEPLOY", Restart => "RESTART", Update => "UPDATE", Rollback => "ROLLBACK", Stop => "STOP", Start => "START", Delete => "DELETE", Scale => "SCALE" });
names!(TaskState { Queued => "QUEUED", Running => "RUNNING", Succeeded => "SUCCEEDED", Failed => "FAILED" });

impl TaskState {
    pub fn is_over(self) -> bool {
        matches!(self, TaskState::Succeeded | TaskState::Failed)
    }
}

/// What a user asked for, kept with a queued task until it runs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum TaskRequest {
    Redeploy {
        commit: Option<CommitId>,
        /// A new head of the app's branch to deploy, with what the deployment records of it
        /// (`commit` is then that commit). `None`: a user's redeploy.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        push: Option<PushedCommit>,
    },
    Restart {
        force: bool,
    },
    Update {
        update: Box<AppUpdate>,
        expected_version: Option<i64>,
    },
    Rollback {
        deployment: DeploymentId,
    },
    Stop,
    Start,
    Delete,
}

impl TaskRequest {
    pub fn kind(&self) -> TaskKind {
        match self {
            TaskRequest::Redeploy { .. } => TaskKind::Deploy,
            TaskRequest::Restart { .. } => TaskKind::Restart,
            TaskRequest::Update { .. } => TaskKind::Update,
            TaskRequest::Rollback { .. } => TaskKind::Rollback,
            TaskRequest::Stop => TaskKind::Stop,
            TaskRequest::Start => TaskKind::Start,
            TaskRequest::Delete => TaskKind::Delete,
        }
    }
}

/// The record of one task.
#[derive(Clone, Debug, PartialEq)]
pub struct Task {
    pub id: TaskId,
    pub app_id: AppId,
    pub owner: UserId,
    pub kind: TaskKind,
    pub state: TaskState,
    /// The step it is at, in words.
    pub progress: Option<String>,
    pub error: Option<String>,
    /// The deployment a deploy, update or rollback task rolls out.
    pub deployment: Option<DeploymentId>,
    /// Kept while queued, to run it later.
    pub request: Option<TaskRequest>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl Task {
    /// A task that starts now.
    pub fn running(app_id: AppId, owner: UserId, kind: TaskKind, progress: &str) -> Self {
        let now = Utc::now();
        Self {
            id: TaskId::new(),
            app_id,
            owner,
            kind,
            state: TaskState::Running,
            progress: Some(progress.to_owned()),
            error: None,
            deployment: None,
            request: None,
            created_at: now,
            started_at: Some(now),
            ended_at: None,
        }
    }

    /// A task waiting for its app.
    pub fn queued(app_id: AppId, owner: UserId, request: TaskRequest, waits_for: &str) -> Self {
        Self {
            state: TaskState::Queued,
            progress: Some(format!("queued: {waits_for}")),
            started_at: None,
            request: Some(request.clone()),
            ..Self::running(app_id, owner, request.kind(), "")
        }
    }

    /// Ends the task: succeeded, or failed with `error`.
    pub fn end(&mut self, error: Option<String>) {
        self.state = if error.is_some() {
            TaskState::Failed
        } else {
            TaskState::Succeeded
        };
        self.error = error;
        self.ended_at = Some(Utc::now());
    }
}

/// The storage side of tasks, with the other roles of the store.
pub use crate::store::TaskStore;
