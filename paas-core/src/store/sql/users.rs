use async_trait::async_trait;
use sea_orm::entity::prelude::*;

use super::SqlStore;
use super::store::db_err;
use crate::error::{Error, Result};
use crate::model::{EmailAddress, GitHostKind, GitHostToken, Secret, User, UserId};
use crate::store::UserStore;

/// Where a user's git token is sealed: the value opens only in this row.
pub fn token_context(user: UserId) -> String {
    format!("git_token:{user}")
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub name: String,
    pub token_hash: String,
    /// Credential for the user's private repositories, sealed ([`token_context`]); never
    /// returned by the API.
    #[sea_orm(column_type = "Text", nullable)]
    pub git_token: Option<String>,
    pub created_at: DateTimeUtc,
    /// Where urgent notifications are mailed; checked before it is stored.
    pub email: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for User {
    fn from(m: Model) -> Self {
        User {
            id: m.id.into(),
            name: m.name,
            created_at: m.created_at,
        }
    }
}

#[async_trait]
impl UserStore for SqlStore {
    async fn create_user(&self, user: &User, token_hash: &str) -> Result<()> {
        use sea_orm::ActiveValue::Set;
        Entity::insert(ActiveModel {
            id: Set(user.id.as_uuid()),
            name: Set(user.name.clone()),
            token_hash: Set(token_hash.to_owned()),
            git_token: Set(None),
            created_at: Set(user.created_at),
            email: Set(None),
        })
        .exec(self.connection())
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn user(&self, id: UserId) -> Result<Option<User>> {
        Ok(Entity::find_by_id(id.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(User::from))
    }

    async fn user_by_token_hash(&self, token_hash: &str) -> Result<Option<User>> {
        Ok(Entity::find()
            .filter(Column::TokenHash.eq(token_hash))
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(User::from))
    }

    async fn set_git_token(&self, user: UserId, token: Option<&Secret>) -> Result<()> {
        let sealed = token.map(|t| self.keys().seal(&token_context(user), t.expose()));
        self.set_user_column(user, Column::GitToken, sealed).await
    }

    async fn git_token(&self, user: UserId) -> Result<Option<Secret>> {
        let stored = self.user_row(user).await?.and_then(|u| u.git_token);
        Ok(match stored {
            Some(s) => Some(Secret::new(
                self.keys().open(&token_context(user), &s)?.plaintext,
            )),
            None => None,
        })
    }

    async fn set_git_host_token(
        &self,
        user: UserId,
        kind: GitHostKind,
        token: Option<&GitHostToken>,
    ) -> Result<()> {
        if self.user(user).await?.is_none() {
            return Err(Error::NotFound("user"));
        }
        self.put_git_host_token(user, kind, token).await
    }

    async fn git_host_tokens(
        &self,
        user: UserId,
        kind: Option<GitHostKind>,
    ) -> Result<Vec<(GitHostKind, GitHostToken)>> {
        self.get_git_host_tokens(user, kind).await
    }

    async fn set_email(&self, user: UserId, email: Option<&EmailAddress>) -> Result<()> {
        let email = email.map(|e| e.as_str().to_owned());
        self.set_user_column(user, Column::Email, email).await
    }

    async fn email(&self, user: UserId) -> Result<Option<EmailAddress>> {
        let stored = self.user_row(user).await?.and_then(|u| u.email);
        // Checked when stored; one that no longer reads (a changed rule) is as good as none.
        Ok(stored.and_then(|s| EmailAddress::parse(&s).ok()))
    }
}

impl SqlStore {
    async fn user_row(&self, user: UserId) -> Result<Option<Model>> {
        Entity::find_by_id(user.as_uuid())
            .one(self.connection())
            .await
            .map_err(db_err)
    }

    /// Sets one nullable column of the user's row; `NOT_FOUND` when there is no such user.
    async fn set_user_column(
        &self,
        user: UserId,
        column: Column,
        value: Option<String>,
    ) -> Result<()> {
        let res = Entity::update_many()
            .col_expr(column, sea_orm::sea_query::Expr::value(value))
            .filter(Column::Id.eq(user.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        if res.rows_affected == 0 {
            return Err(Error::NotFound("user"));
        }
        Ok(())
    }
}
