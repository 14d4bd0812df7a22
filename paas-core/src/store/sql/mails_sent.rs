//! `mails_sent`: when each condition (kind and app) was last mailed to each user, so at most
//! one mail per condition per window goes out, across servers and restarts.

use chrono::{DateTime, SubsecRound, Utc};
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::{Expr, OnConflict};

use super::SqlStore;
use super::store::db_err;
use crate::error::Result;
use crate::model::UserId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mails_sent")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    pub condition: String,
    pub sent_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// One conditional write decides: the row moves to `at` only if its time is before
/// `not_before`; a missing row is inserted (a concurrent insert of the same pair loses on the
/// key and then sees the winner's time).
pub(super) async fn claim(
    store: &SqlStore,
    user: UserId,
    condition: &str,
    at: DateTime<Utc>,
    not_before: DateTime<Utc>,
) -> Result<bool> {
    // PostgreSQL keeps microseconds: the time released must be the time stored.
    let at = at.trunc_subsecs(6);
    let moved = Entity::update_many()
        .col_expr(Column::SentAt, Expr::value(at))
        .filter(Column::UserId.eq(user.as_uuid()))
        .filter(Column::Condition.eq(condition))
        .filter(Column::SentAt.lt(not_before))
        .exec(store.connection())
        .await
        .map_err(db_err)?;
    if moved.rows_affected > 0 {
        return Ok(true);
    }
    let inserted = Entity::insert(ActiveModel {
        user_id: Set(user.as_uuid()),
        condition: Set(condition.to_owned()),
        sent_at: Set(at),
    })
    .on_conflict(
        OnConflict::columns([Column::UserId, Column::Condition])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(store.connection())
    .await
    .map_err(db_err)?;
    Ok(inserted > 0)
}

pub(super) async fn release(
    store: &SqlStore,
    user: UserId,
    condition: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    let at = at.trunc_subsecs(6);
    Entity::delete_many()
        .filter(Column::UserId.eq(user.as_uuid()))
        .filter(Column::Condition.eq(condition))
        .filter(Column::SentAt.eq(at))
        .exec(store.connection())
        .await
        .map_err(db_err)?;
    Ok(())
}
