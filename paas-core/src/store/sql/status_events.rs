use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use super::SqlStore;
use super::store::{convert_all, db_err};
use crate::error::{Error, Result};
use crate::events::StatusEvent;
use crate::model::AppId;
use crate::status::AppStatus;
use crate::store::StatusEventStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "status_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub app_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i64,
    pub owner: Uuid,
    pub status: String,
    pub deployment: Option<Uuid>,
    #[sea_orm(column_type = "Text", nullable)]
    pub reason: Option<String>,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for StatusEvent {
    type Error = Error;

    fn try_from(m: Model) -> Result<Self, Error> {
        Ok(StatusEvent {
            app_id: m.app_id.into(),
            owner: m.owner.into(),
            version: m.version,
            status: AppStatus::parse(&m.status)
                .ok_or_else(|| Error::Storage("stored event status is not valid".into()))?,
            deployment: m.deployment.map(Into::into),
            reason: m.reason,
            at: m.at,
        })
    }
}

impl From<&StatusEvent> for ActiveModel {
    fn from(e: &StatusEvent) -> Self {
        ActiveModel {
            app_id: Set(e.app_id.as_uuid()),
            version: Set(e.version),
            owner: Set(e.owner.as_uuid()),
            status: Set(e.status.as_str().to_owned()),
            deployment: Set(e.deployment.map(|d| d.as_uuid())),
            reason: Set(e.reason.clone()),
            at: Set(e.at),
        }
    }
}

#[async_trait]
impl StatusEventStore for SqlStore {
    async fn status_events(&self, app: AppId, after_version: i64) -> Result<Vec<StatusEvent>> {
        let rows = Entity::find()
            .filter(Column::AppId.eq(app.as_uuid()))
            .filter(Column::Version.gt(after_version))
            .order_by_asc(Column::Version)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        convert_all(rows)
    }
}
