use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    MinInstances,
    MaxInstances,
    IdleSeconds,
    TargetConcurrency,
}

/// An app's scaling settings. Existing apps keep one instance that never sleeps (the defaults
/// of `Scaling`: 1, 1, 300 s, 20 in flight per instance). One column per statement: SQLite
/// adds one at a time.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            (Applications::MinInstances, 1),
            (Applications::MaxInstances, 1),
            (Applications::IdleSeconds, 300),
            (Applications::TargetConcurrency, 20),
        ];
        for (column, default) in columns {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(ColumnDef::new(column).integer().not_null().default(default))
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Applications::MinInstances,
            Applications::MaxInstances,
            Applications::IdleSeconds,
            Applications::TargetConcurrency,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }
}
