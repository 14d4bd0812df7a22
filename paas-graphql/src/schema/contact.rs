//! Where a user's notifications go outside the platform, in the schema: `Viewer.email` and
//! `setEmail`; `notificationWebhooks` (with their recent delivery attempts),
//! `createNotificationWebhook` (the secret, once) and `deleteNotificationWebhook`. A user only
//! ever sees and changes their own.

use async_graphql::{ComplexObject, Context, Enum, ID, SimpleObject};
use chrono::{DateTime, Utc};
use paas_core::Platform;
use paas_core::model::{self, NotificationWebhookId};

use super::types::Viewer;
use crate::auth::viewer;
use crate::error::{GqlResult, OrGql};

/// A URL that receives each of the user's notifications as a signed JSON POST.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct NotificationWebhook {
    pub id: ID,
    pub url: String,
    pub created_at: DateTime<Utc>,
    #[graphql(skip)]
    pub model: model::NotificationWebhook,
}

impl From<model::NotificationWebhook> for NotificationWebhook {
    fn from(h: model::NotificationWebhook) -> Self {
        Self {
            id: ID(h.id.to_string()),
            url: h.url.as_str().to_owned(),
            created_at: h.created_at,
            model: h,
        }
    }
}

#[ComplexObject]
impl NotificationWebhook {
    /// The latest attempts to deliver to this URL, newest first (at most 100; attempts are
    /// kept for a week).
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
    ) -> GqlResult<Vec<WebhookDelivery>> {
        let first = u64::try_from(first.max(0)).unwrap_or(0);
        let attempts = ctx
            .data::<Platform>()?
            .webhook_attempts(&self.model, first)
            .await
            .gql()?;
        Ok(attempts.into_iter().map(Into::into).collect())
    }
}

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum DeliveryStatus {
    /// The receiver answered 2xx.
    Delivered,
    /// Another status, a timeout or no connection; retried with backoff (5 attempts).
    Failed,
}

/// One POST of one notification.
#[derive(SimpleObject)]
pub struct WebhookDelivery {
    /// The same on every attempt of one notification (the `X-Paas-Delivery` header).
    pub delivery_id: ID,
    /// 1-based.
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status: DeliveryStatus,
    /// The receiver's HTTP status, when it answered.
    pub http_status: Option<i32>,
    /// Why the attempt failed.
    pub error: Option<String>,
}

impl From<model::WebhookAttempt> for WebhookDelivery {
    fn from(a: model::WebhookAttempt) -> Self {
        Self {
            delivery_id: ID(a.delivery.to_string()),
            attempt: i32::try_from(a.attempt).unwrap_or(i32::MAX),
            at: a.at,
            status: match a.outcome {
                model::AttemptOutcome::Delivered => DeliveryStatus::Delivered,
                model::AttemptOutcome::Failed => DeliveryStatus::Failed,
            },
            http_status: a.http_status.map(i32::from),
            error: a.error,
        }
    }
}

/// A new webhook with its secret: the only time the secret is shown.
#[derive(SimpleObject)]
pub struct CreatedNotificationWebhook {
    pub webhook: NotificationWebhook,
    /// The key of the `X-Paas-Signature-256: sha256=<hex>` HMAC-SHA256 of each body.
    pub secret: String,
}

pub async fn set_email(ctx: &Context<'_>, email: Option<String>) -> GqlResult<Viewer> {
    let user = viewer(ctx)?;
    let stored = ctx
        .data::<Platform>()?
        .set_email(user, email.as_deref())
        .await
        .gql()?;
    Ok(Viewer {
        id: ID(user.id.to_string()),
        name: user.name.clone(),
        email: stored.map(|e| e.to_string()),
    })
}

pub async fn list(ctx: &Context<'_>) -> GqlResult<Vec<NotificationWebhook>> {
    let user = viewer(ctx)?;
    let hooks = ctx
        .data::<Platform>()?
        .notification_webhooks(user)
        .await
        .gql()?;
    Ok(hooks.into_iter().map(Into::into).collect())
}

pub async fn create(ctx: &Context<'_>, url: String) -> GqlResult<CreatedNotificationWebhook> {
    let user = viewer(ctx)?;
    let (hook, secret) = ctx
        .data::<Platform>()?
        .create_notification_webhook(user, &url)
        .await
        .gql()?;
    Ok(CreatedNotificationWebhook {
        webhook: hook.into(),
        secret: secret.expose().to_owned(),
    })
}

pub async fn delete(ctx: &Context<'_>, id: ID) -> GqlResult<bool> {
    let user = viewer(ctx)?;
    let id: NotificationWebhookId = id.parse().gql()?;
    ctx.data::<Platform>()?
        .delete_notification_webhook(user, id)
        .await
        .gql()?;
    Ok(true)
}
