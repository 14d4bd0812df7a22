//! [`Webhook`]: the address a git host sends an app's pushes to.

use chrono::{DateTime, Utc};

use super::{AppId, HookId};

/// An app's webhook, without its secret (the store keeps that sealed; it is shown once, when
/// made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    /// In the URL (`/hooks/git/<id>`); a new one at each rotation, so an old URL stops working.
    pub id: HookId,
    pub app: AppId,
    pub created_at: DateTime<Utc>,
    /// When a delivery last passed the signature check.
    pub last_delivery_at: Option<DateTime<Utc>>,
}
