use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Email,
}

#[derive(DeriveIden)]
enum NotificationWebhooks {
    Table,
    Id,
    UserId,
    Url,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum NotificationWebhookAttempts {
    Table,
    WebhookId,
    DeliveryId,
    Attempt,
    At,
    Outcome,
    HttpStatus,
    Error,
}

#[derive(DeriveIden)]
enum MailsSent {
    Table,
    UserId,
    Condition,
    SentAt,
}

/// Users' email addresses; their outgoing notification webhooks (secrets sealed) and every
/// attempt to deliver to them; and when each condition was last mailed to each user, so that a
/// restart does not mail it again within the hour.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .add_column(ColumnDef::new(Users::Email).string_len(254).null())
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationWebhooks::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(NotificationWebhooks::Id)
                        .uuid()
                        .not_null()
                        .primary_key(),
                )
                .col(
                    ColumnDef::new(NotificationWebhooks::UserId)
                        .uuid()
                        .not_null(),
                )
                .col(ColumnDef::new(NotificationWebhooks::Url).text().not_null())
                .col(
                    ColumnDef::new(NotificationWebhooks::Secret)
                        .text()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhooks::CreatedAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notification_webhooks_user")
                .table(NotificationWebhooks::Table)
                .col(NotificationWebhooks::UserId)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(NotificationWebhookAttempts::Table)
                .if_not_exists()
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::WebhookId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::DeliveryId)
                        .uuid()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::Attempt)
                        .integer()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::At)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::Outcome)
                        .string_len(16)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::HttpStatus)
                        .integer()
                        .null(),
                )
                .col(
                    ColumnDef::new(NotificationWebhookAttempts::Error)
                        .text()
                        .null(),
                )
                .primary_key(
                    Index::create()
                        .col(NotificationWebhookAttempts::WebhookId)
                        .col(NotificationWebhookAttempts::DeliveryId)
                        .col(NotificationWebhookAttempts::Attempt),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("idx_notification_webhook_attempts_at")
                .table(NotificationWebhookAttempts::Table)
                .col(NotificationWebhookAttempts::WebhookId)
                .col(NotificationWebhookAttempts::At)
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(MailsSent::Table)
                .if_not_exists()
                .col(ColumnDef::new(MailsSent::UserId).uuid().not_null())
                .col(
                    ColumnDef::new(MailsSent::Condition)
                        .string_len(128)
                        .not_null(),
                )
                .col(
                    ColumnDef::new(MailsSent::SentAt)
                        .timestamp_with_time_zone()
                        .not_null(),
                )
                .primary_key(
                    Index::create()
                        .col(MailsSent::UserId)
                        .col(MailsSent::Condition),
                )
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table(MailsSent::Table).to_owned())
            .await?;
        m.drop_table(
            Table::drop()
                .table(NotificationWebhookAttempts::Table)
                .to_owned(),
        )
        .await?;
        m.drop_table(Table::drop().table(NotificationWebhooks::Table).to_owned())
            .await?;
        m.alter_table(
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::Email)
                .to_owned(),
        )
        .await
    }
}
