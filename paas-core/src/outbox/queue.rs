//! The bounded queue in front of each sink and the worker loop behind it.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

use crate::notify::Notification;

/// The sending half, held by the sink: never waits.
#[derive(Clone)]
pub(super) struct Sender {
    tx: mpsc::Sender<Notification>,
    /// Which sink, for the warning when full.
    name: &'static str,
}

pub(super) fn channel(name: &'static str, capacity: usize) -> (Sender, Receiver) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (Sender { tx, name }, Receiver { rx })
}

impl Sender {
    /// Queues a copy; a full queue (a long outage of the receiving side) drops it.
    pub(super) fn push(&self, n: &Notification) {
        match self.tx.try_send(n.clone()) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => tracing::warn!(
                sink = self.name,
                user = %n.user,
                kind = ?n.kind,
                "notification queue full: this notification is not sent"
            ),
            Err(mpsc::error::TrySendError::Closed(_)) => tracing::warn!(
                sink = self.name,
                "notification worker not running: this notification is not sent"
            ),
        }
    }
}

pub(super) struct Receiver {
    rx: mpsc::Receiver<Notification>,
}

impl Receiver {
    /// Runs `handle` for each notification, at most `concurrency` at once, until every sender
    /// is gone.
    pub(super) async fn run<F, Fut>(mut self, concurrency: usize, handle: F)
    where
        F: Fn(Notification) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let permits = Arc::new(Semaphore::new(concurrency.max(1)));
        while let Some(n) = self.rx.recv().await {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            let work = handle(n);
            tokio::spawn(async move {
                work.await;
                drop(permit);
            });
        }
    }
}
