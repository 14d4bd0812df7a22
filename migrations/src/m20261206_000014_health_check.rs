use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    HealthCheck,
}

/// An app's health check as JSON (kind, path, interval, timeout, thresholds, start period).
/// `NULL` (every existing app) is the default: a TCP connect to the app's port, as before.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .add_column(ColumnDef::new(Applications::HealthCheck).text().null())
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .drop_column(Applications::HealthCheck)
                .to_owned(),
        )
        .await
    }
}
