//! Health checks (the warden's side): one check of an instance ([`probe`]), the per-replica
//! counting rules that turn answers into verdicts ([`tally`]), and the events a check raises
//! ([`HealthEvent`], through [`crate::Platform::health_event`]). The loops that use them are
//! `flow/deploy.rs` (readiness: an instance is routed once it passes) and `flow/warden.rs`
//! (liveness: routed replicas checked every interval).

pub mod probe;
pub mod tally;

use chrono::{DateTime, Utc};

/// What a health check saw that matters to people: raised once per change, never per check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HealthEvent {
    /// A routed replica failed its check (the first failure of a streak): `reason` is the
    /// check's answer, `since` when the streak began.
    Failing {
        instance: String,
        reason: String,
        since: DateTime<Utc>,
    },
    /// A replica that was failing passed `healthyThreshold` checks in a row.
    Recovered { instance: String },
    /// A replica failed `unhealthyThreshold` checks in a row: it is out of the route and
    /// restarted under the restart policy; `reason` is the last failing answer.
    RestartedUnhealthy { instance: String, reason: String },
}

impl HealthEvent {
    /// The event in words, as the app's `SYSTEM` log shows it.
    pub fn describe(&self) -> String {
        match self {
            HealthEvent::Failing {
                instance,
                reason,
                since,
            } => format!(
                "instance {instance} failing its health check since {}: {reason}",
                since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            HealthEvent::Recovered { instance } => {
                format!("instance {instance} passes its health check again")
            }
            HealthEvent::RestartedUnhealthy { instance, reason } => format!(
                "instance {instance} unhealthy, taken out of the route and restarted: {reason}"
            ),
        }
    }
}
