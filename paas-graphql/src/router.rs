//! The router's HTTP adapter: `paas serve` listens on a second address (`--router-listen`,
//! default `127.0.0.1:8000`) and proxies each request by its `Host` to the app's live instance,
//! as the route table ([`paas_core::router::RouteTable`]) says.
//!
//! ## Layout
//! - here: [`serve`], the router's listener on the same bounded accept loop as the API's
//!   (`conn`: HTTP/1.1 and HTTP/2 cleartext on one port, connection cap, header and idle
//!   timeouts).
//! - [`proxy`]: one request: host → route → backend, headers, websocket upgrades, the answers of
//!   the router itself (404, 503).
//! - [`body`]: the response body that streams through, counting bytes and holding the request's
//!   place on its backend until it ends.

mod body;
mod proxy;

use std::future::Future;

use tokio::net::TcpListener;

pub use proxy::Proxy;

use crate::limits::Limits;

/// Serves the router on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    proxy: Proxy,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let handler = move |req, peer| {
        let proxy = proxy.clone();
        async move { proxy.handle(req, peer, "http").await }
    };
    crate::conn::serve(listener, handler, limits, shutdown).await;
}
