use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum GitHostTokens {
    Table,
    Id,
    UserId,
    Provider,
    Token,
    BaseUrl,
    UpdatedAt,
}

/// The API token (sealed) and base URL each user keeps per git host (GitHub, Gitea): what
/// lists their repositories and clones the private ones. One row per user and host.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(GitHostTokens::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(GitHostTokens::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(GitHostTokens::UserId).uuid().not_null())
                .col(
                    ColumnDef::new(GitHostTokens::Provider)
                        .string_len(32)
                        .not_null(),
                )
                .col(ColumnDef::new(GitHostTokens::Token).text().not_null())
                .col(ColumnDef::new(GitHostTokens::BaseUrl).text().null())
                .col(
                    ColumnDef::new(GitHostTokens::UpdatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_git_host_tokens_user_provider")
                .table(GitHostTokens::Table)
                .col(GitHostTokens::UserId)
                .col(GitHostTokens::Provider)
                .unique()
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(GitHostTokens::Table).to_owned())
            .await
    }
}
