//! Types of the lifecycle mutations: task records, and the input of `updateApplication`.

use async_graphql::{Enum, ID, InputObject, MaybeUndefined, SimpleObject};
use chrono::{DateTime, Utc};
use paas_core::model::{self, AppName, Branch, CommitId, EnvVars, Port};
use paas_core::task;

use super::types::{EnvVarInput, Language, Visibility};
use crate::error::{GqlResult, OrGql};

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::task::TaskKind")]
pub enum TaskKind {
    Deploy,
    Restart,
    Update,
    Rollback,
    Stop,
    Start,
    Delete,
    /// The scaler changed the instance count (woke the app, put it to sleep, added or removed
    /// replicas); `progress` says why.
    Scale,
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::task::TaskState")]
pub enum TaskState {
    /// Waiting for the app to be free (asked for with `queue: true`).
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// Something the platform does to an app: a deploy, restart, update, rollback, stop, start or
/// deletion.
#[derive(SimpleObject)]
pub struct Task {
    pub id: ID,
    pub kind: TaskKind,
    pub state: TaskState,
    /// The step it is at, or what a queued task waits for.
    pub progress: Option<String>,
    pub error: Option<String>,
    /// The deployment it rolls out, if any.
    pub deployment: Option<ID>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

impl From<task::Task> for Task {
    fn from(t: task::Task) -> Self {
        Self {
            id: ID(t.id.to_string()),
            kind: t.kind.into(),
            state: t.state.into(),
            progress: t.progress,
            error: t.error,
            deployment: t.deployment.map(|d| ID(d.to_string())),
            created_at: t.created_at,
            started_at: t.started_at,
            ended_at: t.ended_at,
        }
    }
}

/// A change to an app; fields left out stay as they are. Branch, commit and language rebuild
/// the app; env and port start a new instance of the same image; name and visibility change
/// only data.
#[derive(InputObject)]
pub struct UpdateApplicationInput {
    pub name: Option<String>,
    pub visibility: Option<Visibility>,
    /// Redirect plain-HTTP requests to HTTPS.
    pub https_only: Option<bool>,
    /// Deploy each new commit on the branch (not while the app is pinned to a commit).
    pub auto_deploy: Option<bool>,
    /// `null` lets the platform choose the port again.
    pub port: MaybeUndefined<i32>,
    /// Replaces all env vars.
    pub env: Option<Vec<EnvVarInput>>,
    /// Sets these variables (added or replaced), keeping the others.
    pub set_env: Option<Vec<EnvVarInput>>,
    /// Removes these variables (a key not set is no error), keeping the others.
    pub unset_env: Option<Vec<String>>,
    pub branch: Option<String>,
    /// `null` follows the branch head again.
    pub commit: MaybeUndefined<String>,
    pub language: Option<Language>,
    /// Fields left out keep their values; no restart (the scaler follows).
    pub scaling: Option<super::types::ScalingInput>,
    /// Fields left out keep their values; no restart (running instances are checked with it
    /// from their next check).
    pub health_check: Option<super::health::HealthCheckInput>,
}

/// `setEnv` and `unsetEnv` as one change, if either is given.
fn env_change(
    set: Option<Vec<EnvVarInput>>,
    unset: Option<Vec<String>>,
) -> GqlResult<Option<model::EnvChange>> {
    if set.is_none() && unset.is_none() {
        return Ok(None);
    }
    let set = EnvVars::parse(
        set.unwrap_or_default()
            .into_iter()
            .map(|e| (e.key, e.value)),
    )
    .gql()?;
    let unset = unset
        .unwrap_or_default()
        .iter()
        .map(|k| model::EnvKey::parse(k))
        .collect::<Result<Vec<_>, _>>()
        .gql()?;
    Ok(Some(model::EnvChange { set, unset }))
}

impl UpdateApplicationInput {
    /// Parses every field; any bad one refuses the whole change.
    pub fn parse(self) -> GqlResult<model::AppUpdate> {
        Ok(model::AppUpdate {
            name: self.name.as_deref().map(AppName::parse).transpose().gql()?,
            visibility: self.visibility.map(Into::into),
            https_only: self.https_only,
            auto_deploy: self.auto_deploy,
            scaling: self.scaling.map(super::types::ScalingInput::change),
            health: self
                .health_check
                .map(super::health::HealthCheckInput::change),
            port: match self.port {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(p) => Some(Some(Port::parse(i64::from(p)).gql()?)),
            },
            env: self
                .env
                .map(|env| EnvVars::parse(env.into_iter().map(|e| (e.key, e.value))))
                .transpose()
                .gql()?,
            env_change: env_change(self.set_env, self.unset_env)?,
            branch: self
                .branch
                .as_deref()
                .map(Branch::parse)
                .transpose()
                .gql()?,
            commit: match self.commit {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(c) => Some(Some(CommitId::parse(&c).gql()?)),
            },
            language: self.language.map(Into::into),
        })
    }
}
