//! The application status state machine. Every legal transition is in [`AppStatus::can_become`];
//! anything else is refused with [`IllegalTransition`], never silently applied.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an application stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppStatus {
    /// Created; its build is on the queue.
    Pending,
    Building,
    Starting,
    Running,
    /// A build or start failed; the reason is kept on the app.
    Failed,
    Stopped,
    /// Scaled to zero after a quiet spell (its scaling allows it): no instance runs, its image
    /// and deployment stay, and the first request wakes it.
    Sleeping,
    /// Being removed; the row goes away at the end.
    Deleting,
}

/// A transition the state machine does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("an application cannot go from {from} to {to}")]
pub struct IllegalTransition {
    pub from: AppStatus,
    pub to: AppStatus,
}

impl AppStatus {
    pub const ALL: [AppStatus; 8] = [
        AppStatus::Pending,
        AppStatus::Building,
        AppStatus::Starting,
        AppStatus::Running,
        AppStatus::Failed,
        AppStatus::Stopped,
        AppStatus::Sleeping,
        AppStatus::Deleting,
    ];

    /// The one table of legal transitions.
    pub fn can_become(self, to: AppStatus) -> bool {
        use AppStatus::*;
        matches!(
            (self, to),
            (Pending, Building)
                | (Building, Starting)
                | (Building | Starting | Pending, Failed)
                | (Starting, Running)
                // restart or redeploy of a live app
                | (Running, Starting)
                // a new deployment of a failed or stopped app
                | (Failed | Stopped, Pending)
                // a restart of a failed or stopped app, or a forced one of an app in a deploy
                | (Failed | Stopped | Pending, Starting)
                // a running app that kept crashing
                | (Running, Failed)
                // a redeploy of a live app builds while the old instance keeps serving
                | (Running, Building)
                // scale to zero after a quiet spell, and the wake on a request
                | (Running, Sleeping)
                | (Sleeping, Starting)
                // a redeploy of a sleeping app builds and starts the new deployment
                | (Sleeping, Pending)
                // a user's stop (a deployment in flight makes the app busy for it); never the
                // platform's own shutdown, which leaves the user's wish as it was
                | (Starting | Running | Failed | Sleeping, Stopped)
                | (Pending | Building | Starting | Running | Failed | Stopped | Sleeping, Deleting)
        )
    }

    /// Checks a transition.
    pub fn transition(self, to: AppStatus) -> Result<AppStatus, IllegalTransition> {
        if self.can_become(to) {
            Ok(to)
        } else {
            Err(IllegalTransition { from: self, to })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AppStatus::Pending => "PENDING",
            AppStatus::Building => "BUILDING",
            AppStatus::Starting => "STARTING",
            AppStatus::Running => "RUNNING",
            AppStatus::Failed => "FAILED",
            AppStatus::Stopped => "STOPPED",
            AppStatus::Sleeping => "SLEEPING",
            AppStatus::Deleting => "DELETING",
        }
    }

    pub fn parse(s: &str) -> Option<AppStatus> {
        AppStatus::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether no work is under way for the app.
    pub fn is_settled(self) -> bool {
        matches!(
            self,
            AppStatus::Running | AppStatus::Failed | AppStatus::Stopped | AppStatus::Sleeping
        )
    }
}

impl fmt::Display for AppStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::AppStatus::{self, *};

    /// The whole table, written out: a change to the machine must change this test.
    #[test]
    fn transition_table() {
        let legal: &[(AppStatus, &[AppStatus])] = &[
            (Pending, &[Building, Starting, Failed, Deleting]),
            (Building, &[Starting, Failed, Deleting]),
            (Starting, &[Running, Failed, Stopped, Deleting]),
            (
                Running,
                &[Starting, Building, Failed, Stopped, Sleeping, Deleting],
            ),
            (Failed, &[Pending, Starting, Stopped, Deleting]),
            (Stopped, &[Pending, Starting, Deleting]),
            (Sleeping, &[Starting, Pending, Stopped, Deleting]),
            (Deleting, &[]),
        ];
        for (from, tos) in legal {
            for to in AppStatus::ALL {
                assert_eq!(
                    from.transition(to).is_ok(),
                    tos.contains(&to),
                    "{from} -> {to}"
                );
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in AppStatus::ALL {
            assert_eq!(AppStatus::parse(s.as_str()), Some(s));
        }
    }
}
