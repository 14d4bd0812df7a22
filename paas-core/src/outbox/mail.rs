//! [`MailSink`]: urgent notifications by email to the user's address.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::Utc;

use super::OutboxConfig;
use super::payload::mail_text;
use super::queue::{self, Receiver, Sender};
use crate::mail::{Mail, Mailer};
use crate::notify::{Notification, NotificationSink};
use crate::store::Store;

/// Queues urgent notifications for [`MailWorker`]; the others are not mailed.
pub struct MailSink {
    queue: Sender,
}

/// Sends what [`MailSink`] queued; [`MailWorker::run`] once the store exists.
pub struct MailWorker {
    queue: Receiver,
    mailer: Arc<dyn Mailer>,
    config: Arc<OutboxConfig>,
}

impl MailSink {
    pub fn new(mailer: Arc<dyn Mailer>, config: OutboxConfig) -> (Self, MailWorker) {
        let (tx, rx) = queue::channel("mail", config.queue);
        let worker = MailWorker {
            queue: rx,
            mailer,
            config: Arc::new(config),
        };
        (Self { queue: tx }, worker)
    }
}

#[async_trait]
impl NotificationSink for MailSink {
    async fn deliver(&self, notification: &Notification) {
        if notification.kind.urgent() {
            self.queue.push(notification);
        }
    }
}

/// The condition a mail is about: one mail per user and condition per window.
fn condition(n: &Notification) -> String {
    match n.app {
        Some(app) => format!("{}:{app}", n.kind.as_str()),
        None => n.kind.as_str().to_owned(),
    }
}

impl MailWorker {
    /// Sends until the sink is dropped with the platform.
    pub async fn run(self, store: Arc<dyn Store>) {
        let (mailer, config) = (self.mailer, self.config);
        self.queue
            .run(config.concurrency, |n| {
                let (store, mailer, config) = (store.clone(), mailer.clone(), config.clone());
                async move { send(&*store, &*mailer, &config, n).await }
            })
            .await;
    }
}

#[tracing::instrument(skip_all, fields(user = %n.user, kind = ?n.kind))]
async fn send(store: &dyn Store, mailer: &dyn Mailer, config: &OutboxConfig, n: Notification) {
    let to = match store.email(n.user).await {
        Ok(Some(to)) => to,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "mail: the user's address could not be read");
            return;
        }
    };
    let condition = condition(&n);
    let at = Utc::now();
    let window = chrono::Duration::from_std(config.mail_window).unwrap_or(chrono::Duration::MAX);
    match store.claim_mail(n.user, &condition, at, at - window).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(%condition, "mail: this condition was mailed within the window");
            return;
        }
        Err(e) => {
            tracing::warn!(error = %e, "mail: could not record the send; not sending");
            return;
        }
    }
    let (subject, body) = mail_text(config, &n);
    let mail = Mail { to, subject, body };
    let policy = config.mail_retry;
    for attempt in 1..=policy.max_attempts.max(1) {
        match mailer.send(&mail).await {
            Ok(()) => {
                tracing::info!(%condition, attempt, "notification mailed");
                return;
            }
            Err(e) if e.permanent => {
                tracing::warn!(error = %e, "mail refused for good");
                break;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "mail not sent; retrying");
                if attempt < policy.max_attempts {
                    tokio::time::sleep(policy.delay(attempt)).await;
                }
            }
        }
    }
    tracing::warn!(%condition, "mail not sent after every attempt");
    if let Err(e) = store.release_mail(n.user, &condition, at).await {
        tracing::warn!(error = %e, "mail: could not release the claim");
    }
}
