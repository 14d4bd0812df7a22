//! `notification_webhooks`: users' outgoing webhooks, each secret sealed under its row's id;
//! [`OutboxStore`] (with `notification_webhook_attempts.rs` and `mails_sent.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::QueryOrder;
use sea_orm::entity::prelude::*;

use super::store::db_err;
use super::{SqlStore, mails_sent, notification_webhook_attempts as attempts};
use crate::error::{Error, Result};
use crate::model::{
    NotificationWebhook, NotificationWebhookId, Secret, UserId, WebhookAttempt, WebhookUrl,
};
use crate::store::OutboxStore;

/// Where a notification webhook's secret is sealed: the value opens only in this row.
pub fn secret_context(id: Uuid) -> String {
    format!("notification_webhook_secret:{id}")
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notification_webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// Sealed ([`secret_context`]); shown once, when made.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for NotificationWebhook {
    type Error = Error;
    fn try_from(m: Model) -> Result<Self> {
        Ok(NotificationWebhook {
            id: m.id.into(),
            user: m.user_id.into(),
            url: WebhookUrl::parse(&m.url)?,
            created_at: m.created_at,
        })
    }
}

impl SqlStore {
    async fn webhook_rows(&self, user: UserId) -> Result<Vec<Model>> {
        Entity::find()
            .filter(Column::UserId.eq(user.as_uuid()))
            .order_by_asc(Column::Id)
            .all(self.connection())
            .await
            .map_err(db_err)
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn create_notification_webhook(
        &self,
        hook: &NotificationWebhook,
        secret: &Secret,
    ) -> Result<()> {
        let id = hook.id.as_uuid();
        Entity::insert(ActiveModel {
            id: Set(id),
            user_id: Set(hook.user.as_uuid()),
            url: Set(hook.url.as_str().to_owned()),
            secret: Set(self.keys().seal(&secret_context(id), secret.expose())),
            created_at: Set(hook.created_at),
        })
        .exec(self.connection())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn notification_webhooks(&self, user: UserId) -> Result<Vec<NotificationWebhook>> {
        self.webhook_rows(user)
            .await?
            .into_iter()
            .map(NotificationWebhook::try_from)
            .collect()
    }

    async fn notification_webhook_secrets(
        &self,
        user: UserId,
    ) -> Result<Vec<(NotificationWebhook, Secret)>> {
        let mut out = Vec::new();
        for row in self.webhook_rows(user).await? {
            let opened = self.keys().open(&secret_context(row.id), &row.secret)?;
            out.push((row.try_into()?, Secret::new(opened.plaintext)));
        }
        Ok(out)
    }

    async fn delete_notification_webhook(
        &self,
        user: UserId,
        id: NotificationWebhookId,
    ) -> Result<bool> {
        let res = Entity::delete_many()
            .filter(Column::Id.eq(id.as_uuid()))
            .filter(Column::UserId.eq(user.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 {
            return Ok(false);
        }
        self.forget_attempts(id).await?;
        Ok(true)
    }

    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        forget_before: DateTime<Utc>,
    ) -> Result<()> {
        attempts::record(self, attempt, forget_before).await
    }

    async fn webhook_attempts(
        &self,
        hook: NotificationWebhookId,
        limit: u64,
    ) -> Result<Vec<WebhookAttempt>> {
        attempts::latest(self, hook, limit).await
    }

    async fn claim_mail(
        &self,
        user: UserId,
        condition: &str,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool> {
        mails_sent::claim(self, user, condition, at, not_before).await
    }

    async fn release_mail(&self, user: UserId, condition: &str, at: DateTime<Utc>) -> Result<()> {
        mails_sent::release(self, user, condition, at).await
    }
}
