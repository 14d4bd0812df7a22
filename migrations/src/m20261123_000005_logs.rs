use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum LogLines {
    Table,
    AppId,
    At,
    Stream,
    Deployment,
    Text,
}

#[derive(DeriveIden)]
enum LogHeads {
    Table,
    AppId,
    LastAt,
    Lines,
    Bytes,
}

#[derive(DeriveIden)]
enum LogSources {
    Table,
    Source,
    AppId,
    Position,
}

/// Log lines (keyed by app and a per-app strictly increasing nanosecond timestamp), the head of
/// each app's log (its newest timestamp, the row that orders appends, and its size), and where
/// each source was read up to.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(LogLines::Table)
                .if_not_exists()
                .col(uuid(LogLines::AppId))
                .col(big_integer(LogLines::At))
                .col(string_len(LogLines::Stream, 8))
                .col(uuid_null(LogLines::Deployment))
                .col(text(LogLines::Text))
                .primary_key(Index::create().col(LogLines::AppId).col(LogLines::At))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("log_lines_deployment")
                .table(LogLines::Table)
                .col(LogLines::Deployment)
                .col(LogLines::At)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LogHeads::Table)
                .if_not_exists()
                .col(pk_uuid(LogHeads::AppId))
                .col(big_integer(LogHeads::LastAt))
                .col(big_integer(LogHeads::Lines))
                .col(big_integer(LogHeads::Bytes))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(LogSources::Table)
                .if_not_exists()
                .col(string(LogSources::Source).primary_key())
                .col(uuid(LogSources::AppId))
                .col(text(LogSources::Position))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            LogSources::Table.into_iden(),
            LogHeads::Table.into_iden(),
            LogLines::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).to_owned()).await?;
        }
        Ok(())
    }
}
