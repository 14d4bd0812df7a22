use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    DesiredState,
}

/// What the user asked of an app (`RUNNING` or `STOPPED`), kept apart from its observed status.
/// Existing apps want to run: until now only the platform's own shutdown stopped apps, so an app
/// recorded `STOPPED` comes back when the server starts.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .add_column(
                    ColumnDef::new(Applications::DesiredState)
                        .string_len(16)
                        .not_null()
                        .default("RUNNING"),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .drop_column(Applications::DesiredState)
                .to_owned(),
        )
        .await
    }
}
