use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Locks {
    Table,
    Key,
    Holder,
    Purpose,
    ExpiresAt,
    Version,
}

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    AppId,
    Owner,
    Kind,
    State,
    Progress,
    Error,
    Deployment,
    Request,
    CreatedAt,
    StartedAt,
    EndedAt,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Restarts,
    StartedAt,
    Origin,
}

/// Locks (a row per key, compare-and-set on `version`), task records, and the crash count of a
/// deployment's instance (the restart policy's memory).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Locks::Table)
                .if_not_exists()
                .col(string(Locks::Key).primary_key())
                .col(string_null(Locks::Holder))
                .col(text_null(Locks::Purpose))
                .col(timestamp_with_time_zone_null(Locks::ExpiresAt))
                .col(big_integer(Locks::Version))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Tasks::Table)
                .if_not_exists()
                .col(pk_uuid(Tasks::Id))
                .col(uuid(Tasks::AppId))
                .col(uuid(Tasks::Owner))
                .col(string(Tasks::Kind))
                .col(string(Tasks::State))
                .col(text_null(Tasks::Progress))
                .col(text_null(Tasks::Error))
                .col(uuid_null(Tasks::Deployment))
                .col(text_null(Tasks::Request))
                .col(timestamp_with_time_zone(Tasks::CreatedAt))
                .col(timestamp_with_time_zone_null(Tasks::StartedAt))
                .col(timestamp_with_time_zone_null(Tasks::EndedAt))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tasks_app_id")
                .table(Tasks::Table)
                .col(Tasks::AppId)
                .col(Tasks::Id)
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("tasks_state")
                .table(Tasks::Table)
                .col(Tasks::State)
                .col(Tasks::Id)
                .to_owned(),
        )
        .await?;
        for col in [
            ColumnDef::new(Deployments::Restarts)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Deployments::StartedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Deployments::Origin).uuid().null().to_owned(),
        ] {
            m.alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .add_column(col)
                    .to_owned(),
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            Deployments::Restarts,
            Deployments::StartedAt,
            Deployments::Origin,
        ] {
            m.alter_table(
                Table::alter()
                    .table(Deployments::Table)
                    .drop_column(col)
                    .to_owned(),
            )
            .await?;
        }
        m.drop_table(Table::drop().table(Tasks::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Locks::Table).to_owned())
            .await
    }
}
