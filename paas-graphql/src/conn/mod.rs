//! Serving HTTP connections with bounds: a cap on open connections, a header timeout, an idle
//! timeout (axum's own `serve` has none of them).

mod accept;
mod activity;

pub(crate) use accept::{Options, serve};
