//! [`HookStore`]: apps' webhooks (their secrets sealed) and the deliveries they have seen.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Delegate;
use crate::error::Result;
use crate::model::{AppId, CommitId, HookId, Secret, Webhook};

/// Webhooks.
///
/// Guarantees every adapter gives: an app has at most one webhook (putting one replaces the
/// old, whose id then finds nothing); [`HookStore::record_delivery`] says "new" for a hook's
/// delivery id once, even to several servers at once (the pair is the key).
#[async_trait]
pub trait HookStore: Send + Sync {
    /// Makes `hook` the app's webhook, with `secret`, in place of the one it had.
    async fn put_webhook(&self, hook: &Webhook, secret: &Secret) -> Result<()>;
    async fn webhook_of(&self, app: AppId) -> Result<Option<Webhook>>;
    /// The hook of that id, with its secret opened.
    async fn webhook(&self, id: HookId) -> Result<Option<(Webhook, Secret)>>;
    /// False when the app had none.
    async fn delete_webhook(&self, app: AppId) -> Result<bool>;
    /// Records a delivery (and the commit it pushes) and the hook's last delivery time; false
    /// when the hook saw that delivery id before. Deliveries older than `forget_before` are
    /// forgotten.
    async fn record_delivery(
        &self,
        hook: HookId,
        delivery: &str,
        commit: Option<&CommitId>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool>;
    /// The delivery id of the hook's latest delivery that pushed a commit.
    async fn latest_push_delivery(&self, hook: HookId) -> Result<Option<String>>;
}

#[async_trait]
impl<T: Delegate> HookStore for T {
    async fn put_webhook(&self, hook: &Webhook, secret: &Secret) -> Result<()> {
        self.hook_store().put_webhook(hook, secret).await
    }
    async fn webhook_of(&self, app: AppId) -> Result<Option<Webhook>> {
        self.hook_store().webhook_of(app).await
    }
    async fn webhook(&self, id: HookId) -> Result<Option<(Webhook, Secret)>> {
        self.hook_store().webhook(id).await
    }
    async fn delete_webhook(&self, app: AppId) -> Result<bool> {
        self.hook_store().delete_webhook(app).await
    }
    async fn record_delivery(
        &self,
        hook: HookId,
        delivery: &str,
        commit: Option<&CommitId>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool> {
        self.hook_store()
            .record_delivery(hook, delivery, commit, forget_before)
            .await
    }
    async fn latest_push_delivery(&self, hook: HookId) -> Result<Option<String>> {
        self.hook_store().latest_push_delivery(hook).await
    }
}
