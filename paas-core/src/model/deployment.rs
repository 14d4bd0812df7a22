use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{AppId, CommitId, DeploymentId, Replica, ReplicaState};

/// Where one build+run attempt stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentStatus {
    /// Waiting on the build queue.
    Queued,
    Building,
    /// Image (or artifact) ready, waiting for the deployer to start it.
    Built,
    Starting,
    Running,
    Failed,
    /// Was running, replaced or stopped since.
    Stopped,
}

impl DeploymentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentStatus::Queued => "QUEUED",
            DeploymentStatus::Building => "BUILDING",
            DeploymentStatus::Built => "BUILT",
            DeploymentStatus::Starting => "STARTING",
            DeploymentStatus::Running => "RUNNING",
            DeploymentStatus::Failed => "FAILED",
            DeploymentStatus::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            DeploymentStatus::Queued,
            DeploymentStatus::Building,
            DeploymentStatus::Built,
            DeploymentStatus::Starting,
            DeploymentStatus::Running,
            DeploymentStatus::Failed,
            DeploymentStatus::Stopped,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }

    /// Whether the build step is behind this deployment (a redelivered build request is a no-op).
    pub fn is_built(self) -> bool {
        !matches!(self, DeploymentStatus::Queued | DeploymentStatus::Building)
    }
}

/// What started a deployment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeploymentTrigger {
    /// The app's creation (its first deployment).
    Create,
    /// A user asked for a redeploy.
    #[default]
    Manual,
    /// The watcher saw a new commit on the app's branch.
    Push,
    /// A git host told of a push through a webhook.
    Webhook,
    /// A user pushed to the platform's own repository of the app (`git push`).
    GitPush,
    /// A user rolled back to an earlier deployment's image.
    Rollback,
    /// A user changed the app's settings (env, port: same image again; branch, commit,
    /// language: a new build).
    Config,
}

impl DeploymentTrigger {
    pub const ALL: [DeploymentTrigger; 7] = [
        DeploymentTrigger::Create,
        DeploymentTrigger::Manual,
        DeploymentTrigger::Push,
        DeploymentTrigger::Webhook,
        DeploymentTrigger::GitPush,
        DeploymentTrigger::Rollback,
        DeploymentTrigger::Config,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeploymentTrigger::Create => "CREATE",
            DeploymentTrigger::Manual => "MANUAL",
            DeploymentTrigger::Push => "PUSH",
            DeploymentTrigger::Webhook => "WEBHOOK",
            DeploymentTrigger::GitPush => "GIT_PUSH",
            DeploymentTrigger::Rollback => "ROLLBACK",
            DeploymentTrigger::Config => "CONFIG",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A new head commit of an app's branch, as the watcher (or a webhook) tells of it: what a
/// redeploy it starts records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedCommit {
    pub commit: CommitId,
    /// The commit's message, when it could be read.
    pub message: Option<String>,
    /// `Name <email>` of the commit's author, when it could be read.
    pub author: Option<String>,
    pub trigger: DeploymentTrigger,
}

/// One build+run attempt of an app at one commit.
#[derive(Clone, Debug, PartialEq)]
pub struct Deployment {
    pub id: DeploymentId,
    pub app_id: AppId,
    /// Resolved when the build checks the source out.
    pub commit: Option<CommitId>,
    pub status: DeploymentStatus,
    /// What the runtime runs: an image reference, or a directory for local processes.
    pub image: Option<String>,
    /// Start command decided at build time (Procfile `web:` or the language default).
    pub start_command: Option<String>,
    /// The instances running this deployment, oldest first: the `Running` ones are its route,
    /// the `Draining` ones wait to be removed.
    pub instances: Vec<Replica>,
    pub error: Option<String>,
    /// How many times the build ran (platform faults are retried, user faults never).
    pub build_attempts: i32,
    /// How many times an instance was started.
    pub start_attempts: i32,
    /// Crashes of the running instance restarted by the restart policy since it last ran
    /// steadily.
    pub restarts: i32,
    /// When the current instances last came up (the restart policy counts crashes from here).
    pub started_at: Option<DateTime<Utc>>,
    /// The deployment whose image this one runs again without building (rollback, or a change
    /// of env or port).
    pub origin: Option<DeploymentId>,
    /// What started it.
    pub trigger: DeploymentTrigger,
    /// The message of its commit (read from the build's checkout, or told by the watcher).
    pub commit_message: Option<String>,
    /// The author of its commit, `Name <email>`.
    pub commit_author: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Deployment {
    /// A fresh deployment waiting on the queue.
    pub fn queued(app_id: AppId, commit: Option<CommitId>, now: DateTime<Utc>) -> Self {
        Self {
            id: DeploymentId::new(),
            app_id,
            commit,
            status: DeploymentStatus::Queued,
            image: None,
            start_command: None,
            instances: Vec::new(),
            error: None,
            build_attempts: 0,
            start_attempts: 0,
            restarts: 0,
            started_at: None,
            origin: None,
            trigger: DeploymentTrigger::Manual,
            commit_message: None,
            commit_author: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// A new deployment that runs `from`'s image again, ready to start (no build).
    pub fn reusing(from: &Deployment, now: DateTime<Utc>) -> Self {
        Self {
            status: DeploymentStatus::Built,
            image: from.image.clone(),
            start_command: from.start_command.clone(),
            origin: Some(from.id),
            commit_message: from.commit_message.clone(),
            commit_author: from.commit_author.clone(),
            ..Self::queued(from.app_id, from.commit.clone(), now)
        }
    }

    /// This deployment, started by `trigger`.
    pub fn by(self, trigger: DeploymentTrigger) -> Self {
        Self { trigger, ..self }
    }

    /// Whether a build or start of this deployment is under way (or waiting on the queue).
    pub fn in_flight(&self) -> bool {
        matches!(
            self.status,
            DeploymentStatus::Queued
                | DeploymentStatus::Building
                | DeploymentStatus::Built
                | DeploymentStatus::Starting
        )
    }

    /// The replicas in the route.
    pub fn running(&self) -> impl Iterator<Item = &Replica> {
        self.instances.iter().filter(|r| r.is_running())
    }

    /// The runtime ids of every replica, draining ones too.
    pub fn instance_ids(&self) -> Vec<String> {
        self.instances.iter().map(|r| r.id.clone()).collect()
    }

    /// Takes the running replicas out of the route (they drain); returns their ids.
    pub fn drain_running(&mut self) -> Vec<String> {
        let mut ids = Vec::new();
        for r in &mut self.instances {
            if r.state == ReplicaState::Running {
                r.state = ReplicaState::Draining;
                ids.push(r.id.clone());
            }
        }
        ids
    }

    /// Forgets the replica `id` (removed from the runtime); false when it was not recorded.
    pub fn forget(&mut self, id: &str) -> bool {
        let before = self.instances.len();
        self.instances.retain(|r| r.id != id);
        self.instances.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::DeploymentTrigger;

    #[test]
    fn triggers_round_trip_through_their_names() {
        for t in DeploymentTrigger::ALL {
            assert_eq!(DeploymentTrigger::parse(t.as_str()), Some(t));
        }
        assert_eq!(DeploymentTrigger::parse("push"), None);
        assert_eq!(DeploymentTrigger::default(), DeploymentTrigger::Manual);
    }
}
