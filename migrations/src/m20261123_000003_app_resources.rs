use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    CpuMillis,
    MemoryMb,
    PortBindings,
}

/// CPU and memory limits, and extra port bindings, of an app.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        for col in [
            ColumnDef::new(Applications::CpuMillis)
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Applications::MemoryMb)
                .integer()
                .null()
                .to_owned(),
            ColumnDef::new(Applications::PortBindings)
                .text()
                .not_null()
                .default("[]")
                .to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Applications::CpuMillis,
            Applications::MemoryMb,
            Applications::PortBindings,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
