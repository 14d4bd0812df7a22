use async_trait::async_trait;
use sea_orm::ActiveValue::Set;
use sea_orm::entity::prelude::*;
use sea_orm::{QueryOrder, SqlErr};

use super::SqlStore;
use super::store::db_err;
use crate::error::{Error, Result};
use crate::model::{AppId, Domain};
use crate::store::DomainStore;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "domains")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub domain: String,
    pub app_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

fn domain_of(m: Model) -> Result<Domain> {
    Domain::parse(&m.domain)
        .map_err(|_| Error::Storage(format!("stored domain {:?} is not valid", m.domain).into()))
}

#[async_trait]
impl DomainStore for SqlStore {
    async fn add_domain(&self, app: AppId, domain: &Domain) -> Result<()> {
        let row = ActiveModel {
            domain: Set(domain.as_str().to_owned()),
            app_id: Set(app.as_uuid()),
            created_at: Set(chrono::Utc::now()),
        };
        match Entity::insert(row).exec(self.connection()).await {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) => {
                match self.app_of_domain(domain).await? {
                    Some(owner) if owner == app => Ok(()),
                    _ => Err(Error::DomainTaken(domain.to_string())),
                }
            }
            Err(e) => Err(db_err(e)),
        }
    }

    async fn remove_domain(&self, app: AppId, domain: &Domain) -> Result<bool> {
        let done = Entity::delete_many()
            .filter(Column::Domain.eq(domain.as_str()))
            .filter(Column::AppId.eq(app.as_uuid()))
            .exec(self.connection())
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected > 0)
    }

    async fn domains_of(&self, app: AppId) -> Result<Vec<Domain>> {
        Entity::find()
            .filter(Column::AppId.eq(app.as_uuid()))
            .order_by_asc(Column::Domain)
            .all(self.connection())
            .await
            .map_err(db_err)?
            .into_iter()
            .map(domain_of)
            .collect()
    }

    async fn app_of_domain(&self, domain: &Domain) -> Result<Option<AppId>> {
        Ok(Entity::find_by_id(domain.as_str().to_owned())
            .one(self.connection())
            .await
            .map_err(db_err)?
            .map(|m| m.app_id.into()))
    }
}
