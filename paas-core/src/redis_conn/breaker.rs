//! A circuit breaker in front of Redis: once a call finds Redis unreachable, every later call
//! is skipped at once (the caller falls back: the cache reads the database, the bus stays in this
//! process, the queue answers "unavailable") until a background probe finds Redis answering
//! again. So a dead Redis costs one timeout, not one per request.
//!
//! Guarantees: while open, no call waits on Redis; the probe tries again after a pause that
//! grows from [`PROBE_FIRST`] to [`PROBE_MAX`] (a long outage costs few pings); before
//! closing it runs the owner's `before_closing` hook (the cache forgets what it may have missed)
//! and after closing it bumps the heal counter (the queue queues again what it may have lost).
//! Only failures of the connection trip it: an answer from Redis that is an error (`NOGROUP`,
//! a wrong type) is the caller's to handle.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use redis::aio::ConnectionManager;
use tokio::sync::watch;

use super::CALL_TIMEOUT;

/// How long an open breaker waits before its first look whether Redis answers again; each
/// failed look doubles the pause, up to [`PROBE_MAX`].
pub const PROBE_FIRST: Duration = Duration::from_millis(250);
/// The longest pause between two looks.
pub const PROBE_MAX: Duration = Duration::from_secs(4);

/// Runs before an open breaker closes; `false` keeps it open (tried again at the next probe).
pub type BeforeClosing = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// Why a guarded call gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("redis is unreachable (skipped until it answers again)")]
    Open,
    #[error("redis did not answer within {0:?}")]
    TimedOut(Duration),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

/// Cheap to clone; clones share the state.
#[derive(Clone)]
pub struct Breaker {
    inner: Arc<Inner>,
}

struct Inner {
    /// Names the user of this connection in logs (`cache`, `queue`, `events`).
    name: &'static str,
    open: AtomicBool,
    /// Calls skipped while open, for tests and for the log.
    skipped: AtomicU64,
    /// Times it opened.
    trips: AtomicU64,
    /// Bumped each time it closes again.
    heals: watch::Sender<u64>,
    /// The probe pings on this connection (it reconnects by itself).
    conn: ConnectionManager,
    before_closing: Option<BeforeClosing>,
}

impl Breaker {
    pub fn new(name: &'static str, conn: ConnectionManager) -> Self {
        Self::build(name, conn, None, watch::channel(0).0)
    }

    /// A breaker that runs `hook` before closing and bumps `heals` after.
    pub fn with_hooks(
        name: &'static str,
        conn: ConnectionManager,
        hook: Option<BeforeClosing>,
        heals: watch::Sender<u64>,
    ) -> Self {
        Self::build(name, conn, hook, heals)
    }

    fn build(
        name: &'static str,
        conn: ConnectionManager,
        before_closing: Option<BeforeClosing>,
        heals: watch::Sender<u64>,
    ) -> Self {
        crate::metrics::breaker_open(name, false);
        Self {
            inner: Arc::new(Inner {
                name,
                open: AtomicBool::new(false),
                skipped: AtomicU64::new(0),
                trips: AtomicU64::new(0),
                heals,
                conn,
                before_closing,
            }),
        }
    }

    /// Whether calls are being skipped now.
    pub fn is_open(&self) -> bool {
        self.inner.open.load(Ordering::Acquire)
    }

    /// Calls skipped because the breaker was open.
    pub fn skipped(&self) -> u64 {
        self.inner.skipped.load(Ordering::Relaxed)
    }

    /// Times the breaker opened.
    pub fn trips(&self) -> u64 {
        self.inner.trips.load(Ordering::Relaxed)
    }

    /// Runs `call` unless the breaker is open, bounded by `timeout`; a failure of the
    /// connection (or the timeout) opens it.
    pub async fn call<T>(
        &self,
        timeout: Duration,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, CallError> {
        if self.is_open() {
            self.inner.skipped.fetch_add(1, Ordering::Relaxed);
            crate::metrics::redis_skipped(self.inner.name);
            return Err(CallError::Open);
        }
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                if unreachable(&e) {
                    self.trip();
                }
                Err(CallError::Redis(e))
            }
            Err(_) => {
                self.trip();
                Err(CallError::TimedOut(timeout))
            }
        }
    }

    /// Opens the breaker (a caller on a connection of its own saw Redis fail) and starts the
    /// probe; a no-op if it is open already.
    pub fn trip(&self) {
        if self.inner.open.swap(true, Ordering::AcqRel) {
            return;
        }
        self.inner.trips.fetch_add(1, Ordering::Relaxed);
        crate::metrics::breaker_open(self.inner.name, true);
        tracing::warn!(
            user = self.inner.name,
            "redis is unreachable; skipping it until it answers again"
        );
        tokio::spawn(probe(self.inner.clone()));
    }
}

/// Whether `e` says the connection failed (rather than Redis answering with an error).
pub fn unreachable(e: &redis::RedisError) -> bool {
    e.is_io_error()
        || e.is_timeout()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_unrecoverable_error()
}

async fn probe(inner: Arc<Inner>) {
    let mut pause = PROBE_FIRST;
    loop {
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(PROBE_MAX);
        let mut conn = inner.conn.clone();
        let cmd = redis::cmd("PING");
        let ping = cmd.query_async::<String>(&mut conn);
        if !matches!(tokio::time::timeout(CALL_TIMEOUT, ping).await, Ok(Ok(_))) {
            continue;
        }
        if let Some(hook) = &inner.before_closing
            && !hook().await
        {
            continue;
        }
        inner.open.store(false, Ordering::Release);
        crate::metrics::breaker_open(inner.name, false);
        inner.heals.send_modify(|n| *n += 1);
        tracing::info!(
            user = inner.name,
            skipped = inner.skipped.load(Ordering::Relaxed),
            "redis answers again"
        );
        return;
    }
}
