//! The real store (SQLite or PostgreSQL), counting the calls that reach it: to prove what a
//! cache saves, and what idle log followers cost. It counts at the level of roles
//! ([`Delegate`]): every call of a counted role asks for the role's store once.

use std::sync::atomic::{AtomicUsize, Ordering};

use paas_core::store::sql::SqlStore;
use paas_core::store::{
    AppStore, Delegate, DeploymentStore, LogStore, StatusEventStore, Store, UserStore,
};

/// The real store, counting the calls that reach it.
pub struct CountingStore {
    inner: SqlStore,
    /// Reads and writes of users, apps, deployments and status events (what the cache saves).
    calls: AtomicUsize,
    /// Calls to the log store: reads of lines and heads (what live log followers cost), and any
    /// write.
    log_calls: AtomicUsize,
}

impl CountingStore {
    pub fn new(inner: SqlStore) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            log_calls: AtomicUsize::new(0),
        }
    }
    /// The calls counted since the last `take`.
    pub fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
    /// The log store calls counted since the last `take_log_calls`.
    pub fn take_log_calls(&self) -> usize {
        self.log_calls.swap(0, Ordering::SeqCst)
    }
    fn hit(&self) -> &SqlStore {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

// Locks and task records are not what the cache saves; they pass through uncounted.
impl Delegate for CountingStore {
    fn inner(&self) -> &dyn Store {
        &self.inner
    }
    fn user_store(&self) -> &dyn UserStore {
        self.hit()
    }
    fn app_store(&self) -> &dyn AppStore {
        self.hit()
    }
    fn deployment_store(&self) -> &dyn DeploymentStore {
        self.hit()
    }
    fn event_store(&self) -> &dyn StatusEventStore {
        self.hit()
    }
    fn log_store(&self) -> &dyn LogStore {
        self.log_calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}
