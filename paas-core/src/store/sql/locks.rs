//! The `locks` table and [`LockStore`] on it: one row per key, every write compare-and-set on
//! `version`.

use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::sea_query::OnConflict;

use super::SqlStore;
use crate::error::Error;
use crate::lock::LockRecord;
use crate::store::LockStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "locks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    pub holder: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub purpose: Option<String>,
    pub expires_at: Option<DateTimeUtc>,
    pub version: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl From<Model> for LockRecord {
    fn from(m: Model) -> Self {
        LockRecord {
            key: m.key,
            holder: m.holder,
            purpose: m.purpose,
            expires_at: m.expires_at,
            version: m.version,
        }
    }
}

impl From<&LockRecord> for ActiveModel {
    fn from(r: &LockRecord) -> Self {
        ActiveModel {
            key: Set(r.key.clone()),
            holder: Set(r.holder.clone()),
            purpose: Set(r.purpose.clone()),
            expires_at: Set(r.expires_at),
            version: Set(r.version),
        }
    }
}

#[async_trait]
impl LockStore for SqlStore {
    async fn lock_record(&self, key: &str) -> crate::Result<Option<LockRecord>> {
        Ok(Entity::find_by_id(key.to_owned())
            .one(self.connection())
            .await
            .map_err(Error::storage)?
            .map(Into::into))
    }

    async fn insert_lock(&self, record: &LockRecord) -> crate::Result<bool> {
        let res = Entity::insert(ActiveModel::from(record))
            .on_conflict(OnConflict::column(Column::Key).do_nothing().to_owned())
            .exec_without_returning(self.connection())
            .await
            .map_err(Error::storage)?;
        Ok(res == 1)
    }

    async fn swap_lock(&self, expected_version: i64, record: &LockRecord) -> crate::Result<bool> {
        let res = Entity::update_many()
            .set(ActiveModel::from(record))
            .filter(Column::Key.eq(record.key.clone()))
            .filter(Column::Version.eq(expected_version))
            .exec(self.connection())
            .await
            .map_err(Error::storage)?;
        Ok(res.rows_affected == 1)
    }
}
