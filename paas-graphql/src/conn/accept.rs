//! The accept loop: each connection takes a slot of the cap (or is answered 503 and closed),
//! is served by hyper (HTTP/1 with upgrades, HTTP/2) and dropped when it overstays a timeout.
//!
//! Expected flow: accept → slot → (TLS handshake, within the header timeout) → serve until the client closes, a timeout fires, or shutdown
//! asks every connection to finish its requests. Assumption: the caller bounds how long it
//! waits for that finish (websockets handed over by an upgrade are not waited for).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};

use super::activity::{Activity, Watched};
use crate::limits::Limits;

/// What a connection over the cap gets before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-type: \
text/plain\r\ncontent-length: 29\r\nretry-after: 1\r\n\r\ntoo many connections, retry\r\n";

/// How a listener's connections are read besides [`Limits`]: TLS, and hyper's own hard bounds
/// on a request head (over them hyper answers 431 itself, without a body).
#[derive(Clone, Default)]
pub(crate) struct Options {
    pub(crate) tls: Option<tokio_rustls::TlsAcceptor>,
    pub(crate) max_headers: Option<usize>,
    pub(crate) max_head_bytes: Option<usize>,
}

/// Serves `handler` (a request and the peer's address in, a response out) on `listener` until
/// `shutdown`, then lets open connections finish.
pub(crate) async fn serve<H, F, B>(
    listener: TcpListener,
    handler: H,
    limits: Limits,
    options: Options,
    shutdown: impl Future<Output = ()>,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    // Connections watch `stop` for the shutdown; each holds a `done` receiver, so that
    // `done_tx.closed()` completes when the last one ended.
    let (stop_tx, stop_rx) = watch::channel(false);
    let (done_tx, done_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to free instead of spinning.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let (stream, peer) = stream;
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            refuse(stream);
            continue;
        };
        let activity = Activity::new();
        let io = Watched::new(stream, activity.clone(), slot);
        let (handler, limits, options) = (handler.clone(), limits.clone(), options.clone());
        let (stop, done) = (stop_rx.clone(), done_rx.clone());
        tokio::spawn(async move {
            let Some(tls) = options.tls.clone() else {
                connection(io, peer, activity, handler, limits, options, stop, done).await;
                return;
            };
            // The handshake is part of the head: a client silent in it is dropped as one.
            match tokio::time::timeout(limits.header_timeout, tls.accept(io)).await {
                Ok(Ok(io)) => {
                    connection(io, peer, activity, handler, limits, options, stop, done).await
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
    drop(done_rx);
    let _ = stop_tx.send(true);
    done_tx.closed().await;
}

/// Over the cap: a best-effort 503 (never waiting on the client), then the socket closes.
fn refuse(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.try_write(BUSY);
    tracing::debug!("connection refused: too many open connections");
}

#[allow(clippy::too_many_arguments)]
async fn connection<I, H, F, B>(
    io: I,
    peer: SocketAddr,
    activity: Arc<Activity>,
    handler: H,
    limits: Limits,
    options: Options,
    mut stop: watch::Receiver<bool>,
    _done: watch::Receiver<()>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let in_flight = requests.begin();
        let response = handler(req, peer);
        async move {
            let response = response.await;
            drop(in_flight);
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = Builder::new(TokioExecutor::new());
    // The CONNECT protocol carries websockets over HTTP/2.
    builder.http2().enable_connect_protocol();
    if let Some(n) = options.max_headers {
        builder.http1().max_headers(n);
    }
    if let Some(bytes) = options.max_head_bytes {
        builder.http1().max_buf_size(bytes);
        builder
            .http2()
            .max_header_list_size(u32::try_from(bytes).unwrap_or(u32::MAX));
    }
    let conn = builder.serve_connection_with_upgrades(TokioIo::new(io), service);
    tokio::pin!(conn);
    let expired = activity.expired(limits.header_timeout, limits.idle_timeout);
    tokio::pin!(expired);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::trace!(error = %e, "connection ended with an error");
                }
                return;
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
            why = &mut expired => {
                tracing::debug!(?why, "connection closed: timeout");
                return;
            }
        }
    }
}
