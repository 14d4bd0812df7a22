//! What a notification looks like outside: the JSON body of a webhook POST (Slack's `text`
//! plus structured fields), its signature, and the mail's subject and body.

use serde::Serialize;
use uuid::Uuid;

use super::OutboxConfig;
use crate::notify::{Notification, NotificationKind};

/// The header carrying `sha256=<hex HMAC-SHA256 of the raw body under the webhook's secret>`.
pub const SIGNATURE_HEADER: &str = "X-Paas-Signature-256";
/// The delivery's id: the same on every attempt of one notification to one webhook.
pub const DELIVERY_HEADER: &str = "X-Paas-Delivery";
/// When this attempt was sent, in Unix seconds.
pub const TIMESTAMP_HEADER: &str = "X-Paas-Timestamp";
/// The notification's kind (`CRASH_LOOP`, ...).
pub const EVENT_HEADER: &str = "X-Paas-Event";

/// A few words for people.
fn kind_title(kind: NotificationKind) -> &'static str {
    match kind {
        NotificationKind::CrashLoop => "crash loop",
        NotificationKind::OomKilled => "out of memory",
        NotificationKind::DeployFailed => "deploy failed",
        NotificationKind::HealthFailing => "health check failing",
        NotificationKind::DiskLow => "disk space low",
    }
}

#[derive(Serialize, Debug, PartialEq)]
pub struct PayloadApp {
    pub id: String,
    pub name: Option<String>,
}

/// The JSON body of a webhook POST.
#[derive(Serialize, Debug, PartialEq)]
pub struct Payload {
    /// One line for chat tools (Slack and compatible incoming webhooks show it).
    pub text: String,
    /// The delivery's id (as in the delivery header), inside the signed body.
    pub id: String,
    pub kind: &'static str,
    pub app: Option<PayloadApp>,
    pub message: String,
    /// RFC 3339.
    pub at: String,
    /// The app's page on the dashboard.
    pub link: String,
}

/// Where a notification points.
pub(super) fn link(config: &OutboxConfig, n: &Notification) -> String {
    match n.app {
        Some(app) => config.app_link(app),
        None => config.home_link(),
    }
}

impl Payload {
    pub fn new(config: &OutboxConfig, n: &Notification, delivery: Uuid) -> Self {
        let link = link(config, n);
        let about = n.app_name.as_deref().unwrap_or("paas");
        Self {
            text: format!(
                "[paas] {about}: {} — {} <{link}>",
                kind_title(n.kind),
                n.message
            ),
            id: delivery.to_string(),
            kind: n.kind.as_str(),
            app: n.app.map(|id| PayloadApp {
                id: id.to_string(),
                name: n.app_name.clone(),
            }),
            message: n.message.clone(),
            at: n.at.to_rfc3339(),
            link,
        }
    }
}

/// The signature header's value for `body`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", crate::hooks::sign(secret, body))
}

/// A mail's subject and body.
pub(super) fn mail_text(config: &OutboxConfig, n: &Notification) -> (String, String) {
    let about = n.app_name.as_deref().unwrap_or("the platform");
    let subject = format!("[paas] {about}: {}", kind_title(n.kind));
    let body = format!(
        "{what}\n\n{message}\n\nWhen: {at}\nOpen: {link}\n\n\
         You get this mail because your paas account has this address. At most one mail per \
         condition and app is sent per hour.\n",
        what = match n.app_name.as_deref() {
            Some(name) => format!("Your app {name} needs attention: {}.", kind_title(n.kind)),
            None => format!("The platform needs attention: {}.", kind_title(n.kind)),
        },
        message = n.message,
        at = n.at.to_rfc3339(),
        link = link(config, n),
    );
    (subject, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AppId, UserId};

    #[test]
    fn the_payload_names_the_app_and_links_to_it() {
        let app = AppId::new();
        let n = Notification {
            user: UserId::new(),
            kind: NotificationKind::CrashLoop,
            app: Some(app),
            app_name: Some("shop".into()),
            message: "shop failed: exit code 3".into(),
            at: chrono::Utc::now(),
        };
        let config = OutboxConfig {
            public_url: "https://paas.example.com/".into(),
            ..OutboxConfig::default()
        };
        let p = Payload::new(&config, &n, Uuid::nil());
        assert_eq!(p.link, format!("https://paas.example.com/ui/apps/{app}"));
        assert_eq!(p.kind, "CRASH_LOOP");
        assert!(
            p.text.contains("shop") && p.text.contains("exit code 3"),
            "{}",
            p.text
        );
        let (subject, body) = mail_text(&config, &n);
        assert!(subject.contains("shop"));
        assert!(
            body.contains("exit code 3") && body.contains(&p.link),
            "{body}"
        );
        assert_eq!(
            signature("key", b"The quick brown fox jumps over the lazy dog"),
            "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }
}
