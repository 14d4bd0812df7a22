//! [`OutboxStore`]: what notifications going out of the platform need kept: users' outgoing
//! webhooks (their secrets sealed), every attempt to deliver to them, and when each condition
//! was last mailed to each user.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Delegate;
use crate::error::Result;
use crate::model::{NotificationWebhook, NotificationWebhookId, Secret, UserId, WebhookAttempt};

/// Outgoing notifications.
///
/// Guarantees every adapter gives: [`OutboxStore::claim_mail`] says "yes" to one caller per
/// user and condition within the window, even to several servers at once (the pair is the
/// key, the claim one conditional write); a webhook is only ever read or deleted by its user.
#[async_trait]
pub trait OutboxStore: Send + Sync {
    async fn create_notification_webhook(
        &self,
        hook: &NotificationWebhook,
        secret: &Secret,
    ) -> Result<()>;
    /// The user's webhooks, oldest first.
    async fn notification_webhooks(&self, user: UserId) -> Result<Vec<NotificationWebhook>>;
    /// The user's webhooks with their secrets opened, to sign deliveries with.
    async fn notification_webhook_secrets(
        &self,
        user: UserId,
    ) -> Result<Vec<(NotificationWebhook, Secret)>>;
    /// Deletes the user's webhook and its attempts; false when the user has none of that id.
    async fn delete_notification_webhook(
        &self,
        user: UserId,
        id: NotificationWebhookId,
    ) -> Result<bool>;
    /// Records one attempt; attempts older than `forget_before` are forgotten.
    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        forget_before: DateTime<Utc>,
    ) -> Result<()>;
    /// The webhook's latest `limit` attempts, newest first.
    async fn webhook_attempts(
        &self,
        hook: NotificationWebhookId,
        limit: u64,
    ) -> Result<Vec<WebhookAttempt>>;
    /// Marks `condition` as mailed to `user` at `at` unless it was mailed after `not_before`;
    /// true when this caller may send.
    async fn claim_mail(
        &self,
        user: UserId,
        condition: &str,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool>;
    /// Undoes the claim made at `at` (the mail could not be sent), so the next one may go.
    async fn release_mail(&self, user: UserId, condition: &str, at: DateTime<Utc>) -> Result<()>;
}

#[async_trait]
impl<T: Delegate> OutboxStore for T {
    async fn create_notification_webhook(
        &self,
        hook: &NotificationWebhook,
        secret: &Secret,
    ) -> Result<()> {
        self.outbox_store()
            .create_notification_webhook(hook, secret)
            .await
    }
    async fn notification_webhooks(&self, user: UserId) -> Result<Vec<NotificationWebhook>> {
        self.outbox_store().notification_webhooks(user).await
    }
    async fn notification_webhook_secrets(
        &self,
        user: UserId,
    ) -> Result<Vec<(NotificationWebhook, Secret)>> {
        self.outbox_store().notification_webhook_secrets(user).await
    }
    async fn delete_notification_webhook(
        &self,
        user: UserId,
        id: NotificationWebhookId,
    ) -> Result<bool> {
        self.outbox_store()
            .delete_notification_webhook(user, id)
            .await
    }
    async fn record_webhook_attempt(
        &self,
        attempt: &WebhookAttempt,
        forget_before: DateTime<Utc>,
    ) -> Result<()> {
        self.outbox_store()
            .record_webhook_attempt(attempt, forget_before)
            .await
    }
    async fn webhook_attempts(
        &self,
        hook: NotificationWebhookId,
        limit: u64,
    ) -> Result<Vec<WebhookAttempt>> {
        self.outbox_store().webhook_attempts(hook, limit).await
    }
    async fn claim_mail(
        &self,
        user: UserId,
        condition: &str,
        at: DateTime<Utc>,
        not_before: DateTime<Utc>,
    ) -> Result<bool> {
        self.outbox_store()
            .claim_mail(user, condition, at, not_before)
            .await
    }
    async fn release_mail(&self, user: UserId, condition: &str, at: DateTime<Utc>) -> Result<()> {
        self.outbox_store().release_mail(user, condition, at).await
    }
}
