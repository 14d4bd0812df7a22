//! `events`: the event log, the [`EventLogStore`] role.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::SqlStore;
use super::store::{convert_all, db_err};
use crate::error::{Error, Result};
use crate::event_log::{EventFilter, EventKind, LoggedEvent};
use crate::model::EventId;
use crate::store::EventLogStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub owner: Uuid,
    pub app_id: Option<Uuid>,
    pub app_name: Option<String>,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    /// A JSON object.
    #[sea_orm(column_type = "Text")]
    pub details: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for LoggedEvent {
    type Error = Error;

    fn try_from(m: Model) -> Result<Self, Error> {
        Ok(LoggedEvent {
            id: m.id.into(),
            owner: m.owner.into(),
            app: m.app_id.map(Into::into),
            app_name: m.app_name,
            kind: EventKind::parse(&m.kind)
                .ok_or_else(|| Error::Storage("stored event kind is not valid".into()))?,
            message: m.message,
            details: serde_json::from_str(&m.details)
                .map_err(|_| Error::Storage("stored event details are not JSON".into()))?,
            at: m.at,
        })
    }
}

impl From<&LoggedEvent> for ActiveModel {
    fn from(e: &LoggedEvent) -> Self {
        ActiveModel {
            id: Set(e.id.as_uuid()),
            owner: Set(e.owner.as_uuid()),
            app_id: Set(e.app.map(|a| a.as_uuid())),
            app_name: Set(e.app_name.clone()),
            kind: Set(e.kind.as_str().to_owned()),
            message: Set(e.message.clone()),
            details: Set(e.details.to_string()),
            at: Set(e.at),
        }
    }
}

#[async_trait]
impl EventLogStore for SqlStore {
    async fn add_events(&self, events: &[LoggedEvent]) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        Entity::insert_many(events.iter().map(ActiveModel::from))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn events(
        &self,
        filter: &EventFilter,
        before: Option<EventId>,
        limit: u64,
    ) -> Result<Vec<LoggedEvent>> {
        let mut select = Entity::find();
        if let Some(owner) = filter.owner {
            select = select.filter(Column::Owner.eq(owner.as_uuid()));
        }
        if let Some(app) = filter.app {
            select = select.filter(Column::AppId.eq(app.as_uuid()));
        }
        if !filter.kinds.is_empty() {
            select = select.filter(Column::Kind.is_in(filter.kinds.iter().map(|k| k.as_str())));
        }
        if let Some(before) = before {
            select = select.filter(Column::Id.lt(before.as_uuid()));
        }
        let rows = select
            .order_by_desc(Column::Id)
            .limit(limit)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        convert_all(rows)
    }

    async fn prune_events(&self, before: DateTime<Utc>) -> Result<u64> {
        let res = Entity::delete_many()
            .filter(Column::At.lt(before))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }
}
