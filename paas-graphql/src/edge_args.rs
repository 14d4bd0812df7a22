//! `paas serve`'s flags for the edge's limits (`paas_graphql::limits`), apart from `main.rs`
//! so that flags of other concerns are added without touching these.

use std::time::Duration;

use clap::Args;
use paas_graphql::Settings;

/// What one client may hold of the server (see `paas_graphql::limits`).
#[derive(Args, Clone)]
pub(crate) struct EdgeArgs {
    /// Milliseconds a client may take to send a request's head once it started it.
    #[arg(long, env = "PAAS_HEADER_TIMEOUT_MS", default_value_t = 10_000)]
    header_timeout_ms: u64,
    /// Milliseconds a connection may stay open with no request in flight and no byte moving.
    #[arg(long, env = "PAAS_IDLE_TIMEOUT_MS", default_value_t = 60_000)]
    idle_timeout_ms: u64,
    /// Connections open at once (websockets included); more are answered 503 and closed.
    #[arg(long, env = "PAAS_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Milliseconds a websocket may stay open before its connection_init (closed with 4408).
    #[arg(long, env = "PAAS_WS_INIT_TIMEOUT_MS", default_value_t = 10_000)]
    ws_init_timeout_ms: u64,
    /// Subscriptions running at once on one websocket.
    #[arg(
        long,
        env = "PAAS_MAX_SUBSCRIPTIONS_PER_CONNECTION",
        default_value_t = 100
    )]
    max_subscriptions_per_connection: usize,
    /// Subscriptions running at once for one user.
    #[arg(long, env = "PAAS_MAX_SUBSCRIPTIONS_PER_USER", default_value_t = 500)]
    max_subscriptions_per_user: usize,
    /// Bytes of a request body or websocket message; more is answered 413.
    #[arg(long, env = "PAAS_MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    max_body_bytes: usize,
}

impl EdgeArgs {
    pub(crate) fn apply(self, settings: &mut Settings) {
        settings.limits = paas_graphql::limits::Limits {
            header_timeout: Duration::from_millis(self.header_timeout_ms.max(1)),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms.max(1)),
            max_connections: self.max_connections.max(1),
            ws_init_timeout: Duration::from_millis(self.ws_init_timeout_ms.max(1)),
            max_subscriptions_per_connection: self.max_subscriptions_per_connection,
            max_subscriptions_per_user: self.max_subscriptions_per_user,
            max_body_bytes: self.max_body_bytes.max(1024),
        };
    }
}
