use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Applications {
    Table,
    PreviewsEnabled,
    MaxPreviews,
    PreviewForks,
    PreviewOf,
    PreviewKey,
}

/// Preview deployments: whether an app gets a preview per branch and pull request (off for
/// existing apps), how many it keeps, whether forks' pull requests get one; on a preview app,
/// the app it previews and the branch or pull request it shows (`branch:<name>`, `pr:<n>`).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        let columns = [
            ColumnDef::new(Applications::PreviewsEnabled)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Applications::MaxPreviews)
                .integer()
                .not_null()
                .default(5)
                .to_owned(),
            ColumnDef::new(Applications::PreviewForks)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            ColumnDef::new(Applications::PreviewOf)
                .uuid()
                .null()
                .to_owned(),
            ColumnDef::new(Applications::PreviewKey)
                .string()
                .null()
                .to_owned(),
        ];
        for mut column in columns {
            m.alter_table(
                Table::alter()
                    .table(Applications::Table)
                    .add_column(&mut column)
                    .to_owned(),
            )
            .await?;
        }
        m.create_index(
            Index::create()
                .name("idx_applications_preview_of")
                .table(Applications::Table)
                .col(Applications::PreviewOf)
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("idx_applications_preview_of")
                .table(Applications::Table)
                .to_owned(),
        )
        .await?;
        for column in [
            Applications::PreviewsEnabled,
            Applications::MaxPreviews,
            Applications::PreviewForks,
            Applications::PreviewOf,
            Applications::PreviewKey,
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
