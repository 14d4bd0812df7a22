use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Name,
    TokenHash,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Applications {
    Table,
    Id,
    Owner,
    Name,
    RepoUrl,
    Branch,
    Commit,
    Language,
    Port,
    Env,
    Visibility,
    Status,
    StatusReason,
    Deployment,
    EndpointHost,
    EndpointPort,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Deployments {
    Table,
    Id,
    AppId,
    Commit,
    Status,
    Image,
    StartCommand,
    Instance,
    Error,
    BuildAttempts,
    StartAttempts,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum StatusEvents {
    Table,
    AppId,
    Version,
    Owner,
    Status,
    Deployment,
    Reason,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Users::Table)
                .if_not_exists()
                .col(pk_uuid(Users::Id))
                .col(string(Users::Name))
                .col(string_uniq(Users::TokenHash))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Applications::Table)
                .if_not_exists()
                .col(pk_uuid(Applications::Id))
                .col(uuid(Applications::Owner))
                // The unique index is what makes "name taken" exact under concurrent creates.
                .col(string_uniq(Applications::Name))
                .col(text(Applications::RepoUrl))
                .col(string(Applications::Branch))
                .col(string_null(Applications::Commit))
                .col(string_null(Applications::Language))
                .col(integer_null(Applications::Port))
                .col(text(Applications::Env))
                .col(string(Applications::Visibility))
                .col(string(Applications::Status))
                .col(text_null(Applications::StatusReason))
                .col(uuid_null(Applications::Deployment))
                .col(string_null(Applications::EndpointHost))
                .col(integer_null(Applications::EndpointPort))
                .col(big_integer(Applications::Version))
                .col(timestamp_with_time_zone(Applications::CreatedAt))
                .col(timestamp_with_time_zone(Applications::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Applications::Table, Applications::Owner)
                        .to(Users::Table, Users::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_applications_owner_id")
                .table(Applications::Table)
                .col(Applications::Owner)
                .col(Applications::Id)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(Deployments::Table)
                .if_not_exists()
                .col(pk_uuid(Deployments::Id))
                .col(uuid(Deployments::AppId))
                .col(string_null(Deployments::Commit))
                .col(string(Deployments::Status))
                .col(text_null(Deployments::Image))
                .col(text_null(Deployments::StartCommand))
                .col(string_null(Deployments::Instance))
                .col(text_null(Deployments::Error))
                .col(integer(Deployments::BuildAttempts))
                .col(integer(Deployments::StartAttempts))
                .col(timestamp_with_time_zone(Deployments::CreatedAt))
                .col(timestamp_with_time_zone(Deployments::UpdatedAt))
                .foreign_key(
                    ForeignKey::create()
                        .from(Deployments::Table, Deployments::AppId)
                        .to(Applications::Table, Applications::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_deployments_app_id")
                .table(Deployments::Table)
                .col(Deployments::AppId)
                .if_not_exists()
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(StatusEvents::Table)
                .if_not_exists()
                .col(uuid(StatusEvents::AppId))
                .col(big_integer(StatusEvents::Version))
                .col(uuid(StatusEvents::Owner))
                .col(string(StatusEvents::Status))
                .col(uuid_null(StatusEvents::Deployment))
                .col(text_null(StatusEvents::Reason))
                .col(timestamp_with_time_zone(StatusEvents::At))
                .primary_key(
                    Index::create()
                        .col(StatusEvents::AppId)
                        .col(StatusEvents::Version),
                )
                .foreign_key(
                    ForeignKey::create()
                        .from(StatusEvents::Table, StatusEvents::AppId)
                        .to(Applications::Table, Applications::Id)
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            StatusEvents::Table.into_iden(),
            Deployments::Table.into_iden(),
            Applications::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(t).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
