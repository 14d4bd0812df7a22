use serde::{Deserialize, Serialize};

use super::ValidationError;

/// How many instances an app runs and when it sleeps: the user's wish, which the scaler follows
/// (see the README's "Scaling" section for the model).
///
/// `min_instances: 0` lets the app sleep after `idle_seconds` without a request, an open
/// websocket or a request in flight; the first request wakes it. Between `min_instances` and
/// `max_instances` the scaler adds instances when the requests in flight per instance stay
/// above `target_concurrency`, and removes them when they stay well below.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scaling {
    pub min_instances: u32,
    pub max_instances: u32,
    pub idle_seconds: u32,
    pub target_concurrency: u32,
}

impl Default for Scaling {
    /// Today's behaviour: one instance that never sleeps.
    fn default() -> Self {
        Self {
            min_instances: 1,
            max_instances: 1,
            idle_seconds: 300,
            target_concurrency: 20,
        }
    }
}

/// What the server allows (configured: `scaling_max_instances`, `scaling_min_idle_seconds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingBounds {
    /// The most instances one app may ask for.
    pub max_instances: u32,
    /// The shortest idle time before an app sleeps (10 s; tests lower it).
    pub min_idle_seconds: u32,
}

impl Default for ScalingBounds {
    fn default() -> Self {
        Self {
            max_instances: 10,
            min_idle_seconds: 10,
        }
    }
}

/// A change of scaling settings as a user sends it: each field left out keeps its value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScalingChange {
    pub min_instances: Option<i64>,
    pub max_instances: Option<i64>,
    pub idle_seconds: Option<i64>,
    pub target_concurrency: Option<i64>,
}

impl Scaling {
    /// `self` with `change` applied, checked against `bounds`. A maximum left out grows to the
    /// minimum asked for (`{minInstances: 3}` means three instances, not an error).
    pub fn with(
        self,
        change: ScalingChange,
        bounds: ScalingBounds,
    ) -> Result<Self, ValidationError> {
        let field = |v: Option<i64>, current: u32, what: &str| -> Result<u32, ValidationError> {
            match v {
                None => Ok(current),
                Some(n) => u32::try_from(n).map_err(|_| {
                    ValidationError::Scaling(format!("{what} must be between 0 and {}", u32::MAX))
                }),
            }
        };
        let min_instances = field(change.min_instances, self.min_instances, "minInstances")?;
        let max_default = self.max_instances.max(min_instances);
        let max_instances = field(change.max_instances, max_default, "maxInstances")?;
        let idle_seconds = field(change.idle_seconds, self.idle_seconds, "idleSeconds")?;
        let target_concurrency = field(
            change.target_concurrency,
            self.target_concurrency,
            "targetConcurrency",
        )?;
        let next = Self {
            min_instances,
            max_instances,
            idle_seconds,
            target_concurrency,
        };
        next.check(bounds)?;
        Ok(next)
    }

    /// `0 ≤ min ≤ max ≤ bounds.max_instances`, `max ≥ 1`, `idle ≥ bounds.min_idle_seconds`,
    /// `target ≥ 1`.
    pub fn check(&self, bounds: ScalingBounds) -> Result<(), ValidationError> {
        let bad = |m: String| Err(ValidationError::Scaling(m));
        if self.max_instances < 1 || self.max_instances > bounds.max_instances {
            return bad(format!(
                "maxInstances must be between 1 and {} (this server's cap), not {}",
                bounds.max_instances, self.max_instances
            ));
        }
        if self.min_instances > self.max_instances {
            return bad(format!(
                "minInstances ({}) must not be above maxInstances ({})",
                self.min_instances, self.max_instances
            ));
        }
        if self.idle_seconds < bounds.min_idle_seconds || self.idle_seconds > MAX_IDLE_SECONDS {
            return bad(format!(
                "idleSeconds must be between {} and {MAX_IDLE_SECONDS}, not {}",
                bounds.min_idle_seconds, self.idle_seconds
            ));
        }
        if self.target_concurrency < 1 || self.target_concurrency > MAX_TARGET_CONCURRENCY {
            return bad(format!(
                "targetConcurrency must be between 1 and {MAX_TARGET_CONCURRENCY}, not {}",
                self.target_concurrency
            ));
        }
        Ok(())
    }

    /// Whether the app may sleep (scale to zero).
    pub fn may_sleep(&self) -> bool {
        self.min_instances == 0
    }

    /// How many instances run when the app is up and no load says otherwise.
    pub fn floor(&self) -> u32 {
        self.min_instances.max(1)
    }
}

/// A week: longer idle times are a typo.
pub const MAX_IDLE_SECONDS: u32 = 7 * 24 * 3600;

/// Requests in flight per instance beyond which a target means nothing.
pub const MAX_TARGET_CONCURRENCY: u32 = 10_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn change(
        min: Option<i64>,
        max: Option<i64>,
        idle: Option<i64>,
        target: Option<i64>,
    ) -> ScalingChange {
        ScalingChange {
            min_instances: min,
            max_instances: max,
            idle_seconds: idle,
            target_concurrency: target,
        }
    }

    #[test]
    fn defaults_are_one_instance_that_never_sleeps() {
        let s = Scaling::default();
        assert_eq!((s.min_instances, s.max_instances), (1, 1));
        assert!(!s.may_sleep());
        assert!(s.check(ScalingBounds::default()).is_ok());
    }

    #[test]
    fn bounds_are_checked() {
        let b = ScalingBounds::default();
        let d = Scaling::default();
        let refused = [
            change(Some(-1), None, None, None),
            change(Some(3), Some(2), None, None),
            change(None, Some(11), None, None),
            change(None, Some(0), None, None),
            change(Some(0), None, Some(9), None),
            change(None, None, None, Some(0)),
            change(None, None, Some(i64::MAX), None),
        ];
        for c in refused {
            let e = d.with(c, b).expect_err("refused");
            assert_eq!(e.code(), crate::error::ErrorCode::InvalidScaling, "{c:?}");
        }
        let ok = d
            .with(change(Some(0), Some(3), Some(10), Some(1)), b)
            .expect("valid");
        assert_eq!(
            ok,
            Scaling {
                min_instances: 0,
                max_instances: 3,
                idle_seconds: 10,
                target_concurrency: 1
            }
        );
        // A maximum left out grows to the minimum.
        let three = d.with(change(Some(3), None, None, None), b).expect("valid");
        assert_eq!((three.min_instances, three.max_instances), (3, 3));
        // A lower bound of the server's lets tests sleep apps sooner.
        let quick = ScalingBounds {
            min_idle_seconds: 1,
            ..b
        };
        assert!(d.with(change(Some(0), None, Some(1), None), quick).is_ok());
    }
}
