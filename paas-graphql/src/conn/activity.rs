//! What a connection is doing, watched from its bytes and its requests: reading a request head,
//! answering requests, or idle. The connection's task asks [`Activity::expired`] when it must be
//! dropped.
//!
//! Guarantees: a connection with a request in flight is never closed by these timers (a long
//! query is not idle); one that started a request head closes `header_timeout` after the head's
//! first byte unless the head completed; one with nothing in flight closes `idle_timeout` after
//! its last byte or answer.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit};
use tokio::time::Instant;

/// "Not set" for a time slot.
const NONE: u64 = u64::MAX;

/// Shared between the connection's I/O, its requests and its watchdog. Times are milliseconds
/// since the connection opened (atomics, so bytes are counted without a lock).
pub(crate) struct Activity {
    opened: Instant,
    last_io: AtomicU64,
    head_started: AtomicU64,
    in_flight: AtomicUsize,
    /// Wakes the watchdog when the state changes (not on every byte).
    changed: Notify,
}

/// Why a connection was closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expiry {
    Header,
    Idle,
}

impl Activity {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            opened: Instant::now(),
            last_io: AtomicU64::new(0),
            head_started: AtomicU64::new(NONE),
            in_flight: AtomicUsize::new(0),
            changed: Notify::new(),
        })
    }

    fn now(&self) -> u64 {
        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(NONE - 1)
    }

    fn at(&self, ms: u64) -> Instant {
        self.opened + Duration::from_millis(ms)
    }

    fn read(&self) {
        let now = self.now();
        self.last_io.store(now, Ordering::Relaxed);
        if self.in_flight.load(Ordering::Acquire) == 0
            && self
                .head_started
                .compare_exchange(NONE, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.changed.notify_one();
        }
    }

    fn wrote(&self) {
        self.last_io.store(self.now(), Ordering::Relaxed);
    }

    /// A request's head arrived: held until its answer is ready.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.head_started.store(NONE, Ordering::Release);
        self.changed.notify_one();
        InFlight(self.clone())
    }

    /// Completes when the connection has overstayed a timeout.
    pub(crate) async fn expired(&self, header: Duration, idle: Duration) -> Expiry {
        loop {
            let changed = self.changed.notified();
            let deadline = if self.in_flight.load(Ordering::Acquire) > 0 {
                None
            } else {
                match self.head_started.load(Ordering::Acquire) {
                    NONE => Some((
                        self.at(self.last_io.load(Ordering::Relaxed)) + idle,
                        Expiry::Idle,
                    )),
                    started => Some((self.at(started) + header, Expiry::Header)),
                }
            };
            match deadline {
                None => changed.await,
                Some((at, why)) => {
                    tokio::select! {
                        _ = changed => {}
                        _ = tokio::time::sleep_until(at) => {
                            // Bytes may have moved while asleep: only a deadline still past counts.
                            let still = match why {
                                Expiry::Idle => {
                                    self.head_started.load(Ordering::Acquire) == NONE
                                        && self.in_flight.load(Ordering::Acquire) == 0
                                        && self.at(self.last_io.load(Ordering::Relaxed)) + idle
                                            <= Instant::now()
                                }
                                Expiry::Header => self.in_flight.load(Ordering::Acquire) == 0
                                    && self.head_started.load(Ordering::Acquire) != NONE,
                            };
                            if still {
                                return why;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A request being answered; dropping it (answer ready, or the request cancelled) ends it.
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.wrote();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.changed.notify_one();
    }
}

/// A connection's socket, counting its bytes into its [`Activity`] and holding its slot of the
/// connection cap for as long as the socket lives (through a websocket upgrade too).
pub(crate) struct Watched<I> {
    io: I,
    activity: Arc<Activity>,
    _slot: OwnedSemaphorePermit,
}

impl<I> Watched<I> {
    pub(crate) fn new(io: I, activity: Arc<Activity>, slot: OwnedSemaphorePermit) -> Self {
        Self {
            io,
            activity,
            _slot: slot,
        }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read();
        }
        poll
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        poll
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(poll, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote();
        }
        poll
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
