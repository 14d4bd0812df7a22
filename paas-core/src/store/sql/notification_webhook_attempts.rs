//! `notification_webhook_attempts`: every POST of a notification to a user's webhook, what
//! came back, kept for a while so users can see why a receiver got nothing.

use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, QuerySelect};

use super::SqlStore;
use super::store::db_err;
use crate::error::Result;
use crate::model::{AttemptOutcome, NotificationWebhookId, WebhookAttempt};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_webhook_attempts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub webhook_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub delivery_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub attempt: i32,
    pub at: DateTimeUtc,
    pub outcome: String,
    pub http_status: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for WebhookAttempt {
    fn from(m: Model) -> Self {
        WebhookAttempt {
            webhook: m.webhook_id.into(),
            delivery: m.delivery_id,
            attempt: u32::try_from(m.attempt).unwrap_or(0),
            at: m.at,
            outcome: AttemptOutcome::parse(&m.outcome),
            http_status: m.http_status.and_then(|s| u16::try_from(s).ok()),
            error: m.error,
        }
    }
}

pub(super) async fn record(
    store: &SqlStore,
    attempt: &WebhookAttempt,
    forget_before: DateTime<Utc>,
) -> Result<()> {
    Entity::delete_many()
        .filter(Column::WebhookId.eq(attempt.webhook.as_uuid()))
        .filter(Column::At.lt(forget_before))
        .exec(store.connection())
        .await
        .map_err(db_err)?;
    Entity::insert(ActiveModel {
        webhook_id: Set(attempt.webhook.as_uuid()),
        delivery_id: Set(attempt.delivery),
        attempt: Set(i32::try_from(attempt.attempt).unwrap_or(i32::MAX)),
        at: Set(attempt.at),
        outcome: Set(attempt.outcome.as_str().to_owned()),
        http_status: Set(attempt.http_status.map(i32::from)),
        error: Set(attempt.error.clone()),
    })
    .exec(store.connection())
    .await
    .map_err(db_err)?;
    Ok(())
}

pub(super) async fn latest(
    store: &SqlStore,
    hook: NotificationWebhookId,
    limit: u64,
) -> Result<Vec<WebhookAttempt>> {
    Ok(Entity::find()
        .filter(Column::WebhookId.eq(hook.as_uuid()))
        .order_by_desc(Column::At)
        .order_by_desc(Column::DeliveryId)
        .order_by_desc(Column::Attempt)
        .limit(limit)
        .all(store.connection())
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Into::into)
        .collect())
}

impl SqlStore {
    pub(super) async fn forget_attempts(&self, hook: NotificationWebhookId) -> Result<()> {
        Entity::delete_many()
            .filter(Column::WebhookId.eq(hook.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
