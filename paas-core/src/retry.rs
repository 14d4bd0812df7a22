//! Retry as data: one [`RetryPolicy`] for every retried step (build, start, git, runtime calls).
//!
//! Guarantees: at most `max_attempts` tries; only [`Fault::Platform`] errors are retried; the
//! delay before try `n + 1` is `min(base * 2^(n-1), max)` plus up to `jitter` of it at random, so
//! that many workers failing together do not retry in lockstep.

use std::future::Future;
use std::time::Duration;

use rand::Rng;

use crate::error::{Error, Fault};

/// How often and how patiently to retry platform faults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub max: Duration,
    /// Fraction (0.0–1.0) of each delay added at random.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base: Duration::from_millis(500),
            max: Duration::from_secs(30),
            jitter: 0.2,
        }
    }
}

impl RetryPolicy {
    /// A policy with `max_attempts` and the default delays.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..Self::default()
        }
    }

    /// The delay after failed attempt number `attempt` (1-based), without jitter.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.max)
    }

    fn jittered(&self, attempt: u32) -> Duration {
        let d = self.delay(attempt);
        if self.jitter <= 0.0 {
            return d;
        }
        let extra = rand::rng().random_range(0.0..=self.jitter.min(1.0));
        d + d.mul_f64(extra)
    }

    /// Runs `op` until it succeeds, fails with a user fault, or attempts run out. `op` gets the
    /// attempt number (1-based). The last error is returned.
    pub async fn run<T, F, Fut>(&self, op: F) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        self.run_while(op, |e| e.fault() == Fault::Platform).await
    }

    /// Like [`RetryPolicy::run`], retrying the errors `retry` accepts. The deployer retries
    /// every start failure (the design's "3 starts"), whoever is to blame.
    pub async fn run_while<T, F, Fut>(
        &self,
        mut op: F,
        retry: impl Fn(&Error) -> bool,
    ) -> Result<T, Error>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mut attempt = 1;
        loop {
            match op(attempt).await {
                Ok(v) => return Ok(v),
                Err(e) if !retry(&e) || attempt >= self.max_attempts => {
                    return Err(e);
                }
                Err(e) => {
                    tracing::warn!(attempt, error = %e, "retrying");
                    tokio::time::sleep(self.jittered(attempt)).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[test]
    fn delays_double_up_to_max() {
        let p = RetryPolicy {
            max_attempts: 10,
            base: Duration::from_millis(100),
            max: Duration::from_millis(500),
            jitter: 0.0,
        };
        let got: Vec<_> = (1..=5).map(|a| p.delay(a).as_millis()).collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_platform_faults_only() {
        let p = RetryPolicy::attempts(3);
        let calls = AtomicU32::new(0);
        let r: Result<(), _> = p
            .run(|_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::runtime("socket down"))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        calls.store(0, Ordering::SeqCst);
        let r: Result<(), _> = p
            .run(|_| async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::BuildFailed("syntax error".into()))
            })
            .await;
        assert!(r.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn stops_at_first_success() {
        let p = RetryPolicy::attempts(5);
        let r = p
            .run(|n| async move {
                if n < 2 {
                    Err(Error::runtime("flaky"))
                } else {
                    Ok(n)
                }
            })
            .await;
        assert_eq!(r.ok(), Some(2));
    }
}
