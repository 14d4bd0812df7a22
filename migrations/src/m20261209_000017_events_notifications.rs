use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    Owner,
    AppId,
    AppName,
    Kind,
    Message,
    Details,
    At,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    UserId,
    Kind,
    AppId,
    AppName,
    Message,
    At,
    Read,
    ClearedAt,
    ActiveKey,
}

#[derive(DeriveIden)]
enum Admins {
    Table,
    UserId,
    GrantedAt,
}

/// The event log (ids are UUID v7: they order it; details are a JSON object as text), users'
/// notifications (an uncleared one holds its condition's key, unique, so a condition is
/// notified once while it lasts), and the admins.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Events::Table)
                .if_not_exists()
                .col(ColumnDef::new(Events::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Events::Owner).uuid().not_null())
                .col(ColumnDef::new(Events::AppId).uuid().null())
                .col(ColumnDef::new(Events::AppName).string_len(64).null())
                .col(ColumnDef::new(Events::Kind).string_len(32).not_null())
                .col(ColumnDef::new(Events::Message).text().not_null())
                .col(ColumnDef::new(Events::Details).text().not_null())
                .col(
                    ColumnDef::new(Events::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        for (name, col) in [
            ("idx_events_owner", Events::Owner),
            ("idx_events_app", Events::AppId),
            ("idx_events_at", Events::At),
        ] {
            m.create_index(
                Index::create()
                    .name(name)
                    .table(Events::Table)
                    .col(col)
                    .to_owned(),
            )
            .await?;
        }
        m.create_table(
            Table::create()
                .table(Notifications::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Notifications::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(ColumnDef::new(Notifications::UserId).uuid().not_null())
                .col(
                    ColumnDef::new(Notifications::Kind)
                        .string_len(32)
                        .not_null(),
                )
                .col(ColumnDef::new(Notifications::AppId).uuid().null())
                .col(ColumnDef::new(Notifications::AppName).string_len(64).null())
                .col(ColumnDef::new(Notifications::Message).text().not_null())
                .col(
                    ColumnDef::new(Notifications::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(ColumnDef::new(Notifications::Read).boolean().not_null())
                .col(
                    ColumnDef::new(Notifications::ClearedAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .col(
                    ColumnDef::new(Notifications::ActiveKey)
                        .string_len(160)
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notifications_active")
                .table(Notifications::Table)
                .col(Notifications::ActiveKey)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notifications_user")
                .table(Notifications::Table)
                .col(Notifications::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Admins::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(Admins::UserId)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(Admins::GrantedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Admins::Table.into_iden(),
            Notifications::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}
