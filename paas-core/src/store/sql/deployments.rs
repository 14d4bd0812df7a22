use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use super::SqlStore;
use super::store::{convert_all, db_err};
use crate::error::{Error, Result};
use crate::events::StatusEvent;
use crate::model::{
    AppId, Application, CommitId, Deployment, DeploymentId, DeploymentStatus, DeploymentTrigger,
};
use crate::store::DeploymentStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "deployments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    pub commit: Option<String>,
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub image: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub start_command: Option<String>,
    /// JSON array of the replicas ([`crate::model::Replica`]); `NULL` in rows of deployments
    /// that never ran.
    #[sea_orm(column_type = "Text", nullable)]
    pub instances: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub build_attempts: i32,
    pub start_attempts: i32,
    pub restarts: i32,
    pub started_at: Option<DateTimeUtc>,
    pub origin: Option<Uuid>,
    /// What started it ([`DeploymentTrigger`]).
    pub trigger: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub commit_message: Option<String>,
    pub commit_author: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for Deployment {
    type Error = Error;

    fn try_from(m: Model) -> Result<Self, Error> {
        let corrupt =
            |what: &str| Error::Storage(format!("stored deployment {what} is not valid").into());
        Ok(Deployment {
            id: m.id.into(),
            app_id: m.app_id.into(),
            commit: m
                .commit
                .as_deref()
                .map(CommitId::parse)
                .transpose()
                .map_err(|_| corrupt("commit"))?,
            status: DeploymentStatus::parse(&m.status).ok_or_else(|| corrupt("status"))?,
            image: m.image,
            start_command: m.start_command,
            instances: match m.instances.as_deref() {
                None | Some("") => Vec::new(),
                Some(json) => serde_json::from_str(json).map_err(|_| corrupt("instances"))?,
            },
            error: m.error,
            build_attempts: m.build_attempts,
            start_attempts: m.start_attempts,
            restarts: m.restarts,
            started_at: m.started_at,
            origin: m.origin.map(Into::into),
            trigger: DeploymentTrigger::parse(&m.trigger).ok_or_else(|| corrupt("trigger"))?,
            commit_message: m.commit_message,
            commit_author: m.commit_author,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl From<&Deployment> for ActiveModel {
    fn from(d: &Deployment) -> Self {
        ActiveModel {
            id: Set(d.id.as_uuid()),
            app_id: Set(d.app_id.as_uuid()),
            commit: Set(d.commit.as_ref().map(ToString::to_string)),
            status: Set(d.status.as_str().to_owned()),
            image: Set(d.image.clone()),
            start_command: Set(d.start_command.clone()),
            instances: Set(Some(
                serde_json::to_string(&d.instances).unwrap_or_else(|_| "[]".to_owned()),
            )),
            error: Set(d.error.clone()),
            build_attempts: Set(d.build_attempts),
            start_attempts: Set(d.start_attempts),
            restarts: Set(d.restarts),
            started_at: Set(d.started_at),
            origin: Set(d.origin.map(|o| o.as_uuid())),
            trigger: Set(d.trigger.as_str().to_owned()),
            commit_message: Set(d.commit_message.clone()),
            commit_author: Set(d.commit_author.clone()),
            created_at: Set(d.created_at),
            updated_at: Set(d.updated_at),
        }
    }
}

#[async_trait]
impl DeploymentStore for SqlStore {
    #[tracing::instrument(skip_all, fields(app_id = %app.id, deployment = %deployment.id), err)]
    async fn add_deployment(
        &self,
        app: &Application,
        expected_version: i64,
        deployment: &Deployment,
        event: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.write_app(app, expected_version, Some(deployment), event)
            .await
    }

    async fn deployment(&self, id: DeploymentId) -> Result<Option<Deployment>> {
        Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(Deployment::try_from)
            .transpose()
    }

    async fn deployments_of(&self, app: AppId) -> Result<Vec<Deployment>> {
        let rows = Entity::find()
            .filter(Column::AppId.eq(app.as_uuid()))
            .order_by_desc(Column::Id)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        convert_all(rows)
    }

    async fn update_deployment(&self, d: &Deployment) -> Result<()> {
        let mut row = ActiveModel::from(d);
        row.updated_at = sea_orm::ActiveValue::Set(chrono::Utc::now());
        let res = Entity::update_many()
            .set(row)
            .filter(Column::Id.eq(d.id.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound("deployment"));
        }
        Ok(())
    }
}
