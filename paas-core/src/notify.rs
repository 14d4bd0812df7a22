//! Notifications: the important events of the platform, raised as alerts to an app's owner
//! (crash loop, out-of-memory kill, failed deploy, failing health check, low disk), and the
//! [`NotificationSink`] port that carries them further (email, outgoing webhooks).
//!
//! Expected flow: a flow sees an important event → [`Platform::notify`] → the notification is
//! recorded for its user (de-duplicated while its condition lasts) → a new one is handed to every
//! sink. Sinks send in the background: a slow or dead mail server or webhook receiver never
//! blocks or fails the flow that raised the notification. When the condition is over (the app
//! runs again, the disk has room again) [`Platform::clear_notification`] clears it: the next
//! time the condition arises is a new notification.
//!
//! Guarantees: while a notification of a user, kind and app is uncleared (read or not), the same
//! condition raises nothing new and reaches no sink, even raised by several servers at once
//! (the store keeps one uncleared row per [`condition_key`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AppId, NotificationId, UserId};
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
    /// Every kind.
    pub const ALL: [NotificationKind; 5] = [
        Self::CrashLoop,
        Self::OomKilled,
        Self::DeployFailed,
        Self::HealthFailing,
        Self::DiskLow,
    ];

    /// The name stored in the database (`CRASH_LOOP`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CrashLoop => "CRASH_LOOP",
            Self::OomKilled => "OOM_KILLED",
            Self::DeployFailed => "DEPLOY_FAILED",
            Self::HealthFailing => "HEALTH_FAILING",
            Self::DiskLow => "DISK_LOW",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

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

/// A notification as its user reads it: with its id, read state and when its condition ended.
#[derive(Clone, Debug, PartialEq)]
pub struct UserNotification {
    pub id: NotificationId,
    pub notification: Notification,
    pub read: bool,
    /// When its condition was over; `None` while it lasts.
    pub cleared_at: Option<DateTime<Utc>>,
}

/// The condition a notification is about: one user, one kind, one app (or none). Two
/// notifications with the same key are the same condition, so the second is a duplicate while
/// the first is uncleared.
pub fn condition_key(user: UserId, kind: NotificationKind, app: Option<AppId>) -> String {
    match app {
        Some(app) => format!("{user}:{}:{app}", kind.as_str()),
        None => format!("{user}:{}", kind.as_str()),
    }
}

/// The conditions an app running again ends.
const ENDED_BY_RUNNING: [NotificationKind; 4] = [
    NotificationKind::CrashLoop,
    NotificationKind::DeployFailed,
    NotificationKind::OomKilled,
    NotificationKind::HealthFailing,
];

impl Platform {
    /// Raises a notification: recorded for its user and, if its condition was not already
    /// notified (see the module's guarantees), handed to every sink. Never fails: a store error
    /// is logged, and the sinks get nothing then (better a missed alert than a repeated one).
    pub async fn notify(&self, notification: Notification) {
        let record = UserNotification {
            id: NotificationId::new(),
            notification,
            read: false,
            cleared_at: None,
        };
        let n = &record.notification;
        let new = match self.store().raise_notification(&record).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(user = %n.user, kind = ?n.kind, error = %e, "could not record a notification");
                return;
            }
        };
        if !new {
            tracing::debug!(user = %n.user, kind = ?n.kind, "notification already raised");
            return;
        }
        tracing::info!(user = %n.user, kind = ?n.kind, message = %n.message, "notification");
        for sink in self.notification_sinks() {
            sink.deliver(n).await;
        }
    }

    /// Ends the condition of `user`'s notification of `kind` about `app`: the notification
    /// stays readable with its `clearedAt`, and the condition arising again notifies anew.
    /// Never fails (a store error is logged).
    pub async fn clear_notification(
        &self,
        user: UserId,
        kind: NotificationKind,
        app: Option<AppId>,
    ) {
        self.clear_notifications(user, app, &[kind]).await;
    }

    /// The app runs again (a new deployment went live, or it ran steadily for
    /// [`crate::PlatformConfig::steady_after`]): its crash loop, failed deployment,
    /// out-of-memory kills and failing health check are over. A restart of the same deployment that crashes again before
    /// it ran steadily is the same condition: no new notification.
    pub(crate) async fn app_recovered(&self, user: UserId, app: AppId) {
        self.clear_notifications(user, Some(app), &ENDED_BY_RUNNING)
            .await;
    }

    async fn clear_notifications(
        &self,
        user: UserId,
        app: Option<AppId>,
        kinds: &[NotificationKind],
    ) {
        match self
            .store()
            .clear_notifications(user, app, kinds, Utc::now())
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(%user, ?kinds, cleared = n, "notification cleared"),
            Err(e) => tracing::warn!(%user, ?kinds, error = %e, "could not clear a notification"),
        }
    }

    /// `user`'s notifications, newest first (see [`NotificationStore::notifications`]).
    pub async fn notifications_of(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<NotificationId>,
        limit: u64,
    ) -> crate::Result<Vec<UserNotification>> {
        self.store()
            .notifications(user, unread_only, before, limit)
            .await
    }

    /// Marks `user`'s notifications `ids` (all with `None`) read; returns how many were unread.
    pub async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<&[NotificationId]>,
    ) -> crate::Result<u64> {
        self.store().mark_notifications_read(user, ids).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_condition_per_user_kind_and_app() {
        let (alice, bob) = (UserId::new(), UserId::new());
        let (a, b) = (AppId::new(), AppId::new());
        let crash = NotificationKind::CrashLoop;
        assert_eq!(
            condition_key(alice, crash, Some(a)),
            condition_key(alice, crash, Some(a))
        );
        assert_ne!(
            condition_key(alice, crash, Some(a)),
            condition_key(alice, crash, Some(b))
        );
        assert_ne!(
            condition_key(alice, crash, Some(a)),
            condition_key(bob, crash, Some(a))
        );
        assert_ne!(
            condition_key(alice, crash, Some(a)),
            condition_key(alice, NotificationKind::OomKilled, Some(a))
        );
        assert_ne!(
            condition_key(alice, NotificationKind::DiskLow, None),
            condition_key(bob, NotificationKind::DiskLow, None)
        );
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in NotificationKind::ALL {
            assert_eq!(NotificationKind::parse(kind.as_str()), Some(kind));
        }
    }
}
