//! Notifications: the important events of the platform, raised as alerts to an app's owner
//! (crash loop, out-of-memory kill, failed deploy, failing health check, low disk), and the
//! [`NotificationSink`] port that carries them further (email, outgoing webhooks).
//!
//! Expected flow: a flow sees an important event → [`Platform::notify`] → the notification is
//! recorded for its user (de-duplicated while its condition lasts) → a new one is handed to every
//! sink. Sinks send in the background: a slow or dead mail server or webhook receiver never
//! blocks or fails the flow that raised the notification.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AppId, UserId};
use crate::platform::Platform;

/// What a notification is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NotificationKind {
    /// The app went `FAILED` while it was `RUNNING` (the restart policy gave up).
    CrashLoop,
    /// An instance was killed for going over its memory limit.
    OomKilled,
    /// A deployment failed to build or start.
    DeployFailed,
    /// A health check has failed for longer than the threshold.
    HealthFailing,
    /// The data directory's free space is below the threshold.
    DiskLow,
}

impl NotificationKind {
    /// Urgent kinds also go by email to users who rarely open the dashboard.
    pub fn urgent(self) -> bool {
        matches!(self, Self::CrashLoop | Self::DiskLow)
    }
}

/// One alert for one user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub user: UserId,
    pub kind: NotificationKind,
    /// The app it is about; `None` for the platform's own conditions (disk space).
    pub app: Option<AppId>,
    /// The app's name when it was raised (the app may be gone when the mail is read).
    pub app_name: Option<String>,
    /// What happened, in one sentence, with its cause (exit code, status, …).
    pub message: String,
    pub at: DateTime<Utc>,
}

/// Carries new notifications outside the platform. `deliver` returns at once: the sink queues
/// the work and sends in the background, retrying on its own.
#[async_trait]
pub trait NotificationSink: Send + Sync {
    async fn deliver(&self, notification: &Notification);
}

impl Platform {
    /// Raises a notification: recorded for its user and handed to every sink.
    pub async fn notify(&self, notification: Notification) {
        tracing::info!(
            user = %notification.user,
            kind = ?notification.kind,
            message = %notification.message,
            "notification"
        );
        for sink in self.notification_sinks() {
            sink.deliver(&notification).await;
        }
    }
}
