use async_trait::async_trait;
use sea_orm::ActiveValue::{NotSet, Set};
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect, SqlErr, TransactionTrait};

use super::store::db_err;
use super::{SqlStore, deployments, status_events};
use crate::error::{Error, Result};
use crate::events::StatusEvent;
use crate::model::{
    AppId, AppName, Application, Branch, CommitId, Deployment, Desired, EnvVars, GitSource, GitUrl,
    HealthCheck, Language, Port, PreviewKey, PreviewOf, PreviewSettings, Resources, Scaling,
    SourcePolicy, UserId, Visibility,
};
use crate::secrets::Keyring;
use crate::status::AppStatus;
use crate::store::AppStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "applications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner: Uuid,
    pub name: String,
    #[sea_orm(column_type = "Text")]
    pub repo_url: String,
    pub branch: String,
    pub commit: Option<String>,
    pub language: Option<String>,
    pub port: Option<i32>,
    /// JSON object of the env vars, sealed ([`crate::secrets`]; plain JSON in rows of versions
    /// before encryption, sealed at the next start).
    #[sea_orm(column_type = "Text")]
    pub env: String,
    pub visibility: String,
    pub https_only: bool,
    pub auto_deploy: bool,
    pub previews_enabled: bool,
    pub max_previews: i32,
    pub preview_forks: bool,
    /// On a preview app: the app it previews.
    pub preview_of: Option<Uuid>,
    /// On a preview app: `branch:<name>` or `pr:<number>` ([`PreviewKey`]).
    pub preview_key: Option<String>,
    pub status: String,
    /// What the user asked for: `RUNNING` or `STOPPED`.
    pub desired_state: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub status_reason: Option<String>,
    pub deployment: Option<Uuid>,
    pub version: i64,
    pub cpu_millis: Option<i32>,
    pub memory_mb: Option<i32>,
    /// JSON array of the port bindings.
    #[sea_orm(column_type = "Text")]
    pub port_bindings: String,
    pub min_instances: i32,
    pub max_instances: i32,
    pub idle_seconds: i32,
    pub target_concurrency: i32,
    /// JSON of the health check; `NULL` is the default (a TCP connect).
    #[sea_orm(column_type = "Text", nullable)]
    pub health_check: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn corrupt(what: &str, value: &str) -> Error {
    Error::Storage(format!("stored {what} {value:?} is not valid").into())
}

impl TryFrom<Model> for Application {
    type Error = Error;

    fn try_from(m: Model) -> Result<Self, Error> {
        // Rows were validated on the way in; a failure here means the table was edited by hand.
        let local_ok = SourcePolicy { allow_local: true };
        let env: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&m.env).map_err(|_| corrupt("env", "<json>"))?;
        Ok(Application {
            id: m.id.into(),
            owner: m.owner.into(),
            name: AppName::parse(&m.name).map_err(|_| corrupt("name", &m.name))?,
            source: GitSource {
                url: GitUrl::parse(&m.repo_url, local_ok)
                    .map_err(|_| corrupt("url", &m.repo_url))?,
                branch: Branch::parse(&m.branch).map_err(|_| corrupt("branch", &m.branch))?,
                commit: m
                    .commit
                    .as_deref()
                    .map(|c| CommitId::parse(c).map_err(|_| corrupt("commit", c)))
                    .transpose()?,
            },
            language: m
                .language
                .as_deref()
                .map(|l| l.parse::<Language>().map_err(|_| corrupt("language", l)))
                .transpose()?,
            port: m
                .port
                .map(|p| Port::parse(i64::from(p)).map_err(|_| corrupt("port", &p.to_string())))
                .transpose()?,
            env: EnvVars::parse(env).map_err(|_| corrupt("env", "<keys>"))?,
            resources: Resources::parse(m.cpu_millis.map(i64::from), m.memory_mb.map(i64::from))
                .map_err(|_| corrupt("resources", "<limits>"))?,
            port_bindings: serde_json::from_str(&m.port_bindings)
                .map_err(|_| corrupt("port bindings", &m.port_bindings))?,
            visibility: match m.visibility.as_str() {
                "PUBLIC" => Visibility::Public,
                _ => Visibility::Private,
            },
            https_only: m.https_only,
            auto_deploy: m.auto_deploy,
            previews: PreviewSettings {
                enabled: m.previews_enabled,
                max_previews: count("max previews", m.max_previews)?,
                forks: m.preview_forks,
            },
            preview_of: match (m.preview_of, m.preview_key.as_deref()) {
                (Some(parent), Some(key)) => Some(PreviewOf {
                    parent: parent.into(),
                    key: PreviewKey::parse(key).ok_or_else(|| corrupt("preview key", key))?,
                }),
                _ => None,
            },
            scaling: Scaling {
                min_instances: count("min instances", m.min_instances)?,
                max_instances: count("max instances", m.max_instances)?,
                idle_seconds: count("idle seconds", m.idle_seconds)?,
                target_concurrency: count("target concurrency", m.target_concurrency)?,
            },
            health: match m.health_check.as_deref() {
                None => HealthCheck::default(),
                Some(json) => {
                    serde_json::from_str(json).map_err(|_| corrupt("health check", json))?
                }
            },
            desired: Desired::parse(&m.desired_state)
                .ok_or_else(|| corrupt("desired state", &m.desired_state))?,
            status: AppStatus::parse(&m.status).ok_or_else(|| corrupt("status", &m.status))?,
            status_reason: m.status_reason,
            deployment: m.deployment.map(Into::into),
            version: m.version,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

/// A stored scaling number (never negative unless edited by hand).
fn count(what: &str, n: i32) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| corrupt(what, &n.to_string()))
}

/// Where an app's env is sealed: the value opens only in this row.
pub fn env_context(id: Uuid) -> String {
    format!("env:{id}")
}

/// The app of a row, its env opened with `keys`.
pub fn opened(mut m: Model, keys: &Keyring) -> Result<Application, Error> {
    m.env = keys.open(&env_context(m.id), &m.env)?.plaintext;
    Application::try_from(m)
}

/// Every column from the domain value, the env sealed with `keys`; `id` left unset for updates.
pub fn sealed(app: &Application, with_id: bool, keys: &Keyring) -> ActiveModel {
    let mut row = active(app, with_id);
    if let Set(env) = &row.env {
        row.env = Set(keys.seal(&env_context(app.id.as_uuid()), env));
    }
    row
}

/// Every column from the domain value, env in plain JSON; `id` left unset for updates.
fn active(app: &Application, with_id: bool) -> ActiveModel {
    let env: std::collections::BTreeMap<&str, &str> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    ActiveModel {
        id: if with_id {
            Set(app.id.as_uuid())
        } else {
            NotSet
        },
        owner: Set(app.owner.as_uuid()),
        name: Set(app.name.to_string()),
        repo_url: Set(app.source.url.to_string()),
        branch: Set(app.source.branch.to_string()),
        commit: Set(app.source.commit.as_ref().map(ToString::to_string)),
        language: Set(app.language.map(|l| l.as_str().to_owned())),
        port: Set(app.port.map(|p| i32::from(p.get()))),
        env: Set(serde_json::to_string(&env).unwrap_or_else(|_| "{}".into())),
        visibility: Set(match app.visibility {
            Visibility::Private => "PRIVATE".into(),
            Visibility::Public => "PUBLIC".into(),
        }),
        https_only: Set(app.https_only),
        auto_deploy: Set(app.auto_deploy),
        previews_enabled: Set(app.previews.enabled),
        max_previews: Set(stored_count(app.previews.max_previews)),
        preview_forks: Set(app.previews.forks),
        preview_of: Set(app.preview_of.as_ref().map(|p| p.parent.as_uuid())),
        preview_key: Set(app.preview_of.as_ref().map(|p| p.key.to_string())),
        status: Set(app.status.as_str().to_owned()),
        desired_state: Set(app.desired.as_str().to_owned()),
        status_reason: Set(app.status_reason.clone()),
        deployment: Set(app.deployment.map(|d| d.as_uuid())),
        version: Set(app.version),
        cpu_millis: Set(app.resources.cpu_millis.and_then(|c| i32::try_from(c).ok())),
        memory_mb: Set(app.resources.memory_mb.and_then(|c| i32::try_from(c).ok())),
        port_bindings: Set(
            serde_json::to_string(&app.port_bindings).unwrap_or_else(|_| "[]".into())
        ),
        min_instances: Set(stored_count(app.scaling.min_instances)),
        max_instances: Set(stored_count(app.scaling.max_instances)),
        idle_seconds: Set(stored_count(app.scaling.idle_seconds)),
        target_concurrency: Set(stored_count(app.scaling.target_concurrency)),
        health_check: Set(if app.health == HealthCheck::default() {
            None
        } else {
            serde_json::to_string(&app.health).ok()
        }),
        created_at: Set(app.created_at),
        updated_at: Set(app.updated_at),
    }
}

/// A scaling number as a column holds it (checked values are far below `i32::MAX`).
fn stored_count(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

impl SqlStore {
    /// The app, its first deployment and status event, and its first task if any, in one
    /// transaction.
    async fn create_in(
        &self,
        app: &Application,
        first: &Deployment,
        task: Option<&crate::task::Task>,
    ) -> Result<()> {
        let txn = self.connection().begin().await.map_err(db_err)?;
        let inserted = Entity::insert(sealed(app, true, self.keys()))
            .exec(&txn)
            .await;
        if let Err(e) = inserted {
            return Err(match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => {
                    Error::NameTaken(app.name.to_string())
                }
                _ => db_err(e),
            });
        }
        deployments::Entity::insert(deployments::ActiveModel::from(first))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let event = StatusEvent {
            app_id: app.id,
            owner: app.owner,
            version: app.version,
            status: app.status,
            deployment: Some(first.id),
            reason: app.status_reason.clone(),
            at: app.created_at,
        };
        status_events::Entity::insert(status_events::ActiveModel::from(&event))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if let Some(task) = task {
            super::tasks::Entity::insert(self.task_row(task)?)
                .exec_without_returning(&txn)
                .await
                .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)
    }
}

#[async_trait]
impl AppStore for SqlStore {
    #[tracing::instrument(skip_all, fields(app_id = %app.id), err)]
    async fn create_app(&self, app: &Application, first: &Deployment) -> Result<()> {
        self.create_in(app, first, None).await
    }

    async fn create_app_with_task(
        &self,
        app: &Application,
        first: &Deployment,
        task: &crate::task::Task,
    ) -> Result<()> {
        self.create_in(app, first, Some(task)).await
    }

    async fn app(&self, id: AppId) -> Result<Option<Application>> {
        Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(|m| opened(m, self.keys()))
            .transpose()
    }

    async fn app_by_name(&self, name: &AppName) -> Result<Option<Application>> {
        Entity::find()
            .filter(Column::Name.eq(name.as_str()))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(|m| opened(m, self.keys()))
            .transpose()
    }

    async fn apps_of(
        &self,
        owner: UserId,
        after: Option<AppId>,
        limit: u64,
    ) -> Result<Vec<Application>> {
        let mut q = Entity::find()
            .filter(Column::Owner.eq(owner.as_uuid()))
            .order_by_asc(Column::Id)
            .limit(limit);
        if let Some(after) = after {
            q = q.filter(Column::Id.gt(after.as_uuid()));
        }
        self.apps(q.all(self.connection()).await.map_err(db_err)?)
    }

    async fn apps_in_status(&self, statuses: &[AppStatus]) -> Result<Vec<Application>> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let rows = Entity::find()
            .filter(Column::Status.is_in(names))
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        self.apps(rows)
    }

    async fn previews_of(&self, parent: AppId) -> Result<Vec<Application>> {
        let rows = Entity::find()
            .filter(Column::PreviewOf.eq(parent.as_uuid()))
            .order_by_asc(Column::CreatedAt)
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        self.apps(rows)
    }

    async fn app_counts_by_status(&self) -> Result<Vec<(AppStatus, u64)>> {
        let rows: Vec<(String, i64)> = Entity::find()
            .select_only()
            .column(Column::Status)
            .column_as(Column::Id.count(), "n")
            .group_by(Column::Status)
            .into_tuple()
            .all(self.connection())
            .await
            .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .filter_map(|(status, n)| {
                Some((AppStatus::parse(&status)?, u64::try_from(n).unwrap_or(0)))
            })
            .collect())
    }

    #[tracing::instrument(skip_all, fields(app_id = %app.id, expected_version), err)]
    async fn update_app(
        &self,
        app: &Application,
        expected_version: i64,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.write_app(app, expected_version, None, event).await
    }

    async fn delete_app(&self, id: AppId) -> Result<()> {
        // Children first: not every SQLite connection enforces foreign keys.
        let txn = self.connection().begin().await.map_err(db_err)?;
        status_events::Entity::delete_many()
            .filter(status_events::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        deployments::Entity::delete_many()
            .filter(deployments::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::domains::Entity::delete_many()
            .filter(super::domains::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::tasks::Entity::delete_many()
            .filter(super::tasks::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::log_lines::Entity::delete_many()
            .filter(super::log_lines::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::log_sources::Entity::delete_many()
            .filter(super::log_sources::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::log_heads::Entity::delete_by_id(id.as_uuid())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        // The app's webhook and the deliveries it saw: its URL answers 401 from now on.
        let hooks: Vec<Uuid> = super::webhooks::Entity::find()
            .filter(super::webhooks::Column::AppId.eq(id.as_uuid()))
            .all(&txn)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|h| h.id)
            .collect();
        super::webhook_deliveries::Entity::delete_many()
            .filter(super::webhook_deliveries::Column::HookId.is_in(hooks))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        super::webhooks::Entity::delete_many()
            .filter(super::webhooks::Column::AppId.eq(id.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        Entity::delete_by_id(id.as_uuid())
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)
    }
}
