use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Id,
    AppId,
    Secret,
    CreatedAt,
    LastDeliveryAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    HookId,
    DeliveryId,
    Commit,
    ReceivedAt,
}

/// Each app's webhook: its id (in its URL) and its secret, sealed (the HMACs of deliveries are
/// checked with it in plain); and the delivery ids each hook has seen, so a replay is ignored on
/// every server, with the commit each push named (the newest of pushes arriving together is
/// the one deployed).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Webhooks::Table)
                .if_not_exists()
                .col(ColumnDef::new(Webhooks::Id).uuid().not_null().primary_key())
                .col(ColumnDef::new(Webhooks::AppId).uuid().not_null())
                .col(ColumnDef::new(Webhooks::Secret).text().not_null())
                .col(
                    ColumnDef::new(Webhooks::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(Webhooks::LastDeliveryAt)
                        .timestamp_with_time_zone()
                        .null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_webhooks_app")
                .table(Webhooks::Table)
                .col(Webhooks::AppId)
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(WebhookDeliveries::Table)
                .if_not_exists()
                .col(ColumnDef::new(WebhookDeliveries::HookId).uuid().not_null())
                .col(
                    ColumnDef::new(WebhookDeliveries::DeliveryId)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::Commit)
                        .string_len(40)
                        .null(),
                )
                .col(
                    ColumnDef::new(WebhookDeliveries::ReceivedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(WebhookDeliveries::HookId)
                        .col(WebhookDeliveries::DeliveryId),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(WebhookDeliveries::Table).to_owned())
            .await?;
        m.drop_table(Table::drop().table(Webhooks::Table).to_owned())
            .await
    }
}
