//! An app's health check as the API shows and takes it.

use async_graphql::{Enum, InputObject, SimpleObject};
use paas_core::model;

/// What a health check asks.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::HealthKind")]
pub enum HealthCheckType {
    /// `GET <path>` answers 2xx or 3xx within the timeout.
    Http,
    /// A TCP connection to the app's port opens within the timeout (the default).
    Tcp,
    /// Running is enough.
    None,
}

/// How the app's instances are checked: before they are routed, and every `intervalSeconds`
/// while they run (one failing `unhealthyThreshold` checks in a row is restarted).
#[derive(SimpleObject, Clone)]
pub struct HealthCheck {
    #[graphql(name = "type")]
    pub kind: HealthCheckType,
    /// The path an `HTTP` check asks.
    pub path: String,
    pub interval_seconds: i32,
    pub timeout_seconds: i32,
    /// Checks in a row a starting instance passes before it is routed.
    pub healthy_threshold: i32,
    /// Checks in a row a running instance may fail before it is taken out and restarted.
    pub unhealthy_threshold: i32,
    /// Seconds a starting instance has to pass (when longer than the server's start timeout);
    /// failures in this time after a start do not count.
    pub start_period_seconds: i32,
}

impl From<model::HealthCheck> for HealthCheck {
    fn from(h: model::HealthCheck) -> Self {
        let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Self {
            kind: h.kind.into(),
            path: h.path,
            interval_seconds: n(h.interval_seconds),
            timeout_seconds: n(h.timeout_seconds),
            healthy_threshold: n(h.healthy_threshold),
            unhealthy_threshold: n(h.unhealthy_threshold),
            start_period_seconds: n(h.start_period_seconds),
        }
    }
}

/// Health check settings to set; a field left out keeps its value (on create: the default, a
/// TCP connect every 10 s, timeout 2 s, thresholds 1 and 3, no start period). Checked: the path
/// starts with `/` (no spaces or control characters, at most 1024 bytes), `1 ≤ intervalSeconds
/// ≤ 3600`, `1 ≤ timeoutSeconds ≤ intervalSeconds`, thresholds `1…10`, `0 ≤
/// startPeriodSeconds ≤ 3600` (`INVALID_HEALTH_CHECK`). A change applies to the running
/// instances from their next check; nothing restarts.
#[derive(InputObject, Clone, Default)]
pub struct HealthCheckInput {
    #[graphql(name = "type")]
    pub kind: Option<HealthCheckType>,
    pub path: Option<String>,
    pub interval_seconds: Option<i32>,
    pub timeout_seconds: Option<i32>,
    pub healthy_threshold: Option<i32>,
    pub unhealthy_threshold: Option<i32>,
    pub start_period_seconds: Option<i32>,
}

impl HealthCheckInput {
    pub fn change(self) -> model::HealthCheckChange {
        model::HealthCheckChange {
            kind: self.kind.map(Into::into),
            path: self.path,
            interval_seconds: self.interval_seconds.map(i64::from),
            timeout_seconds: self.timeout_seconds.map(i64::from),
            healthy_threshold: self.healthy_threshold.map(i64::from),
            unhealthy_threshold: self.unhealthy_threshold.map(i64::from),
            start_period_seconds: self.start_period_seconds.map(i64::from),
        }
    }
}
