//! The real store (SQLite or PostgreSQL), counting the calls that reach it: to prove what a
//! cache saves, and what idle log followers cost.

use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use paas_core::Result;
use paas_core::events::StatusEvent;
use paas_core::lock::{LockRecord, LockStore};
use paas_core::logs::{LogHead, LogLine, LogQuery, LogStore, LogTime, NewLine, SourcePosition};
use paas_core::model::*;
use paas_core::status::AppStatus;
use paas_core::store::Store;
use paas_core::store::sql::SqlStore;
use paas_core::task::{Task, TaskState, TaskStore};

/// The real store, counting the calls that reach it.
pub struct CountingStore {
    inner: SqlStore,
    /// Reads and writes of users, apps, deployments and status events (what the cache saves).
    calls: AtomicUsize,
    /// Reads of log lines and log heads (what live log followers cost).
    log_reads: AtomicUsize,
}

impl CountingStore {
    pub fn new(inner: SqlStore) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
            log_reads: AtomicUsize::new(0),
        }
    }
    /// The calls counted since the last `take`.
    pub fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
    /// The log reads counted since the last `take_log_reads`.
    pub fn take_log_reads(&self) -> usize {
        self.log_reads.swap(0, Ordering::SeqCst)
    }
    fn hit(&self) -> &SqlStore {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
    fn log_read(&self) -> &SqlStore {
        self.log_reads.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

// Locks and task records are not what the cache saves; they pass through uncounted.
#[async_trait]
impl LockStore for CountingStore {
    async fn lock_record(&self, key: &str) -> Result<Option<LockRecord>> {
        self.inner.lock_record(key).await
    }
    async fn insert_lock(&self, r: &LockRecord) -> Result<bool> {
        self.inner.insert_lock(r).await
    }
    async fn swap_lock(&self, v: i64, r: &LockRecord) -> Result<bool> {
        self.inner.swap_lock(v, r).await
    }
}

#[async_trait]
impl TaskStore for CountingStore {
    async fn put_task(&self, t: &Task) -> Result<()> {
        self.inner.put_task(t).await
    }
    async fn task(&self, id: TaskId) -> Result<Option<Task>> {
        self.inner.task(id).await
    }
    async fn tasks_of(&self, app: AppId, limit: u64) -> Result<Vec<Task>> {
        self.inner.tasks_of(app, limit).await
    }
    async fn tasks_in_state(&self, s: TaskState, limit: u64) -> Result<Vec<Task>> {
        self.inner.tasks_in_state(s, limit).await
    }
    async fn task_of_deployment(&self, d: DeploymentId) -> Result<Option<Task>> {
        self.inner.task_of_deployment(d).await
    }
}

#[async_trait]
impl LogStore for CountingStore {
    async fn append_logs(
        &self,
        app: AppId,
        lines: &[NewLine],
        position: Option<&SourcePosition>,
    ) -> Result<Vec<LogLine>> {
        self.inner.append_logs(app, lines, position).await
    }
    async fn log_position(&self, source: &str) -> Result<Option<String>> {
        self.inner.log_position(source).await
    }
    async fn read_logs(&self, q: &LogQuery) -> Result<Vec<LogLine>> {
        self.log_read().read_logs(q).await
    }
    async fn log_head(&self, app: AppId) -> Result<LogHead> {
        self.log_read().log_head(app).await
    }
    async fn apps_with_logs(&self) -> Result<Vec<AppId>> {
        self.inner.apps_with_logs().await
    }
    async fn prune_logs(&self, app: AppId, before: LogTime, max_bytes: u64) -> Result<u64> {
        self.inner.prune_logs(app, before, max_bytes).await
    }
    async fn delete_logs(&self, app: AppId) -> Result<()> {
        self.inner.delete_logs(app).await
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn create_user(&self, u: &User, h: &str) -> Result<()> {
        self.hit().create_user(u, h).await
    }
    async fn user(&self, id: UserId) -> Result<Option<User>> {
        self.hit().user(id).await
    }
    async fn user_by_token_hash(&self, h: &str) -> Result<Option<User>> {
        self.hit().user_by_token_hash(h).await
    }
    async fn set_git_token(&self, u: UserId, t: Option<&Secret>) -> Result<()> {
        self.hit().set_git_token(u, t).await
    }
    async fn git_token(&self, u: UserId) -> Result<Option<Secret>> {
        self.hit().git_token(u).await
    }
    async fn create_app(&self, a: &Application, d: &Deployment) -> Result<()> {
        self.hit().create_app(a, d).await
    }
    async fn app(&self, id: AppId) -> Result<Option<Application>> {
        self.hit().app(id).await
    }
    async fn app_by_name(&self, n: &AppName) -> Result<Option<Application>> {
        self.hit().app_by_name(n).await
    }
    async fn apps_of(&self, o: UserId, a: Option<AppId>, l: u64) -> Result<Vec<Application>> {
        self.hit().apps_of(o, a, l).await
    }
    async fn apps_in_status(&self, s: &[AppStatus]) -> Result<Vec<Application>> {
        self.hit().apps_in_status(s).await
    }
    async fn update_app(
        &self,
        a: &Application,
        v: i64,
        e: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.hit().update_app(a, v, e).await
    }
    async fn delete_app(&self, id: AppId) -> Result<()> {
        self.hit().delete_app(id).await
    }
    async fn add_deployment(
        &self,
        a: &Application,
        v: i64,
        d: &Deployment,
        e: Option<&StatusEvent>,
    ) -> Result<Application> {
        self.hit().add_deployment(a, v, d, e).await
    }
    async fn deployment(&self, id: DeploymentId) -> Result<Option<Deployment>> {
        self.hit().deployment(id).await
    }
    async fn deployments_of(&self, a: AppId) -> Result<Vec<Deployment>> {
        self.hit().deployments_of(a).await
    }
    async fn update_deployment(&self, d: &Deployment) -> Result<()> {
        self.hit().update_deployment(d).await
    }
    async fn status_events(&self, a: AppId, v: i64) -> Result<Vec<StatusEvent>> {
        self.hit().status_events(a, v).await
    }
}
