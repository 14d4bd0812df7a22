//! [`NotificationWebhook`]: a URL a user registered to receive their notifications as JSON
//! POSTs, and the [`WebhookAttempt`]s made to deliver them.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::validation::{ValidationError, quote};
use super::{NotificationWebhookId, UserId};

/// Longest webhook URL accepted.
pub const MAX_WEBHOOK_URL_LEN: usize = 2048;

/// An absolute `http` or `https` URL with a host, no credentials in it, within
/// [`MAX_WEBHOOK_URL_LEN`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        let bad = |why: &str| ValidationError::WebhookUrl(format!("{} {why}", quote(s)));
        if s.len() > MAX_WEBHOOK_URL_LEN {
            return Err(bad(&format!("is longer than {MAX_WEBHOOK_URL_LEN} bytes")));
        }
        let url = reqwest::Url::parse(s).map_err(|e| bad(&format!("is not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("is not an http or https URL"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("names no host"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad(
                "carries credentials (use the signature to authenticate)",
            ));
        }
        Ok(Self(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user's outgoing webhook, without its secret (sealed in the store, shown once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotificationWebhook {
    pub id: NotificationWebhookId,
    pub user: UserId,
    pub url: WebhookUrl,
    pub created_at: DateTime<Utc>,
}

/// How one attempt to deliver a notification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The receiver answered 2xx.
    Delivered,
    /// Another status, a timeout or a connection error; retried while attempts remain.
    Failed,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        if s == "delivered" {
            Self::Delivered
        } else {
            Self::Failed
        }
    }
}

/// One POST of one notification to one webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub webhook: NotificationWebhookId,
    /// The same for every attempt of one notification (the `X-Paas-Delivery` header).
    pub delivery: Uuid,
    /// 1-based.
    pub attempt: u32,
    pub at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// The receiver's status, when it answered.
    pub http_status: Option<u16>,
    /// Why it failed (timeout, connection refused, a non-2xx status).
    pub error: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn only_plain_http_urls_with_a_host() {
        assert!(WebhookUrl::parse("https://hooks.slack.com/services/T/B/x").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/in").is_ok());
        let long = format!("https://example.com/{}", "a".repeat(3000));
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://user:pw@example.com/",
            long.as_str(),
        ] {
            let e = WebhookUrl::parse(bad).expect_err(bad);
            assert_eq!(e.code(), ErrorCode::InvalidWebhookUrl, "{bad}");
        }
    }
}
