//! The router's HTTP adapter: `paas serve` listens on a second address (`--router-listen`,
//! default `127.0.0.1:8000`), and on a third with HTTPS (`--router-tls-listen`), and proxies
//! each request by its `Host` to the app's live instance, as the route table
//! ([`paas_core::router::RouteTable`]) says.
//!
//! ## Layout
//! - here: [`serve`], a router listener on the same bounded accept loop as the API's (`conn`:
//!   HTTP/1.1 and HTTP/2 (h2c, or ALPN `h2` over TLS) on one port, connection cap) with the
//!   router's own header and idle timeouts and head size bounds.
//! - [`config`]: the router's settings ([`RouterSettings`], [`AccessLog`]).
//! - [`proxy`]: one request: host → route → backend, websocket upgrades, the body limit, the
//!   retry of a request whose pooled connection was closed under it.
//! - [`headers`]: the host of a request and the refusals of bad heads, hop-by-hop and
//!   forwarding headers.
//! - [`pages`]: the router's own answers (404, 503, 308 to HTTPS, the 4xx of bad input).
//! - [`body`]: bodies streamed through, capped and counted.
//! - [`Listeners`]: the HTTP and HTTPS listeners of a server, bound at build, served at run.
//! - [`tls`]: certificates (default and per domain by SNI), reloadable.
//! - [`access`]: access lines into the apps' logs (`ROUTER` stream), sampled, off by default.
//! - [`wake`]: requests for a sleeping app, held while it wakes (bounded, timed), then
//!   forwarded in order.

pub mod access;
mod body;
pub mod config;
mod headers;
mod listeners;
mod pages;
mod proxy;
pub mod tls;
mod wake;

use std::future::Future;

use tokio::net::TcpListener;

pub use config::{AccessLog, OptionalAddr, RouterSettings};
pub use listeners::Listeners;
pub use proxy::Proxy;
pub use wake::WakeLimits;

use crate::limits::Limits;

/// Serves the router on `listener` until `shutdown`: plain HTTP, or HTTPS with `tls`. The
/// connection cap is the server's (`limits`); timeouts and head bounds are the router's.
pub async fn serve(
    listener: TcpListener,
    proxy: Proxy,
    limits: Limits,
    settings: &RouterSettings,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let handler = move |req, peer| {
        let proxy = proxy.clone();
        async move { proxy.handle(req, peer, scheme).await }
    };
    let limits = Limits {
        header_timeout: settings.header_timeout,
        idle_timeout: settings.idle_timeout,
        ..limits
    };
    // hyper's own bounds sit above the router's, so that a head between them gets the router's
    // 431 with a sentence; past hyper's, hyper answers 431 alone.
    let options = crate::conn::Options {
        tls,
        max_headers: Some(settings.max_headers.saturating_mul(2).max(16)),
        max_head_bytes: Some(settings.max_header_bytes.saturating_mul(2).max(16 * 1024)),
    };
    crate::conn::serve(listener, handler, limits, options, shutdown).await;
}
