//! Notifications out of the platform: [`MailSink`] (urgent ones, by email to the user) and
//! [`WebhookSink`] (every one, as a signed JSON POST to each of the user's webhooks). Both are
//! [`NotificationSink`](crate::notify::NotificationSink)s.
//!
//! Expected flow: `Platform::notify` → `deliver` puts the notification on the sink's bounded
//! queue and returns (a full queue drops it with a warning) → the sink's worker, started with
//! the store once the platform is built, sends it in the background, a few at a time, retrying
//! with backoff.
//!
//! Guarantees: a flow never waits for a mail server or a webhook receiver, and nothing they do
//! fails a flow; at most one mail per user, kind and app per [`OutboxConfig::mail_window`]
//! (claimed in the store, so across servers and restarts; released when the mail could not be
//! sent at all); every webhook attempt is recorded.

mod mail;
mod payload;
mod queue;
mod webhook;

use std::time::Duration;

pub use mail::{MailSink, MailWorker};
pub use payload::{Payload, SIGNATURE_HEADER};
pub use webhook::{WebhookSink, WebhookWorker};

use crate::retry::RetryPolicy;

/// How the sinks queue, retry and link.
#[derive(Clone, Debug)]
pub struct OutboxConfig {
    /// The dashboard's address as users reach it (`https://paas.example.com`): links go to
    /// `<public_url>/ui/apps/<id>`.
    pub public_url: String,
    /// Notifications waiting per sink; more are dropped with a warning.
    pub queue: usize,
    /// Sends under way at once per sink.
    pub concurrency: usize,
    /// At most one mail per user and condition in this window.
    pub mail_window: Duration,
    pub mail_retry: RetryPolicy,
    pub webhook_retry: RetryPolicy,
    /// Bound on one webhook POST (connect and answer).
    pub webhook_timeout: Duration,
    /// How long webhook attempts are kept.
    pub attempts_kept: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".into(),
            queue: 1024,
            concurrency: 8,
            mail_window: Duration::from_secs(3600),
            mail_retry: RetryPolicy {
                max_attempts: 4,
                base: Duration::from_secs(2),
                max: Duration::from_secs(60),
                jitter: 0.2,
            },
            webhook_retry: RetryPolicy {
                max_attempts: 5,
                base: Duration::from_secs(1),
                max: Duration::from_secs(60),
                jitter: 0.2,
            },
            webhook_timeout: Duration::from_secs(10),
            attempts_kept: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

impl OutboxConfig {
    /// The dashboard page of an app.
    pub fn app_link(&self, app: crate::model::AppId) -> String {
        format!("{}/ui/apps/{app}", self.public_url.trim_end_matches('/'))
    }

    /// The dashboard itself (for notifications about no app).
    pub fn home_link(&self) -> String {
        format!("{}/ui/", self.public_url.trim_end_matches('/'))
    }
}
