use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// How an instance is checked: before it is routed (readiness) and while it runs (liveness).
/// See the README's "Health checks" for the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HealthKind {
    /// `GET <path>` answers 2xx or 3xx within the timeout.
    Http,
    /// A TCP connection to the app's port opens within the timeout (today's behaviour).
    #[default]
    Tcp,
    /// Running is enough.
    None,
}

/// An app's health check, valid by construction when built through [`HealthCheck::with`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    pub kind: HealthKind,
    /// The path an `HTTP` check asks (`/` by default); kept for the other kinds too, so that
    /// switching back to `HTTP` finds it.
    pub path: String,
    /// Seconds between two checks of a running instance.
    pub interval_seconds: u32,
    /// Seconds a check may take (at most the interval).
    pub timeout_seconds: u32,
    /// Checks in a row an instance must pass before it is routed (and to count as recovered).
    pub healthy_threshold: u32,
    /// Checks in a row a routed instance may fail before it is taken out and restarted.
    pub unhealthy_threshold: u32,
    /// Seconds a starting instance has to pass (when longer than the server's start timeout);
    /// failures in this time after a start do not count against a running instance either.
    pub start_period_seconds: u32,
}

impl Default for HealthCheck {
    /// Today's behaviour: a TCP connect to the app's port.
    fn default() -> Self {
        Self {
            kind: HealthKind::Tcp,
            path: "/".into(),
            interval_seconds: 10,
            timeout_seconds: 2,
            healthy_threshold: 1,
            unhealthy_threshold: 3,
            start_period_seconds: 0,
        }
    }
}

/// A change of health check settings as a user sends it: each field left out keeps its value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheckChange {
    pub kind: Option<HealthKind>,
    pub path: Option<String>,
    pub interval_seconds: Option<i64>,
    pub timeout_seconds: Option<i64>,
    pub healthy_threshold: Option<i64>,
    pub unhealthy_threshold: Option<i64>,
    pub start_period_seconds: Option<i64>,
}

/// The longest interval (and start period): an hour.
pub const MAX_HEALTH_SECONDS: u32 = 3600;
/// The most checks in a row a threshold may ask.
pub const MAX_HEALTH_THRESHOLD: u32 = 10;
/// The longest path, in bytes.
pub const MAX_HEALTH_PATH: usize = 1024;

impl HealthCheck {
    /// `self` with `change` applied, checked.
    pub fn with(&self, change: &HealthCheckChange) -> Result<Self, ValidationError> {
        let number = |v: Option<i64>, current: u32, what: &str| -> Result<u32, ValidationError> {
            match v {
                None => Ok(current),
                Some(n) => u32::try_from(n).map_err(|_| bad(format!("{what} must not be {n}"))),
            }
        };
        let next = Self {
            kind: change.kind.unwrap_or(self.kind),
            path: change.path.clone().unwrap_or_else(|| self.path.clone()),
            interval_seconds: number(
                change.interval_seconds,
                self.interval_seconds,
                "intervalSeconds",
            )?,
            timeout_seconds: number(
                change.timeout_seconds,
                self.timeout_seconds,
                "timeoutSeconds",
            )?,
            healthy_threshold: number(
                change.healthy_threshold,
                self.healthy_threshold,
                "healthyThreshold",
            )?,
            unhealthy_threshold: number(
                change.unhealthy_threshold,
                self.unhealthy_threshold,
                "unhealthyThreshold",
            )?,
            start_period_seconds: number(
                change.start_period_seconds,
                self.start_period_seconds,
                "startPeriodSeconds",
            )?,
        };
        next.check()?;
        Ok(next)
    }

    /// The path starts with `/`, has no control characters or spaces and is at most
    /// [`MAX_HEALTH_PATH`] bytes; `1 ≤ interval ≤ 3600`, `1 ≤ timeout ≤ interval`, thresholds
    /// `1 ≤ n ≤ 10`, `0 ≤ start period ≤ 3600`.
    pub fn check(&self) -> Result<(), ValidationError> {
        let p = &self.path;
        if !p.starts_with('/') {
            return Err(bad(format!(
                "path must start with '/', not {}",
                super::quote(p)
            )));
        }
        if p.len() > MAX_HEALTH_PATH {
            return Err(bad(format!(
                "path must be at most {MAX_HEALTH_PATH} bytes, not {}",
                p.len()
            )));
        }
        if p.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(bad(format!(
                "path must hold no spaces or control characters: {}",
                super::quote(p)
            )));
        }
        let within = |v: u32, lo: u32, hi: u32, what: &str| {
            if v < lo || v > hi {
                Err(bad(format!(
                    "{what} must be between {lo} and {hi}, not {v}"
                )))
            } else {
                Ok(())
            }
        };
        within(
            self.interval_seconds,
            1,
            MAX_HEALTH_SECONDS,
            "intervalSeconds",
        )?;
        within(
            self.timeout_seconds,
            1,
            self.interval_seconds,
            "timeoutSeconds (at most intervalSeconds)",
        )?;
        within(
            self.healthy_threshold,
            1,
            MAX_HEALTH_THRESHOLD,
            "healthyThreshold",
        )?;
        within(
            self.unhealthy_threshold,
            1,
            MAX_HEALTH_THRESHOLD,
            "unhealthyThreshold",
        )?;
        within(
            self.start_period_seconds,
            0,
            MAX_HEALTH_SECONDS,
            "startPeriodSeconds",
        )
    }

    pub fn interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval_seconds))
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs(u64::from(self.timeout_seconds))
    }

    pub fn start_period(&self) -> Duration {
        Duration::from_secs(u64::from(self.start_period_seconds))
    }

    /// What the check asks, in words: `GET /health`, `TCP connect`, `none`.
    pub fn describe(&self) -> String {
        match self.kind {
            HealthKind::Http => format!("GET {}", self.path),
            HealthKind::Tcp => "TCP connect".into(),
            HealthKind::None => "none".into(),
        }
    }
}

fn bad(message: String) -> ValidationError {
    ValidationError::HealthCheck(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_todays_tcp_connect_and_valid() {
        let d = HealthCheck::default();
        assert_eq!(d.kind, HealthKind::Tcp);
        assert!(d.check().is_ok());
    }

    #[test]
    fn bad_values_are_refused_with_their_code() {
        let d = HealthCheck::default();
        let refused = [
            HealthCheckChange {
                path: Some("health".into()),
                ..Default::default()
            },
            HealthCheckChange {
                path: Some("/a\nb".into()),
                ..Default::default()
            },
            HealthCheckChange {
                path: Some(format!("/{}", "a".repeat(MAX_HEALTH_PATH))),
                ..Default::default()
            },
            HealthCheckChange {
                interval_seconds: Some(0),
                ..Default::default()
            },
            HealthCheckChange {
                interval_seconds: Some(3601),
                ..Default::default()
            },
            HealthCheckChange {
                interval_seconds: Some(5),
                timeout_seconds: Some(6),
                ..Default::default()
            },
            HealthCheckChange {
                timeout_seconds: Some(0),
                ..Default::default()
            },
            HealthCheckChange {
                healthy_threshold: Some(0),
                ..Default::default()
            },
            HealthCheckChange {
                unhealthy_threshold: Some(11),
                ..Default::default()
            },
            HealthCheckChange {
                start_period_seconds: Some(-1),
                ..Default::default()
            },
            HealthCheckChange {
                start_period_seconds: Some(3601),
                ..Default::default()
            },
        ];
        for c in refused {
            let e = d.with(&c).expect_err("refused");
            assert_eq!(
                e.code(),
                crate::error::ErrorCode::InvalidHealthCheck,
                "{c:?}"
            );
        }
        let http = d
            .with(&HealthCheckChange {
                kind: Some(HealthKind::Http),
                path: Some("/health?full=1".into()),
                interval_seconds: Some(1),
                timeout_seconds: Some(1),
                ..Default::default()
            })
            .expect("valid");
        assert_eq!(http.describe(), "GET /health?full=1");
        assert_eq!(
            http.unhealthy_threshold, 3,
            "fields left out keep their values"
        );
    }
}
