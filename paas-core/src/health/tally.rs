//! The counting rules of liveness checks, per replica, pure (no I/O, no clock): the warden
//! feeds each check's answer in and acts on the verdict.
//!
//! Rules: failures count only in a row (a pass ends the streak); the first failure of a streak
//! says the replica is failing; `unhealthyThreshold` failures in a row condemn it (it is
//! taken out and restarted, and the verdict repeats until that happened); a failing replica
//! recovers after `healthyThreshold` passes in a row.

use crate::model::HealthCheck;

/// One replica's recent answers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Failures in a row, up to now.
    failures: u32,
    /// Passes in a row, up to now.
    passes: u32,
    /// Whether a failing streak was reported and no recovery since.
    failing: bool,
}

/// What one more answer means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing new to say: healthy, or failing as already said.
    Unchanged,
    /// The first failure of a streak: the replica is failing.
    Failing,
    /// `unhealthyThreshold` failures in a row (or more): take it out and restart it.
    Unhealthy,
    /// A failing replica passed `healthyThreshold` checks in a row.
    Recovered,
}

impl Tally {
    /// Counts one answer (`passed` or not) under `check`'s thresholds.
    pub fn record(&mut self, passed: bool, check: &HealthCheck) -> Verdict {
        if passed {
            self.failures = 0;
            self.passes = self.passes.saturating_add(1);
            if self.failing && self.passes >= check.healthy_threshold {
                self.failing = false;
                return Verdict::Recovered;
            }
            return Verdict::Unchanged;
        }
        self.passes = 0;
        self.failures = self.failures.saturating_add(1);
        if self.failures >= check.unhealthy_threshold {
            self.failing = true;
            return Verdict::Unhealthy;
        }
        if self.failing {
            return Verdict::Unchanged;
        }
        self.failing = true;
        Verdict::Failing
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(healthy: u32, unhealthy: u32) -> HealthCheck {
        HealthCheck {
            healthy_threshold: healthy,
            unhealthy_threshold: unhealthy,
            ..HealthCheck::default()
        }
    }

    fn run(check: &HealthCheck, answers: &[bool]) -> Vec<Verdict> {
        let mut t = Tally::default();
        answers.iter().map(|a| t.record(*a, check)).collect()
    }

    use Verdict::{Failing, Recovered, Unchanged, Unhealthy};

    #[test]
    fn only_failures_in_a_row_condemn_a_replica() {
        let c = check(1, 3);
        assert_eq!(
            run(&c, &[true, false, false, true, false, false, true]),
            [
                Unchanged, Failing, Unchanged, Recovered, Failing, Unchanged, Recovered
            ],
            "a pass ends each streak before the third failure"
        );
        assert_eq!(
            run(&c, &[false, false, false, false]),
            [Failing, Unchanged, Unhealthy, Unhealthy],
            "the verdict repeats until the replica is replaced"
        );
    }

    #[test]
    fn a_threshold_of_one_condemns_at_the_first_failure() {
        assert_eq!(run(&check(1, 1), &[true, false]), [Unchanged, Unhealthy]);
    }

    #[test]
    fn recovery_takes_healthy_threshold_passes_in_a_row() {
        let c = check(3, 5);
        assert_eq!(
            run(&c, &[false, true, true, false, true, true, true, true]),
            [
                Failing, Unchanged, Unchanged, Unchanged, Unchanged, Unchanged, Recovered,
                Unchanged
            ],
            "two passes are not enough, and a failure in between starts the count again"
        );
    }

    #[test]
    fn healthy_replicas_say_nothing() {
        let mut t = Tally::default();
        for _ in 0..100 {
            assert_eq!(t.record(true, &check(2, 3)), Unchanged);
        }
        assert_eq!(t.failures(), 0);
    }
}
