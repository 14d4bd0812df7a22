//! What one client may hold of the server: how long a connection may stay silent, how many
//! connections and subscriptions may be open, how big a request may be. Without these bounds a
//! few hundred idle sockets or one huge body take the server down for everyone (file descriptors
//! and memory are shared by the API, the deployer and the apps it supervises).

use std::time::Duration;

/// The edge's limits, part of [`crate::Settings`]; every one is a flag and a `PAAS_*` variable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How long a client may take to send a request's head once it started sending it
    /// (slow-header clients hold a connection without ever asking anything).
    pub header_timeout: Duration,
    /// How long a connection may stay open with no request in flight and no byte moving.
    pub idle_timeout: Duration,
    /// Connections open at once (websockets included); more are answered 503 and closed.
    pub max_connections: usize,
    /// How long a websocket may stay open before its `connection_init` (closed with 4408).
    pub ws_init_timeout: Duration,
    /// Subscriptions running at once on one websocket.
    pub max_subscriptions_per_connection: usize,
    /// Subscriptions running at once for one user, over all their websockets.
    pub max_subscriptions_per_user: usize,
    /// Bytes of a request body (and of a websocket message); more is answered 413.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 4096,
            ws_init_timeout: Duration::from_secs(10),
            max_subscriptions_per_connection: 100,
            max_subscriptions_per_user: 500,
            max_body_bytes: 1024 * 1024,
        }
    }
}
