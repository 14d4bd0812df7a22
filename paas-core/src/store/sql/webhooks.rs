//! `webhooks`: each app's webhook, its secret sealed under its row's id; [`HookStore`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::TransactionTrait;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;

use super::SqlStore;
use super::store::db_err;
use crate::error::Result;
use crate::model::{AppId, CommitId, HookId, Secret, Webhook};
use crate::store::HookStore;

/// Where a webhook's secret is sealed: the value opens only in this row.
pub fn secret_context(id: Uuid) -> String {
    format!("webhook_secret:{id}")
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhooks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub app_id: Uuid,
    /// Sealed ([`secret_context`]); never returned by the API after it is made.
    #[sea_orm(column_type = "Text")]
    pub secret: String,
    pub created_at: DateTimeUtc,
    pub last_delivery_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for Webhook {
    fn from(m: Model) -> Self {
        Webhook {
            id: m.id.into(),
            app: m.app_id.into(),
            created_at: m.created_at,
            last_delivery_at: m.last_delivery_at,
        }
    }
}

#[async_trait]
impl HookStore for SqlStore {
    async fn put_webhook(&self, hook: &Webhook, secret: &Secret) -> Result<()> {
        let old = self.webhook_of(hook.app).await?;
        let txn = self.connection().begin().await.map_err(db_err)?;
        Entity::delete_many()
            .filter(Column::AppId.eq(hook.app.as_uuid()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        let id = hook.id.as_uuid();
        Entity::insert(ActiveModel {
            id: Set(id),
            app_id: Set(hook.app.as_uuid()),
            secret: Set(self.keys().seal(&secret_context(id), secret.expose())),
            created_at: Set(hook.created_at),
            last_delivery_at: Set(hook.last_delivery_at),
        })
        .exec(&txn)
        .await
        .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        if let Some(old) = old {
            self.forget_deliveries(old.id).await?;
        }
        Ok(())
    }

    async fn webhook_of(&self, app: AppId) -> Result<Option<Webhook>> {
        Ok(Entity::find()
            .filter(Column::AppId.eq(app.as_uuid()))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(Webhook::from))
    }

    async fn webhook(&self, id: HookId) -> Result<Option<(Webhook, Secret)>> {
        let Some(row) = Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)?
        else {
            return Ok(None);
        };
        let opened = self.keys().open(&secret_context(row.id), &row.secret)?;
        Ok(Some((row.into(), Secret::new(opened.plaintext))))
    }

    async fn delete_webhook(&self, app: AppId) -> Result<bool> {
        let Some(old) = self.webhook_of(app).await? else {
            return Ok(false);
        };
        Entity::delete_by_id(old.id.as_uuid())
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        self.forget_deliveries(old.id).await?;
        Ok(true)
    }

    async fn record_delivery(
        &self,
        hook: HookId,
        delivery: &str,
        commit: Option<&CommitId>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool> {
        let new = self
            .insert_delivery(hook, delivery, commit, forget_before)
            .await?;
        Entity::update_many()
            .col_expr(Column::LastDeliveryAt, Expr::value(Utc::now()))
            .filter(Column::Id.eq(hook.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(new)
    }

    async fn latest_push_delivery(&self, hook: HookId) -> Result<Option<String>> {
        self.latest_push(hook).await
    }
}
