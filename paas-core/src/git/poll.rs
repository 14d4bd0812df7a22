//! [`GitProvider::watch`]'s default: a poll of the remote's refs (`check`, an `ls-remote`: no
//! clone, no object fetched), every [`PollEvery::interval`] with jitter.
//!
//! Expected flow: poll → a head not seen before becomes a candidate → the next poll still shows
//! it → it is announced, its message and author read (one shallow fetch of that commit, bounded
//! like every git call) → poll on. So commits pushed in quick succession (within one interval)
//! give one announcement, of the newest; a head is announced one to two intervals after it lands.
//!
//! Guarantees: each head is announced once per change (a branch that goes back to an earlier head
//! announces it again); a failing remote is polled less and less often (doubling up to
//! [`PollEvery::max_backoff`]) with one log line when it starts failing and one when it is back;
//! a missing branch announces nothing until it exists again.
//!
//! Assumptions: the stream's consumer keeps up (a watch does nothing while its consumer is busy,
//! which only delays the next poll).

use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use rand::Rng;

use super::{GitProvider, HeadCommit, NewHead, WatchTarget};
use crate::model::CommitId;

/// How often a watch polls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PollEvery {
    pub interval: Duration,
    /// Fraction (0.0–1.0) of the interval added or taken at random, so that many watches started
    /// together do not poll in step.
    pub jitter: f64,
    /// The longest wait between polls of a failing remote.
    pub max_backoff: Duration,
}

impl PollEvery {
    /// Polls every `interval`, ±10%, backing off up to 32 intervals (at most 30 minutes).
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            jitter: 0.1,
            max_backoff: (interval * 32).min(Duration::from_secs(1800)).max(interval),
        }
    }
}

/// What one watch remembers between polls; no I/O, so its rules are tested alone.
#[derive(Debug, Default)]
pub struct Poller {
    /// The last head announced.
    announced: Option<CommitId>,
    /// A head seen once, announced if the next poll shows it again.
    candidate: Option<CommitId>,
    /// Whether anything was announced yet.
    started: bool,
    /// Polls failed in a row.
    failures: u32,
}

/// What a poll's result asks of the watch.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Announce this head (`first`: the first of this watch).
    Announce { commit: CommitId, first: bool },
    /// The remote failed for the first time in a row: say so once.
    StartedFailing,
    /// The remote answers again after failing this many times.
    Recovered { failures: u32 },
}

impl Poller {
    /// Takes a poll's answer: the branch's head (`None`: no such branch) or a failure.
    pub fn saw<E>(&mut self, head: Result<Option<CommitId>, E>) -> Vec<Step> {
        let mut steps = Vec::new();
        let head = match head {
            Err(_) => {
                self.failures += 1;
                if self.failures == 1 {
                    steps.push(Step::StartedFailing);
                }
                return steps;
            }
            Ok(head) => head,
        };
        if self.failures > 0 {
            steps.push(Step::Recovered {
                failures: self.failures,
            });
            self.failures = 0;
        }
        match head {
            None => {
                self.candidate = None;
                self.announced = None;
            }
            Some(h) if Some(&h) == self.announced.as_ref() => self.candidate = None,
            Some(h) if Some(&h) == self.candidate.as_ref() => {
                self.candidate = None;
                self.announced = Some(h.clone());
                let first = !self.started;
                self.started = true;
                steps.push(Step::Announce { commit: h, first });
            }
            Some(h) => self.candidate = Some(h),
        }
        steps
    }

    /// How long to wait before the next poll, before jitter: the interval, doubled per failure
    /// in a row up to the maximum.
    pub fn delay(&self, every: &PollEvery) -> Duration {
        let doublings = self.failures.min(16);
        every
            .interval
            .saturating_mul(1 << doublings)
            .min(every.max_backoff.max(every.interval))
    }
}

/// `delay` moved by up to `jitter` of itself either way.
fn jittered(delay: Duration, jitter: f64) -> Duration {
    let j = jitter.clamp(0.0, 1.0);
    if j == 0.0 {
        return delay;
    }
    let factor = rand::rng().random_range((1.0 - j)..=(1.0 + j));
    delay.mul_f64(factor)
}

/// The poll behind [`GitProvider::watch`].
pub fn watch<P>(git: Arc<P>, target: WatchTarget, every: PollEvery) -> BoxStream<'static, NewHead>
where
    P: GitProvider + ?Sized + 'static,
{
    let state = (git, target, Poller::default(), Vec::<NewHead>::new(), true);
    stream::unfold(state, move |(git, target, mut poller, mut ready, mut now)| async move {
        loop {
            if let Some(next) = ready.pop() {
                return Some((next, (git, target, poller, ready, now)));
            }
            if !now {
                tokio::time::sleep(jittered(poller.delay(&every), every.jitter)).await;
            }
            now = false;
            let url = &target.url;
            let head = git
                .check(url, Some(&target.branch), target.token.as_ref())
                .await
                .map(|c| c.head);
            let error = head.as_ref().err().map(ToString::to_string);
            for step in poller.saw(head) {
                match step {
                    Step::StartedFailing => tracing::warn!(
                        %url, branch = %target.branch, error = error.as_deref().unwrap_or(""),
                        "watching a branch: the remote fails; polling it less often until it answers"
                    ),
                    Step::Recovered { failures } => tracing::info!(
                        %url, branch = %target.branch, failures,
                        "watching a branch: the remote answers again"
                    ),
                    Step::Announce { commit, first } => {
                        let head = describe(&*git, &target, commit).await;
                        ready.push(NewHead { head, first });
                    }
                }
            }
        }
    })
    .boxed()
}

/// `commit` with its message and author, when a shallow read of the branch finds it there.
async fn describe<P>(git: &P, target: &WatchTarget, commit: CommitId) -> HeadCommit
where
    P: GitProvider + ?Sized,
{
    match git
        .head_commit(&target.url, &target.branch, target.token.as_ref())
        .await
    {
        Ok(read) if read.commit == commit => read,
        Ok(_) => HeadCommit {
            commit,
            message: None,
            author: None,
        },
        Err(e) => {
            tracing::info!(url = %target.url, %commit, error = %e, "could not read a new commit's message");
            HeadCommit {
                commit,
                message: None,
                author: None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u8) -> CommitId {
        let hex = format!("{n:x}").repeat(40);
        CommitId::parse(&hex[..40]).expect("a commit id")
    }

    fn ok(n: u8) -> Result<Option<CommitId>, ()> {
        Ok(Some(c(n)))
    }

    #[test]
    fn a_head_is_announced_once_it_held_for_one_poll() {
        let mut p = Poller::default();
        assert!(p.saw(ok(1)).is_empty());
        assert_eq!(
            p.saw(ok(1)),
            vec![Step::Announce {
                commit: c(1),
                first: true
            }]
        );
        assert!(p.saw(ok(1)).is_empty(), "announced once");
        assert!(p.saw(ok(2)).is_empty());
        assert_eq!(
            p.saw(ok(2)),
            vec![Step::Announce {
                commit: c(2),
                first: false
            }]
        );
    }

    #[test]
    fn quick_successive_heads_give_one_announcement_of_the_newest() {
        let mut p = Poller::default();
        p.saw(ok(1));
        p.saw(ok(1));
        assert!(p.saw(ok(2)).is_empty());
        assert!(p.saw(ok(3)).is_empty(), "2 never held");
        assert_eq!(
            p.saw(ok(3)),
            vec![Step::Announce {
                commit: c(3),
                first: false
            }]
        );
    }

    #[test]
    fn a_branch_back_at_an_earlier_head_announces_it_again() {
        let mut p = Poller::default();
        for n in [1, 1, 2, 2, 1] {
            p.saw(ok(n));
        }
        assert_eq!(
            p.saw(ok(1)),
            vec![Step::Announce {
                commit: c(1),
                first: false
            }]
        );
    }

    #[test]
    fn a_missing_branch_announces_nothing_until_it_is_back() {
        let mut p = Poller::default();
        p.saw(ok(1));
        p.saw(ok(1));
        assert!(p.saw::<()>(Ok(None)).is_empty());
        assert!(p.saw::<()>(Ok(None)).is_empty());
        p.saw(ok(1));
        assert_eq!(
            p.saw(ok(1)),
            vec![Step::Announce {
                commit: c(1),
                first: false
            }]
        );
    }

    #[test]
    fn failures_back_off_say_so_once_and_reset() {
        let every = PollEvery {
            interval: Duration::from_secs(1),
            jitter: 0.0,
            max_backoff: Duration::from_secs(10),
        };
        let mut p = Poller::default();
        p.saw(ok(1));
        assert_eq!(p.delay(&every), Duration::from_secs(1));
        assert_eq!(p.saw::<&str>(Err("down")), vec![Step::StartedFailing]);
        assert_eq!(p.delay(&every), Duration::from_secs(2));
        assert!(p.saw::<&str>(Err("down")).is_empty(), "no second log line");
        assert_eq!(p.delay(&every), Duration::from_secs(4));
        for _ in 0..40 {
            p.saw::<&str>(Err("down"));
        }
        assert_eq!(p.delay(&every), Duration::from_secs(10), "capped");
        // A failure does not lose the candidate: the head seen before it is announced.
        assert_eq!(
            p.saw(ok(1)),
            vec![
                Step::Recovered { failures: 42 },
                Step::Announce {
                    commit: c(1),
                    first: true
                }
            ]
        );
        assert_eq!(p.delay(&every), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        for _ in 0..100 {
            let d = jittered(Duration::from_millis(1000), 0.1);
            assert!(d >= Duration::from_millis(900) && d <= Duration::from_millis(1100));
        }
    }
}
