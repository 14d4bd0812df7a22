//! [`NotificationStore`]: users' notifications (see [`crate::notify`]) and the admins, who get
//! the platform's own ones and read every event.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Delegate;
use crate::error::Result;
use crate::model::{AppId, NotificationId, UserId};
use crate::notify::{NotificationKind, UserNotification};

/// Notifications and admins.
///
/// Guarantees every adapter gives: [`NotificationStore::raise_notification`] keeps at most one
/// uncleared notification per user, kind and app (its condition key), even when several
/// servers raise it at once; it says `true` only for the one it added.
#[async_trait]
pub trait NotificationStore: Send + Sync {
    /// Adds `n` unless an uncleared one of its user, kind and app exists; true if added.
    async fn raise_notification(&self, n: &UserNotification) -> Result<bool>;
    /// Clears the uncleared notifications of `user` about `app` of these `kinds`; returns how
    /// many.
    async fn clear_notifications(
        &self,
        user: UserId,
        app: Option<AppId>,
        kinds: &[NotificationKind],
        at: DateTime<Utc>,
    ) -> Result<u64>;
    /// The user's notifications (unread ones only if `unread_only`) with an id below `before`,
    /// newest first.
    async fn notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<NotificationId>,
        limit: u64,
    ) -> Result<Vec<UserNotification>>;
    /// Marks the user's notifications `ids` (all of them with `None`) read; returns how many
    /// were unread.
    async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<&[NotificationId]>,
    ) -> Result<u64>;
    /// Makes `user` an admin (or not).
    async fn set_admin(&self, user: UserId, admin: bool) -> Result<()>;
    async fn is_admin(&self, user: UserId) -> Result<bool>;
    async fn admins(&self) -> Result<Vec<UserId>>;
}

#[async_trait]
impl<T: Delegate> NotificationStore for T {
    async fn raise_notification(&self, n: &UserNotification) -> Result<bool> {
        self.notification_store().raise_notification(n).await
    }
    async fn clear_notifications(
        &self,
        user: UserId,
        app: Option<AppId>,
        kinds: &[NotificationKind],
        at: DateTime<Utc>,
    ) -> Result<u64> {
        self.notification_store()
            .clear_notifications(user, app, kinds, at)
            .await
    }
    async fn notifications(
        &self,
        user: UserId,
        unread_only: bool,
        before: Option<NotificationId>,
        limit: u64,
    ) -> Result<Vec<UserNotification>> {
        self.notification_store()
            .notifications(user, unread_only, before, limit)
            .await
    }
    async fn mark_notifications_read(
        &self,
        user: UserId,
        ids: Option<&[NotificationId]>,
    ) -> Result<u64> {
        self.notification_store()
            .mark_notifications_read(user, ids)
            .await
    }
    async fn set_admin(&self, user: UserId, admin: bool) -> Result<()> {
        self.notification_store().set_admin(user, admin).await
    }
    async fn is_admin(&self, user: UserId) -> Result<bool> {
        self.notification_store().is_admin(user).await
    }
    async fn admins(&self) -> Result<Vec<UserId>> {
        self.notification_store().admins().await
    }
}
