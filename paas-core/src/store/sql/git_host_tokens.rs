//! `git_host_tokens`: a user's token per git host, sealed under its row's id, for the
//! [`UserStore`](crate::store::UserStore) methods on git hosts.

use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, TransactionTrait};

use super::SqlStore;
use super::store::db_err;
use crate::error::{Error, Result};
use crate::model::{GitHostKind, GitHostToken, Secret, UserId};

/// Where a git host token is sealed: the value opens only in this row.
pub fn token_context(id: Uuid) -> String {
    format!("git_host_token:{id}")
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "git_host_tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// [`GitHostKind::as_str`].
    pub provider: String,
    /// Sealed ([`token_context`]); never returned by the API.
    #[sea_orm(column_type = "Text")]
    pub token: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub base_url: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl SqlStore {
    /// Replaces (or with `None` removes) the user's row for `kind`: one transaction, and a new
    /// row id each time, so the sealed value is bound to the row that holds it.
    pub(super) async fn put_git_host_token(
        &self,
        user: UserId,
        kind: GitHostKind,
        token: Option<&GitHostToken>,
    ) -> Result<()> {
        let txn = self.connection().begin().await.map_err(db_err)?;
        Entity::delete_many()
            .filter(Column::UserId.eq(user.as_uuid()))
            .filter(Column::Provider.eq(kind.as_str()))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if let Some(t) = token {
            let id = Uuid::now_v7();
            Entity::insert(ActiveModel {
                id: Set(id),
                user_id: Set(user.as_uuid()),
                provider: Set(kind.as_str().to_owned()),
                token: Set(self.keys().seal(&token_context(id), t.token.expose())),
                base_url: Set(t.base_url.clone()),
                updated_at: Set(chrono::Utc::now()),
            })
            .exec(&txn)
            .await
            .map_err(db_err)?;
        }
        txn.commit().await.map_err(db_err)
    }

    /// The user's tokens, opened, by host.
    pub(super) async fn get_git_host_tokens(
        &self,
        user: UserId,
        kind: Option<GitHostKind>,
    ) -> Result<Vec<(GitHostKind, GitHostToken)>> {
        let mut query = Entity::find().filter(Column::UserId.eq(user.as_uuid()));
        if let Some(k) = kind {
            query = query.filter(Column::Provider.eq(k.as_str()));
        }
        let rows = query
            .order_by_asc(Column::Provider)
            .all(self.connection())
            .await
            .map_err(db_err)?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let kind = GitHostKind::parse(&row.provider).ok_or_else(|| {
                Error::Storage(format!("stored git host {:?} is unknown", row.provider).into())
            })?;
            let opened = self.keys().open(&token_context(row.id), &row.token)?;
            out.push((
                kind,
                GitHostToken {
                    token: Secret::new(opened.plaintext),
                    base_url: row.base_url,
                },
            ));
        }
        Ok(out)
    }
}
