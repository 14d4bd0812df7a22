//! An app's webhook in the schema: `Application.webhook`, `createWebhook` (the secret, once),
//! `deleteWebhook`.

use async_graphql::{Context, ID, SimpleObject};
use chrono::{DateTime, Utc};
use paas_core::Platform;
use paas_core::model::{self, AppId};

use crate::auth::viewer;
use crate::error::{GqlResult, OrGql};

/// Where a git host sends an app's pushes. Its secret is shown only by `createWebhook`.
#[derive(SimpleObject)]
pub struct Webhook {
    /// The path to give the git host, after this server's address
    /// (`https://paas.example.com/hooks/git/<id>`).
    pub url: String,
    pub created_at: DateTime<Utc>,
    /// When a delivery last passed the signature check.
    pub last_delivery_at: Option<DateTime<Utc>>,
}

impl From<model::Webhook> for Webhook {
    fn from(h: model::Webhook) -> Self {
        Webhook {
            url: format!("/hooks/git/{}", h.id),
            created_at: h.created_at,
            last_delivery_at: h.last_delivery_at,
        }
    }
}

/// A new webhook with its secret: the only time the secret is shown.
#[derive(SimpleObject)]
pub struct CreatedWebhook {
    pub webhook: Webhook,
    /// The secret the git host signs deliveries with (GitLab: the "secret token").
    pub secret: String,
    /// The same as `webhook.url`.
    pub url: String,
}

pub async fn create(ctx: &Context<'_>, app: ID) -> GqlResult<CreatedWebhook> {
    let user = viewer(ctx)?;
    let id: AppId = app.parse().gql()?;
    let platform = ctx.data::<Platform>()?;
    let (hook, secret) = platform.create_webhook(user, id).await.gql()?;
    let webhook = Webhook::from(hook);
    Ok(CreatedWebhook {
        url: webhook.url.clone(),
        webhook,
        secret: secret.expose().to_owned(),
    })
}

pub async fn delete(ctx: &Context<'_>, app: ID) -> GqlResult<bool> {
    let user = viewer(ctx)?;
    let id: AppId = app.parse().gql()?;
    ctx.data::<Platform>()?.delete_webhook(user, id).await.gql()
}

pub async fn of(ctx: &Context<'_>, app: AppId) -> GqlResult<Option<Webhook>> {
    let user = viewer(ctx)?;
    Ok(ctx
        .data::<Platform>()?
        .webhook_for(user, app)
        .await
        .gql()?
        .map(Into::into))
}
