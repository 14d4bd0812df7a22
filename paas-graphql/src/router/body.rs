//! Bodies through the router, streamed chunk by chunk (nothing buffered): [`Capped`], a
//! client's request body on its way to the app, cut past the body limit; [`Counted`], a
//! backend's response on its way back, holding its request in flight on the backend until it
//! ends and counting it in the app's traffic then.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use hyper::body::{Bytes, Incoming};
use paas_core::router::{InFlight, Traffic};

/// What the router answers with: a backend's body or the router's own.
pub type ProxyBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

/// A request body past the router's limit: the upstream request is cut with it.
#[derive(Debug, thiserror::Error)]
#[error("the request body is over the router's limit")]
pub struct TooLarge;

/// A client's request body on its way to the app (or none: a retried request had none),
/// counted, and ended with [`TooLarge`] as soon as it passes `limit` bytes.
pub struct Capped {
    inner: Option<Incoming>,
    limit: u64,
    seen: Arc<AtomicU64>,
    over: Arc<AtomicBool>,
}

/// What a [`Capped`] body saw, read once the request is done.
#[derive(Clone, Default)]
pub struct Seen {
    pub bytes: Arc<AtomicU64>,
    pub over: Arc<AtomicBool>,
}

impl Seen {
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    pub fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }
}

impl Capped {
    pub fn new(inner: Option<Incoming>, limit: u64, seen: &Seen) -> Self {
        Self {
            inner,
            limit,
            seen: seen.bytes.clone(),
            over: seen.over.clone(),
        }
    }
}

impl Body for Capped {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    let total = self.seen.fetch_add(len, Ordering::Relaxed) + len;
                    if total > self.limit {
                        self.over.store(true, Ordering::Relaxed);
                        self.inner = None;
                        return Poll::Ready(Some(Err(Box::new(TooLarge))));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(b) => b.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

/// A backend's response body, counted.
pub struct Counted<B> {
    inner: B,
    done: Option<Done>,
    bytes: u64,
}

/// What is recorded once the body ends (or is dropped: the client went away).
struct Done {
    traffic: Arc<Traffic>,
    status: u16,
    bytes_in: Arc<AtomicU64>,
    latency: Duration,
    _in_flight: InFlight,
}

impl<B> Counted<B> {
    pub fn new(
        inner: B,
        traffic: Arc<Traffic>,
        status: u16,
        latency: Duration,
        bytes_in: Arc<AtomicU64>,
        in_flight: InFlight,
    ) -> Self {
        Self {
            inner,
            done: Some(Done {
                traffic,
                status,
                bytes_in,
                latency,
                _in_flight: in_flight,
            }),
            bytes: 0,
        }
    }

    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            let bytes_in = done.bytes_in.load(Ordering::Relaxed);
            done.traffic
                .record(done.status, bytes_in, self.bytes, done.latency);
        }
    }
}

impl<B> Drop for Counted<B> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<B> Body for Counted<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.finish(),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
