use sea_orm::entity::prelude::*;

use crate::model::{User, UserId};

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
