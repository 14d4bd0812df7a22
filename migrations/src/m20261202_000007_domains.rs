use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Domains {
    Table,
    Domain,
    AppId,
    CreatedAt,
}

/// Custom domains that route to an app. The domain is the key: one app per domain, across
/// every user (`DOMAIN_TAKEN`), enforced by the database under races.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Domains::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Domains::Domain)
                        .string_len(253)
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Domains::AppId).uuid().not_null())
                .col(
                    ColumnDef::new(Domains::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_domains_app")
                .table(Domains::Table)
                .col(Domains::AppId)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(Domains::Table).to_owned())
            .await
    }
}
