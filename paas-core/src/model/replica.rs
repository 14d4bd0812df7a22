//! The instances (replicas) a deployment runs, each at its own address.
//!
//! A deployment records its replicas with their addresses, so a router reads one row to know
//! where an app answers. A replica is `Running` (routed), `Draining` (replaced or scaled away:
//! no new request goes to it, and it is removed once the routers have finished what they sent
//! it, see [`crate::router::drain`]) or `Crashed` (exited: out of the route at once, waiting for
//! the restart policy).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a running instance answers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn url(&self) -> String {
        format!("http://{}:{}/", self.host, self.port)
    }
}

/// Whether a replica takes requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ReplicaState {
    /// Answering and in the route.
    Running,
    /// Out of the route, waiting for the routers to drain it before it is removed.
    Draining,
    /// Exited while it ran: out of the route, restarted or replaced by the restart policy.
    Crashed,
}

impl ReplicaState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplicaState::Running => "RUNNING",
            ReplicaState::Draining => "DRAINING",
            ReplicaState::Crashed => "CRASHED",
        }
    }
}

/// One instance of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replica {
    /// The runtime's id of the instance.
    pub id: String,
    /// Its own address (the router's backend).
    pub endpoint: Endpoint,
    pub state: ReplicaState,
    /// When it answered first (it enters the route then).
    pub started_at: DateTime<Utc>,
}

impl Replica {
    /// A replica that answers now.
    pub fn running(id: String, endpoint: Endpoint, started_at: DateTime<Utc>) -> Self {
        Self {
            id,
            endpoint,
            state: ReplicaState::Running,
            started_at,
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == ReplicaState::Running
    }
}
