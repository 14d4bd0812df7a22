//! [`WebhookSink`]: every notification, as a signed JSON POST to each of the user's webhooks,
//! retried with backoff, each attempt recorded.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;
use uuid::Uuid;

use super::OutboxConfig;
use super::payload::{
    DELIVERY_HEADER, EVENT_HEADER, Payload, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature,
};
use super::queue::{self, Receiver, Sender};
use crate::model::{AttemptOutcome, NotificationWebhook, Secret, WebhookAttempt};
use crate::notify::{Notification, NotificationSink};
use crate::store::Store;

/// How much of a receiver's refusal is kept in an attempt's error.
const ERROR_CHARS: usize = 200;

/// Queues notifications for [`WebhookWorker`].
pub struct WebhookSink {
    queue: Sender,
}

/// Posts what [`WebhookSink`] queued; [`WebhookWorker::run`] once the store exists.
pub struct WebhookWorker {
    queue: Receiver,
    http: reqwest::Client,
    config: Arc<OutboxConfig>,
}

impl WebhookSink {
    pub fn new(config: OutboxConfig) -> (Self, WebhookWorker) {
        let (tx, rx) = queue::channel("webhook", config.queue);
        let http = reqwest::Client::builder()
            .timeout(config.webhook_timeout)
            .connect_timeout(config.webhook_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("paas/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let worker = WebhookWorker {
            queue: rx,
            http,
            config: Arc::new(config),
        };
        (Self { queue: tx }, worker)
    }
}

#[async_trait]
impl NotificationSink for WebhookSink {
    async fn deliver(&self, notification: &Notification) {
        self.queue.push(notification);
    }
}

impl WebhookWorker {
    /// Posts until the sink is dropped with the platform.
    pub async fn run(self, store: Arc<dyn Store>) {
        let (http, config) = (self.http, self.config);
        self.queue
            .run(config.concurrency, |n| {
                let (store, http, config) = (store.clone(), http.clone(), config.clone());
                async move {
                    let hooks = match store.notification_webhook_secrets(n.user).await {
                        Ok(hooks) => hooks,
                        Err(e) => {
                            tracing::warn!(error = %e, "webhooks: the user's hooks could not be read");
                            return;
                        }
                    };
                    let posts = hooks
                        .into_iter()
                        .map(|(hook, secret)| post(&*store, &http, &config, &n, hook, secret));
                    futures::future::join_all(posts).await;
                }
            })
            .await;
    }
}

/// One attempt's answer: the status if any, and the error if it failed.
async fn attempt_once(
    http: &reqwest::Client,
    hook: &NotificationWebhook,
    secret: &Secret,
    body: &[u8],
    delivery: Uuid,
    kind: &str,
) -> (Option<u16>, Option<String>) {
    let sent = http
        .post(hook.url.as_str())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signature(secret.expose(), body))
        .header(DELIVERY_HEADER, delivery.to_string())
        .header(TIMESTAMP_HEADER, Utc::now().timestamp().to_string())
        .header(EVENT_HEADER, kind)
        .body(body.to_vec())
        .send()
        .await;
    match sent {
        Ok(res) if res.status().is_success() => (Some(res.status().as_u16()), None),
        Ok(res) => {
            let status = res.status();
            let text = res.text().await.unwrap_or_default();
            let head: String = text.chars().take(ERROR_CHARS).collect();
            (
                Some(status.as_u16()),
                Some(format!("the receiver answered {status}: {head}")),
            )
        }
        Err(e) if e.is_timeout() => (None, Some("timed out".into())),
        Err(e) => (None, Some(format!("could not connect: {e}"))),
    }
}

#[tracing::instrument(skip_all, fields(webhook = %hook.id, kind = ?n.kind))]
async fn post(
    store: &dyn Store,
    http: &reqwest::Client,
    config: &OutboxConfig,
    n: &Notification,
    hook: NotificationWebhook,
    secret: Secret,
) {
    let delivery = Uuid::now_v7();
    let body = match serde_json::to_vec(&Payload::new(config, n, delivery)) {
        Ok(body) => body,
        Err(e) => {
            tracing::warn!(error = %e, "webhooks: the payload could not be written");
            return;
        }
    };
    let policy = config.webhook_retry;
    let keep = chrono::Duration::from_std(config.attempts_kept).unwrap_or(chrono::Duration::MAX);
    for attempt in 1..=policy.max_attempts.max(1) {
        let (http_status, error) =
            attempt_once(http, &hook, &secret, &body, delivery, n.kind.as_str()).await;
        let at = Utc::now();
        let outcome = if error.is_none() {
            AttemptOutcome::Delivered
        } else {
            AttemptOutcome::Failed
        };
        let record = WebhookAttempt {
            webhook: hook.id,
            delivery,
            attempt,
            at,
            outcome,
            http_status,
            error,
        };
        if let Err(e) = store.record_webhook_attempt(&record, at - keep).await {
            tracing::warn!(error = %e, "webhooks: the attempt could not be recorded");
        }
        if outcome == AttemptOutcome::Delivered {
            return;
        }
        tracing::info!(attempt, error = ?record.error, "webhook delivery failed");
        if attempt < policy.max_attempts {
            tokio::time::sleep(policy.delay(attempt)).await;
        }
    }
    tracing::warn!("webhook delivery failed after every attempt");
}
