//! What the user asked of an app, kept apart from what is observed ([`crate::AppStatus`]).
//!
//! Recovery, supervision and the tasks move the observed state toward this one. Only a user
//! changes it: `stopApplication` to [`Desired::Stopped`]; `startApplication`, a restart, a
//! redeploy or a rollback back to [`Desired::Running`]. The platform stopping (Ctrl-C, an
//! upgrade) never does, so its apps come back when it starts again.

use serde::{Deserialize, Serialize};

/// Whether the app should run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Desired {
    /// Keep it running: start it again whenever its instance is gone.
    #[default]
    Running,
    /// A user stopped it: nothing starts it until a user does.
    Stopped,
}

impl Desired {
    pub fn as_str(self) -> &'static str {
        match self {
            Desired::Running => "RUNNING",
            Desired::Stopped => "STOPPED",
        }
    }

    pub fn parse(s: &str) -> Option<Desired> {
        [Desired::Running, Desired::Stopped]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::Desired;

    #[test]
    fn names_round_trip() {
        for d in [Desired::Running, Desired::Stopped] {
            assert_eq!(Desired::parse(d.as_str()), Some(d));
        }
        assert_eq!(Desired::parse("stopped"), None);
    }
}
