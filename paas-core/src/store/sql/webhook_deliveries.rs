//! `webhook_deliveries`: the delivery ids each hook has seen (a replay is ignored), with the
//! commit each push named; the [`HookStore`](crate::store::HookStore) methods on deliveries.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, SqlErr};

use super::SqlStore;
use super::store::db_err;
use crate::error::Result;
use crate::model::{CommitId, HookId};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub hook_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub delivery_id: String,
    pub commit: Option<String>,
    pub received_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl SqlStore {
    pub(super) async fn insert_delivery(
        &self,
        hook: HookId,
        delivery: &str,
        commit: Option<&CommitId>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool> {
        Entity::delete_many()
            .filter(Column::HookId.eq(hook.as_uuid()))
            .filter(Column::ReceivedAt.lt(forget_before))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        let row = ActiveModel {
            hook_id: Set(hook.as_uuid()),
            delivery_id: Set(delivery.to_owned()),
            commit: Set(commit.map(|c| c.as_str().to_owned())),
            received_at: Set(Utc::now()),
        };
        match Entity::insert(row).exec(self.connection()).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Ok(false)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    pub(super) async fn latest_push(&self, hook: HookId) -> Result<Option<String>> {
        Ok(Entity::find()
            .filter(Column::HookId.eq(hook.as_uuid()))
            .filter(Column::Commit.is_not_null())
            .order_by_desc(Column::ReceivedAt)
            .order_by_desc(Column::DeliveryId)
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(|m| m.delivery_id))
    }

    pub(super) async fn forget_deliveries(&self, hook: HookId) -> Result<()> {
        Entity::delete_many()
            .filter(Column::HookId.eq(hook.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
