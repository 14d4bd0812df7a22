//! The event log: everything that happens to an app (and to a user's tokens), recorded once,
//! readable by its owner (an admin reads all) and streamed on the bus as it happens.
//!
//! Expected flow: a flow does something → [`crate::Platform::record`] with an [`EventRecord`]
//! → one insert into the [`crate::store::EventLogStore`] and an [`crate::events::Event::Recorded`]
//! on the bus. Recording never fails a flow: a store or bus error is logged and the flow goes on.
//! Events older than [`crate::PlatformConfig::event_retention`] are pruned in the background.
//!
//! Guarantees: an event's id is a UUID v7, so ids order events (newest first = id descending)
//! and serve as page cursors. No event holds an env value: an update names the keys it changed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::{AppId, Application, EventId, UserId};

/// What an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    AppCreated,
    /// A deployment was added: a build (or a rollout of a built image) is under way.
    DeployStarted,
    DeploySucceeded,
    DeployFailed,
    /// The app's instances were replaced from the same image (a user's restart, or after a
    /// crash).
    Restarted,
    /// An instance exited by itself (`details.exitCode`).
    Crashed,
    /// An instance was killed for going over its memory limit.
    OomKilled,
    HealthCheckFailed,
    HealthCheckRecovered,
    /// The number of instances changed (`details.from`, `details.to`).
    Scaled,
    Slept,
    Woke,
    /// Settings changed (`details.fields`; for env, `details.envKeys`: never values).
    Updated,
    /// A user stopped the app.
    Stopped,
    /// A user started the stopped app.
    Started,
    Deleted,
    /// A user set a git token (`details.host`).
    TokenCreated,
    /// A user removed a git token.
    TokenRevoked,
    /// Reserved for add-ons.
    AddonCreated,
}

impl EventKind {
    /// Every kind, in the order above.
    pub const ALL: [EventKind; 19] = [
        Self::AppCreated,
        Self::DeployStarted,
        Self::DeploySucceeded,
        Self::DeployFailed,
        Self::Restarted,
        Self::Crashed,
        Self::OomKilled,
        Self::HealthCheckFailed,
        Self::HealthCheckRecovered,
        Self::Scaled,
        Self::Slept,
        Self::Woke,
        Self::Updated,
        Self::Stopped,
        Self::Started,
        Self::Deleted,
        Self::TokenCreated,
        Self::TokenRevoked,
        Self::AddonCreated,
    ];

    /// The name stored in the database (`DEPLOY_FAILED`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AppCreated => "APP_CREATED",
            Self::DeployStarted => "DEPLOY_STARTED",
            Self::DeploySucceeded => "DEPLOY_SUCCEEDED",
            Self::DeployFailed => "DEPLOY_FAILED",
            Self::Restarted => "RESTARTED",
            Self::Crashed => "CRASHED",
            Self::OomKilled => "OOM_KILLED",
            Self::HealthCheckFailed => "HEALTH_CHECK_FAILED",
            Self::HealthCheckRecovered => "HEALTH_CHECK_RECOVERED",
            Self::Scaled => "SCALED",
            Self::Slept => "SLEPT",
            Self::Woke => "WOKE",
            Self::Updated => "UPDATED",
            Self::Stopped => "STOPPED",
            Self::Started => "STARTED",
            Self::Deleted => "DELETED",
            Self::TokenCreated => "TOKEN_CREATED",
            Self::TokenRevoked => "TOKEN_REVOKED",
            Self::AddonCreated => "ADDON_CREATED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// What a flow records: [`crate::Platform::record`] gives it its id and time.
#[derive(Clone, Debug, PartialEq)]
pub struct EventRecord {
    /// Whose event it is: the app's owner, or the user whose token changed.
    pub owner: UserId,
    pub app: Option<AppId>,
    pub app_name: Option<String>,
    pub kind: EventKind,
    /// What happened, in one sentence.
    pub message: String,
    /// Structured facts (exit code, counts, changed fields), a JSON object.
    pub details: serde_json::Value,
}

impl EventRecord {
    /// An event of `app`.
    pub fn app(app: &Application, kind: EventKind, message: impl Into<String>) -> Self {
        Self {
            owner: app.owner,
            app: Some(app.id),
            app_name: Some(app.name.to_string()),
            kind,
            message: message.into(),
            details: serde_json::Value::Object(Default::default()),
        }
    }

    /// An event of a user, about no app (tokens).
    pub fn user(owner: UserId, kind: EventKind, message: impl Into<String>) -> Self {
        Self {
            owner,
            app: None,
            app_name: None,
            kind,
            message: message.into(),
            details: serde_json::Value::Object(Default::default()),
        }
    }

    /// With `details` (a JSON object).
    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

/// One event of the log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LoggedEvent {
    pub id: EventId,
    pub owner: UserId,
    /// `None` for a user's own events (tokens); the app may since have been deleted.
    pub app: Option<AppId>,
    /// The app's name when the event happened.
    pub app_name: Option<String>,
    pub kind: EventKind,
    pub message: String,
    pub details: serde_json::Value,
    pub at: DateTime<Utc>,
}

impl LoggedEvent {
    pub fn new(record: EventRecord) -> Self {
        Self {
            id: EventId::new(),
            owner: record.owner,
            app: record.app,
            app_name: record.app_name,
            kind: record.kind,
            message: record.message,
            details: record.details,
            at: Utc::now(),
        }
    }
}

/// Which events a reader asks for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventFilter {
    /// Only this user's events; `None`: everyone's (an admin).
    pub owner: Option<UserId>,
    pub app: Option<AppId>,
    /// Only these kinds; empty: every kind.
    pub kinds: Vec<EventKind>,
}

impl EventFilter {
    /// Whether `event` passes the filter (the same rule the store applies, for live events).
    pub fn admits(&self, event: &LoggedEvent) -> bool {
        self.owner.is_none_or(|o| o == event.owner)
            && self.app.is_none_or(|a| Some(a) == event.app)
            && (self.kinds.is_empty() || self.kinds.contains(&event.kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::parse("NOPE"), None);
    }

    #[test]
    fn filter_admits_owner_app_and_kinds() {
        let owner = UserId::new();
        let app = AppId::new();
        let mut event = LoggedEvent::new(EventRecord::user(owner, EventKind::TokenCreated, "x"));
        let all = EventFilter::default();
        assert!(all.admits(&event));
        let mine = EventFilter {
            owner: Some(owner),
            ..Default::default()
        };
        assert!(mine.admits(&event));
        let theirs = EventFilter {
            owner: Some(UserId::new()),
            ..Default::default()
        };
        assert!(!theirs.admits(&event));
        let of_app = EventFilter {
            app: Some(app),
            ..Default::default()
        };
        assert!(!of_app.admits(&event));
        event.app = Some(app);
        assert!(of_app.admits(&event));
        let crashes = EventFilter {
            kinds: vec![EventKind::Crashed],
            ..Default::default()
        };
        assert!(!crashes.admits(&event));
    }
}
