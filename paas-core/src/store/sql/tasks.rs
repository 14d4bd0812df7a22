//! The `tasks` table and [`TaskStore`] on it.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;
use sea_orm::{QueryOrder, QuerySelect};

use super::SqlStore;
use crate::error::Error;
use crate::model::{AppId, DeploymentId, TaskId};
use crate::store::TaskStore;
use crate::task::{Task, TaskKind, TaskRequest, TaskState};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tasks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub owner: Uuid,
    pub kind: String,
    pub state: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub progress: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub deployment: Option<Uuid>,
    /// The queued request as JSON, sealed ([`request_context`]).
    #[sea_orm(column_type = "Text", nullable)]
    pub request: Option<String>,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub ended_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for Task {
    type Error = Error;

    fn try_from(m: Model) -> Result<Self, Error> {
        let corrupt =
            |what: &str| Error::Storage(format!("stored task {what} is not valid").into());
        Ok(Task {
            id: m.id.into(),
            app_id: m.app_id.into(),
            owner: m.owner.into(),
            kind: TaskKind::parse(&m.kind).ok_or_else(|| corrupt("kind"))?,
            state: TaskState::parse(&m.state).ok_or_else(|| corrupt("state"))?,
            progress: m.progress,
            error: m.error,
            deployment: m.deployment.map(Into::into),
            request: m
                .request
                .as_deref()
                .map(serde_json::from_str::<TaskRequest>)
                .transpose()
                .map_err(|_| corrupt("request"))?,
            created_at: m.created_at,
            started_at: m.started_at,
            ended_at: m.ended_at,
        })
    }
}

impl TryFrom<&Task> for ActiveModel {
    type Error = Error;

    fn try_from(t: &Task) -> Result<Self, Error> {
        let request = t
            .request
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(Error::storage)?;
        Ok(ActiveModel {
            id: Set(t.id.as_uuid()),
            app_id: Set(t.app_id.as_uuid()),
            owner: Set(t.owner.as_uuid()),
            kind: Set(t.kind.as_str().to_owned()),
            state: Set(t.state.as_str().to_owned()),
            progress: Set(t.progress.clone()),
            error: Set(t.error.clone()),
            deployment: Set(t.deployment.map(|d| d.as_uuid())),
            request: Set(request),
            created_at: Set(t.created_at),
            started_at: Set(t.started_at),
            ended_at: Set(t.ended_at),
        })
    }
}

/// Where a task's request is sealed (it may carry env values): it opens only in this row.
pub fn request_context(id: Uuid) -> String {
    format!("task:{id}")
}

impl SqlStore {
    /// The task of a row, its request opened.
    fn task_from(&self, mut m: Model) -> crate::Result<Task> {
        if let Some(request) = &m.request {
            m.request = Some(self.keys().open(&request_context(m.id), request)?.plaintext);
        }
        Task::try_from(m)
    }

    /// The row of a task, its request sealed.
    pub(super) fn task_row(&self, task: &Task) -> crate::Result<ActiveModel> {
        let mut row = ActiveModel::try_from(task)?;
        if let Set(Some(request)) = &row.request {
            row.request = Set(Some(
                self.keys()
                    .seal(&request_context(task.id.as_uuid()), request),
            ));
        }
        Ok(row)
    }

    fn all(&self, rows: Vec<Model>) -> crate::Result<Vec<Task>> {
        rows.into_iter().map(|m| self.task_from(m)).collect()
    }
}

#[async_trait]
impl TaskStore for SqlStore {
    async fn put_task(&self, task: &Task) -> crate::Result<()> {
        Entity::insert(self.task_row(task)?)
            .on_conflict(
                OnConflict::column(Column::Id)
                    .update_columns([
                        Column::State,
                        Column::Progress,
                        Column::Error,
                        Column::Deployment,
                        Column::Request,
                        Column::StartedAt,
                        Column::EndedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.connection())
            .await
            .map_err(Error::storage)?;
        Ok(())
    }

    async fn task(&self, id: TaskId) -> crate::Result<Option<Task>> {
        Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await
            .map_err(Error::storage)?
            .map(|m| self.task_from(m))
            .transpose()
    }

    async fn tasks_of(&self, app: AppId, limit: u64) -> crate::Result<Vec<Task>> {
        self.all(
            Entity::find()
                .filter(Column::AppId.eq(app.as_uuid()))
                .order_by_desc(Column::Id)
                .limit(limit)
                .all(self.connection())
                .await
                .map_err(Error::storage)?,
        )
    }

    async fn tasks_in_state(&self, state: TaskState, limit: u64) -> crate::Result<Vec<Task>> {
        self.all(
            Entity::find()
                .filter(Column::State.eq(state.as_str()))
                .order_by_asc(Column::Id)
                .limit(limit)
                .all(self.connection())
                .await
                .map_err(Error::storage)?,
        )
    }

    async fn task_of_deployment(&self, deployment: DeploymentId) -> crate::Result<Option<Task>> {
        Entity::find()
            .filter(Column::Deployment.eq(deployment.as_uuid()))
            .order_by_desc(Column::Id)
            .one(self.connection())
            .await
            .map_err(Error::storage)?
            .map(|m| self.task_from(m))
            .transpose()
    }
}
