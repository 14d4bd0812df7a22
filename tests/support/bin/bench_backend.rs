//! The router bench's backend: a small, fast HTTP/1.1 server (hyper on a multi-thread runtime)
//! that answers every request with the same short body, `hello from version <VERSION> on port <PORT>`,
//! so it is never the bottleneck of the figures it stands behind, and a client can tell which
//! deployment answered (`VERSION`, which the bench's Procfile reads from a committed file)
//! and where the instance listens (to measure it directly).
//!
//! Listens on `127.0.0.1:$PORT`, as an app deployed by paas does; runs until killed.

use std::convert::Infallible;

use anyhow::Context;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let port: u16 = std::env::var("PORT")
        .context("PORT is not set")?
        .parse()
        .context("PORT is not a port")?;
    let version = std::env::var("VERSION").unwrap_or_else(|_| "0".into());
    let body = Bytes::from(format!("hello from version {version} on port {port}\n"));
    let listener = TcpListener::bind(("127.0.0.1", port)).await?;
    loop {
        let (stream, _) = listener.accept().await?;
        // Small answers on a busy keep-alive connection: send each at once.
        stream.set_nodelay(true)?;
        let body = body.clone();
        tokio::spawn(async move {
            let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                let body = body.clone();
                async move { Ok::<_, Infallible>(Response::new(Full::new(body))) }
            });
            // A client going away mid-request is the client's business, not the bench's.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
