//! Typed ids: UUID v7, so they sort by creation time (cursor pagination) and are route-safe.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValidationError;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id, later than every id made before it in this process.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID behind the id (for storage).
            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| ValidationError::Id(format!("{} is not a valid id", super::validation::quote(s))))
            }
        }
    };
}

typed_id!(
    /// Identifies an [`crate::model::Application`].
    AppId
);
typed_id!(
    /// Identifies a [`crate::model::User`].
    UserId
);
typed_id!(
    /// Identifies a [`crate::model::Deployment`].
    DeploymentId
);
typed_id!(
    /// Identifies a [`crate::task::Task`].
    TaskId
);
typed_id!(
    /// Identifies a [`crate::model::Webhook`]: the last part of its URL.
    HookId
);
typed_id!(
    /// Identifies a [`crate::model::NotificationWebhook`] (a user's outgoing webhook).
    NotificationWebhookId
);
typed_id!(
    /// Identifies a [`crate::event_log::LoggedEvent`]; orders the event log.
    EventId
);
typed_id!(
    /// Identifies a [`crate::notify::UserNotification`].
    NotificationId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_creation_and_round_trip() {
        let a = AppId::new();
        let b = AppId::new();
        assert!(a < b);
        assert_eq!(a.to_string().parse::<AppId>(), Ok(a));
        assert!("not-a-uuid".parse::<AppId>().is_err());
    }
}
