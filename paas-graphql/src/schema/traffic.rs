//! `Application.traffic`: what the router of this server counted for an app, read from the
//! route table's in-memory counters ([`paas_core::router::Traffic`]): no store read or write.

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, SimpleObject};
use paas_core::model::AppId;
use paas_core::router::RouteTable;

/// The route table the schema reads traffic from, put in the schema's data by the server.
#[derive(Clone)]
pub struct RouteTableHandle(pub Arc<dyn RouteTable>);

/// Requests answered for an app over a window.
#[derive(SimpleObject, Default)]
pub struct Traffic {
    /// The window counted, in seconds.
    pub window_seconds: i32,
    pub requests: u64,
    /// Answers with a 5xx status (the app's, or the router's 502/503).
    pub errors: u64,
    /// Latency to the response head, milliseconds (to within ~19%); null without requests.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Bytes of request bodies received and response bodies sent.
    pub bytes_in: u64,
    pub bytes_out: u64,
}

impl Traffic {
    /// The counts of `app` over the last `window_seconds`; zeros where nothing was counted
    /// (no router in this server, or no request yet).
    pub fn of(ctx: &Context<'_>, app: AppId, window_seconds: i32) -> Self {
        let window = Duration::from_secs(u64::try_from(window_seconds).unwrap_or(1));
        let counted = ctx
            .data_opt::<RouteTableHandle>()
            .and_then(|t| t.0.traffic(app))
            .map(|t| t.summary(window));
        match counted {
            Some(s) => Self {
                window_seconds: i32::try_from(s.window_secs).unwrap_or(window_seconds),
                requests: s.requests,
                errors: s.errors,
                p50_ms: s.p50_ms,
                p99_ms: s.p99_ms,
                bytes_in: s.bytes_in,
                bytes_out: s.bytes_out,
            },
            None => Self {
                window_seconds,
                ..Self::default()
            },
        }
    }
}
