//! Where a user's notifications go outside the platform: their email address
//! ([`Platform::set_email`]) and their outgoing webhooks ([`Platform::create_notification_webhook`],
//! the secret shown once; listed and deleted by their owner only).

use crate::error::{Error, Result};
use crate::model::{
    EmailAddress, NotificationWebhook, NotificationWebhookId, Secret, User, ValidationError,
    WebhookAttempt, WebhookUrl,
};
use crate::platform::Platform;

/// Most webhooks one user may have.
pub const MAX_NOTIFICATION_WEBHOOKS: usize = 10;
/// Most attempts one listing returns per webhook.
pub const MAX_ATTEMPTS_LISTED: u64 = 100;

impl Platform {
    /// Sets (a checked address) or with `None` clears the user's email; returns what is stored.
    pub async fn set_email(
        &self,
        user: &User,
        email: Option<&str>,
    ) -> Result<Option<EmailAddress>> {
        let email = email.map(EmailAddress::parse).transpose()?;
        self.store().set_email(user.id, email.as_ref()).await?;
        Ok(email)
    }

    pub async fn email_of(&self, user: &User) -> Result<Option<EmailAddress>> {
        self.store().email(user.id).await
    }

    /// A new webhook for the user's notifications, with its secret: the only time it is shown.
    pub async fn create_notification_webhook(
        &self,
        user: &User,
        url: &str,
    ) -> Result<(NotificationWebhook, Secret)> {
        let url = WebhookUrl::parse(url)?;
        if self.store().notification_webhooks(user.id).await?.len() >= MAX_NOTIFICATION_WEBHOOKS {
            return Err(ValidationError::WebhookUrl(format!(
                "a user may have at most {MAX_NOTIFICATION_WEBHOOKS} notification webhooks"
            ))
            .into());
        }
        let hook = NotificationWebhook {
            id: NotificationWebhookId::new(),
            user: user.id,
            url,
            created_at: chrono::Utc::now(),
        };
        let secret = Secret::new(hex::encode(rand::random::<[u8; 32]>()));
        self.store()
            .create_notification_webhook(&hook, &secret)
            .await?;
        Ok((hook, secret))
    }

    /// The user's own webhooks.
    pub async fn notification_webhooks(&self, user: &User) -> Result<Vec<NotificationWebhook>> {
        self.store().notification_webhooks(user.id).await
    }

    /// `NOT_FOUND` for a webhook that is not the user's.
    pub async fn delete_notification_webhook(
        &self,
        user: &User,
        id: NotificationWebhookId,
    ) -> Result<()> {
        if self
            .store()
            .delete_notification_webhook(user.id, id)
            .await?
        {
            Ok(())
        } else {
            Err(Error::NotFound("notification webhook"))
        }
    }

    /// The latest attempts to deliver to one of the user's webhooks, newest first.
    pub async fn webhook_attempts(
        &self,
        hook: &NotificationWebhook,
        first: u64,
    ) -> Result<Vec<WebhookAttempt>> {
        self.store()
            .webhook_attempts(hook.id, first.min(MAX_ATTEMPTS_LISTED))
            .await
    }
}
