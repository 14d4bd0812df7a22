//! A body streamed from a backend to a client, chunk by chunk (nothing buffered), that holds its
//! request in flight on the backend until it ends and counts it in the app's traffic then.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use hyper::body::Bytes;
use paas_core::router::{InFlight, Traffic};

/// What the router answers with: a backend's body or the router's own.
pub type ProxyBody = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

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
    bytes_in: u64,
    latency: Duration,
    _in_flight: InFlight,
}

impl<B> Counted<B> {
    pub fn new(
        inner: B,
        traffic: Arc<Traffic>,
        status: u16,
        latency: Duration,
        in_flight: InFlight,
    ) -> Self {
        Self {
            inner,
            done: Some(Done {
                traffic,
                status,
                bytes_in: 0,
                latency,
                _in_flight: in_flight,
            }),
            bytes: 0,
        }
    }

    fn finish(&mut self) {
        if let Some(done) = self.done.take() {
            done.traffic
                .record(done.status, done.bytes_in, self.bytes, done.latency);
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
