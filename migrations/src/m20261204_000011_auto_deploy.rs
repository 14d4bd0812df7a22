use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    AutoDeploy,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Trigger,
    CommitMessage,
    CommitAuthor,
}

/// Apps may follow their branch and redeploy each new commit (`auto_deploy`, off for existing
/// apps); a deployment records what started it and the message and author of its commit.
/// Existing deployments are taken as started by a user (`MANUAL`), their commit unread.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .add_column(
                    ColumnDef::new(Applications::AutoDeploy)
                        .boolean()
                        .not_null()
                        .default(false),
                )
                .to_owned(),
        )
        .await?;
        // One column per statement: SQLite alters one at a time.
        let columns = [
            ColumnDef::new(Deployments::Trigger)
                .string()
                .not_null()
                .default("MANUAL")
                .to_owned(),
            ColumnDef::new(Deployments::CommitMessage)
                .text()
                .null()
                .to_owned(),
            ColumnDef::new(Deployments::CommitAuthor)
                .string()
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            m.alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            Deployments::Trigger,
            Deployments::CommitMessage,
            Deployments::CommitAuthor,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .drop_column(column)
                    .to_owned(),
            )
            .await?;
        }
        m.alter_table(
            Table::alter()
                .table(Applications::Table)
                .drop_column(Applications::AutoDeploy)
                .to_owned(),
        )
        .await
    }
}
