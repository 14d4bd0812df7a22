//! Access lines: one line per request (all, or a sample) written into the app's own log as the
//! `ROUTER` stream, so its owner reads them beside the app's output. Off by default.
//!
//! Expected flow: the proxy hands a line to [`AccessLogger::line`] (never waiting: a full queue
//! drops the line) → one task writes what has queued, a batch per app, through the platform's
//! log writer. Guarantees: a request never waits on the log store; lines of one app keep their
//! order.

use std::collections::BTreeMap;

use paas_core::Platform;
use paas_core::logs::{LogStream, NewLine};
use paas_core::model::AppId;
use tokio::sync::mpsc;

use super::config::AccessLog;

/// Lines waiting to be written; past it lines are dropped, not waited for.
const QUEUE: usize = 4096;
/// Lines taken from the queue per write.
const BATCH: usize = 256;

/// Where the proxy sends access lines. Cheap to clone.
#[derive(Clone)]
pub struct AccessLogger {
    which: AccessLog,
    tx: Option<mpsc::Sender<(AppId, String)>>,
}

impl AccessLogger {
    /// No lines.
    pub fn off() -> Self {
        Self {
            which: AccessLog::Off,
            tx: None,
        }
    }

    /// Lines as `which` says, written by a task on `platform` (spawned here; it ends when every
    /// logger is dropped).
    pub fn start(which: AccessLog, platform: Platform) -> Self {
        if which == AccessLog::Off {
            return Self::off();
        }
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(platform, rx));
        Self {
            which,
            tx: Some(tx),
        }
    }

    /// Whether this request gets a line (decided once per request).
    pub fn wants(&self) -> bool {
        self.tx.is_some() && self.which.wants(rand::random::<f64>())
    }

    /// Queues a line for `app`'s log; dropped when the queue is full.
    pub fn line(&self, app: AppId, text: String) {
        if let Some(tx) = &self.tx
            && tx.try_send((app, text)).is_err()
        {
            tracing::debug!(app_id = %app, "access line dropped: the log queue is full");
        }
    }
}

async fn write(platform: Platform, mut rx: mpsc::Receiver<(AppId, String)>) {
    let mut taken = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut taken, BATCH).await > 0 {
        let mut by_app: BTreeMap<AppId, Vec<NewLine>> = BTreeMap::new();
        for (app, text) in taken.drain(..) {
            by_app
                .entry(app)
                .or_default()
                .push(NewLine::new(LogStream::Router, None, text));
        }
        for (app, lines) in by_app {
            if let Err(e) = platform.write_logs(app, &lines).await {
                tracing::debug!(app_id = %app, error = %e, "access lines not written");
            }
        }
    }
}
