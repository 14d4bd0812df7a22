//! `notifications`: users' notifications, the [`NotificationStore`] role (with `admins.rs`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{QueryOrder, QuerySelect, SqlErr};

use super::store::{convert_all, db_err};
use super::{SqlStore, admins};
use crate::error::{Error, Result};
use crate::model::{AppId, NotificationId, UserId};
use crate::notify::{Notification, NotificationKind, UserNotification, condition_key};
use crate::store::NotificationStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: String,
    pub app_id: Option<Uuid>,
    pub app_name: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub message: String,
    pub at: DateTimeUtc,
    pub read: bool,
    pub cleared_at: Option<DateTimeUtc>,
    /// The condition's key while it lasts (unique); `None` once cleared.
    pub active_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TryFrom<Model> for UserNotification {
    type Error = Error;

    fn try_from(m: Model) -> Result<Self, Error> {
        Ok(UserNotification {
            id: m.id.into(),
            notification: Notification {
                user: m.user_id.into(),
                kind: NotificationKind::parse(&m.kind).ok_or_else(|| {
                    Error::Storage("stored notification kind is not valid".into())
                })?,
                app: m.app_id.map(Into::into),
                app_name: m.app_name,
                message: m.message,
                at: m.at,
            },
            read: m.read,
            cleared_at: m.cleared_at,
        })
    }
}

#[async_trait]
impl NotificationStore for SqlStore {
    async fn raise_notification(&self, n: &UserNotification) -> Result<bool> {
        let x = &n.notification;
        let row = ActiveModel {
            id: Set(n.id.as_uuid()),
            user_id: Set(x.user.as_uuid()),
            kind: Set(x.kind.as_str().to_owned()),
            app_id: Set(x.app.map(|a| a.as_uuid())),
            app_name: Set(x.app_name.clone()),
            message: Set(x.message.clone()),
            at: Set(x.at),
            read: Set(false),
            cleared_at: Set(None),
            active_key: Set(Some(condition_key(x.user, x.kind, x.app))),
        };
        match Entity::insert(row).exec(self.connection()).await {
            Ok(_) => Ok(true),
            // The condition is notified already: the unique key says so, for every server.
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                Ok(false)
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn clear_notifications(
        &self,
        user: UserId,
        app: Option<AppId>,
        kinds: &[NotificationKind],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        let keys = kinds.iter().map(|k| condition_key(user, *k, app));
        let res = Entity::update_many()
            .col_expr(Column::ActiveKey, Expr::value(Option::<String>::None))
            .col_expr(Column::ClearedAt, Expr::value(Some(at)))
            .filter(Column::ActiveKey.is_in(keys))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(res.rows_affected)
    }

    async fn notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<NotificationId>,
        limit: u64,
    ) -> Result<Vec<UserNotification>> {
        let mut select = Entity::find().filter(Column::UserId.eq(user.as_uuid()));
        if unread_only {
            select = select.filter(Column::Read.eq(false));
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

    async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<&[NotificationId]>,
    ) -> Result<u64> {
        let mut update = Entity::update_many()
            .col_expr(Column::Read, Expr::value(true))
            .filter(Column::UserId.eq(user.as_uuid()))
            .filter(Column::Read.eq(false));
        if let Some(ids) = ids {
            update = update.filter(Column::Id.is_in(ids.iter().map(|i| i.as_uuid())));
        }
        let res = update.exec(self.connection()).await.map_err(db_err)?;
        Ok(res.rows_affected)
    }

    async fn set_admin(&self, user: UserId, admin: bool) -> Result<()> {
        if admin {
            let row = admins::ActiveModel {
                user_id: Set(user.as_uuid()),
                granted_at: Set(Utc::now()),
            };
            admins::Entity::insert(row)
                .on_conflict_do_nothing_on([admins::Column::UserId])
                .exec(self.connection())
                .await
                .map_err(db_err)?;
        } else {
            admins::Entity::delete_by_id(user.as_uuid())
                .exec(self.connection())
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn is_admin(&self, user: UserId) -> Result<bool> {
        Ok(admins::Entity::find_by_id(user.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .is_some())
    }

    async fn admins(&self) -> Result<Vec<UserId>> {
        Ok(admins::Entity::find()
            .all(self.connection())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(|m| m.user_id.into())
            .collect())
    }
}
