//! Production backends on a real Redis: cache (with database queries counted), stream queue
//! (claims, renewals, dead letters), event bus across "processes".

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use futures::StreamExt;
use paas_core::cache::redis::RedisCache;
use paas_core::events::redis::RedisBus;
use paas_core::events::{Event, EventBus, StatusEvent};
use paas_core::lock::{LockRecord, LockStore};
use paas_core::logs::{LogHead, LogLine, LogQuery, LogStore, LogTime, NewLine, SourcePosition};
use paas_core::model::TaskId;
use paas_core::model::*;
use paas_core::queue::redis::RedisQueue;
use paas_core::queue::{BuildQueue, Message, Topic};
use paas_core::store::Store;
use paas_core::store::sql::SqlStore;
use paas_core::task::{Task, TaskState, TaskStore};
use paas_core::{AppStatus, Platform, Result};
use paas_runner::BuildWorker;
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::TestDb;
use paas_tests::redis::{PrivateRedis, unique_prefix, url};

/// The real store, counting the calls that reach it.
struct CountingStore {
    inner: SqlStore,
    calls: AtomicUsize,
}

impl CountingStore {
    fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
    fn hit(&self) -> &SqlStore {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

// Locks, task records and logs are not what the cache saves; they pass through uncounted.
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
        self.inner.read_logs(q).await
    }
    async fn log_head(&self, app: AppId) -> Result<LogHead> {
        self.inner.log_head(app).await
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

struct Setup {
    platform: Platform,
    store: Arc<CountingStore>,
    user: User,
    _dir: tempfile::TempDir,
}

async fn setup(redis_url: &str, queue: Option<Arc<dyn BuildQueue>>) -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir()?;
    let sql = SqlStore::connect(
        &TestDb::Sqlite.url(dir.path()).await?,
        paas_core::secrets::Keyring::ephemeral(),
    )
    .await?;
    sql.migrate().await?;
    let keys = sql.keys().clone();
    let store = Arc::new(CountingStore {
        inner: sql,
        calls: AtomicUsize::new(0),
    });
    let mut builder = Platform::builder()
        .data_dir(dir.path())
        .store(store.clone())
        .cache(Arc::new(
            RedisCache::connect(redis_url, &unique_prefix(), Duration::from_secs(60), keys).await?,
        ))
        .runtime(Arc::new(LocalRuntime::new(dir.path().join("logs"))))
        .images(Arc::new(LocalBuilder::default()));
    if let Some(q) = queue {
        builder = builder.queue(q);
    }
    let platform = builder.build().await?;
    let user = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    store.create_user(&user, "hash").await?;
    Ok(Setup {
        platform,
        store,
        user,
        _dir: dir,
    })
}

/// An app written straight to the store (not through the cache).
async fn app_in_store(s: &Setup, name: &str) -> anyhow::Result<Application> {
    let dep = Deployment::queued(AppId::new(), None, Utc::now());
    let new = NewApplication::new(
        AppName::parse(name)?,
        GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
    );
    let app = Application::pending(s.user.id, new, Branch::parse("main")?, &dep);
    s.store.create_app(&app, &dep).await?;
    s.store.take();
    Ok(app)
}

#[tokio::test]
async fn cached_lookups_do_not_touch_the_database() -> anyhow::Result<()> {
    let s = setup(&url(), None).await?;
    let app = app_in_store(&s, "cached").await?;

    assert_eq!(s.platform.app(app.id).await?.map(|a| a.id), Some(app.id));
    assert_eq!(s.store.take(), 1, "a miss reads the store once");
    assert_eq!(s.platform.app(app.id).await?.map(|a| a.id), Some(app.id));
    assert_eq!(s.store.take(), 0, "a hit reads nothing");

    assert!(!s.platform.name_available(&app.name).await?);
    assert_eq!(s.store.take(), 0, "a cached name is known taken");

    assert_eq!(s.platform.apps_of(&s.user, None, 10).await?.len(), 1);
    assert_eq!(s.store.take(), 1);
    assert_eq!(s.platform.apps_of(&s.user, None, 10).await?.len(), 1);
    assert_eq!(s.store.take(), 0, "a cached page reads nothing");

    // A status change writes once and updates the cached app; it does not read it back.
    s.platform
        .set_status(app.id, AppStatus::Building, None)
        .await?;
    assert_eq!(s.store.take(), 1, "one compare-and-set write, no re-read");
    let cached = s.platform.app(app.id).await?;
    assert_eq!(cached.map(|a| a.status), Some(AppStatus::Building));
    assert_eq!(s.store.take(), 0);
    let page = s.platform.apps_of(&s.user, None, 10).await?;
    assert_eq!(
        page[0].status,
        AppStatus::Building,
        "pages show the new status"
    );
    assert_eq!(s.store.take(), 0);
    Ok(())
}

#[tokio::test]
async fn with_redis_gone_answers_stay_right_and_the_cache_heals() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start().await?;
    let s = setup(&redis.url(), None).await?;
    let app = app_in_store(&s, "survivor").await?;
    s.platform.app(app.id).await?;
    s.platform.app(app.id).await?;
    assert_eq!(s.store.take(), 1);

    redis.kill().await?;
    // Reads and writes go on, from and to the database.
    assert_eq!(
        s.platform.app(app.id).await?.map(|a| a.status),
        Some(AppStatus::Pending)
    );
    s.platform
        .set_status(app.id, AppStatus::Building, None)
        .await?;
    assert_eq!(
        s.platform.app(app.id).await?.map(|a| a.status),
        Some(AppStatus::Building)
    );
    assert!(
        s.store.take() >= 2,
        "without Redis every read is a database read"
    );

    redis.restart().await?;
    // The connection heals by itself: the first read refills, the next is a hit.
    let healed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            s.platform.app(app.id).await?;
            s.store.take();
            let status = s.platform.app(app.id).await?.map(|a| a.status);
            if s.store.take() == 0 {
                return anyhow::Ok(status);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await??;
    assert_eq!(healed, Some(AppStatus::Building));
    Ok(())
}

async fn queue(prefix: &str, consumer: &str, claim_after: Duration) -> anyhow::Result<RedisQueue> {
    Ok(RedisQueue::connect(&url(), prefix, consumer, claim_after).await?)
}

fn request() -> Message {
    Message::BuildRequest {
        app: AppId::new(),
        deployment: DeploymentId::new(),
    }
}

#[tokio::test]
async fn a_dead_consumers_message_is_claimed_by_another() -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let claim = Duration::from_millis(300);
    let (a, b) = (
        queue(&prefix, "a", claim).await?,
        queue(&prefix, "b", claim).await?,
    );
    let m = request();
    a.push(Topic::Builds, m.clone()).await?;
    let held = a
        .pull(Topic::Builds, Duration::from_millis(100))
        .await?
        .expect("delivered to a");
    assert_eq!((held.attempt, &held.message), (1, &m));

    // While a renews, b gets nothing.
    for _ in 0..4 {
        a.renew(&held).await?;
        assert!(
            b.pull(Topic::Builds, Duration::from_millis(100))
                .await?
                .is_none()
        );
    }
    // a "dies" (stops renewing): after the claim time b gets the message, counted again.
    tokio::time::sleep(claim + Duration::from_millis(100)).await;
    let claimed = b
        .pull(Topic::Builds, Duration::from_millis(100))
        .await?
        .expect("claimed by b");
    assert_eq!((claimed.attempt, &claimed.message), (2, &m));
    b.ack(&claimed).await?;
    tokio::time::sleep(claim + Duration::from_millis(100)).await;
    assert!(
        a.pull(Topic::Builds, Duration::from_millis(100))
            .await?
            .is_none(),
        "acked is gone"
    );
    Ok(())
}

#[tokio::test]
async fn a_message_that_keeps_dying_is_dead_lettered_and_fails_the_app() -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let claim = Duration::from_millis(150);
    let worker_queue: Arc<dyn BuildQueue> = Arc::new(queue(&prefix, "worker", claim).await?);
    let s = setup(&url(), Some(worker_queue)).await?;
    let repo = paas_tests::git_repo(&[("app.py", "print(1)\n")])?;
    let new = NewApplication::new(
        AppName::parse("poison")?,
        GitUrl::parse(
            &paas_tests::repo::file_url(repo.path()),
            SourcePolicy::default(),
        )?,
    );
    let app = s.platform.create_application(&s.user, new).await?;
    // Five consumers take the build and die before acking it.
    for n in 0..5 {
        let dying = queue(&prefix, &format!("dies-{n}"), claim).await?;
        if n > 0 {
            tokio::time::sleep(claim + Duration::from_millis(50)).await;
        }
        assert!(
            dying
                .pull(Topic::Builds, Duration::from_millis(200))
                .await?
                .is_some()
        );
    }
    tokio::time::sleep(claim + Duration::from_millis(50)).await;
    let worker = BuildWorker::new(s.platform.clone(), s._dir.path().join("builds"));
    worker.step(Duration::from_millis(200)).await?;

    let failed = s.platform.store().app(app.id).await?.expect("app");
    assert_eq!(failed.status, AppStatus::Failed);
    let reason = failed.status_reason.unwrap_or_default();
    assert!(reason.contains("gave up after 6 deliveries"), "{reason}");
    let client = redis::Client::open(url())?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let dead: usize = redis::cmd("XLEN")
        .arg(format!("{prefix}:queue:dead"))
        .query_async(&mut conn)
        .await?;
    assert_eq!(dead, 1);
    Ok(())
}

#[tokio::test]
async fn events_cross_processes_in_order() -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let publisher = RedisBus::connect(&url(), &prefix).await?;
    let other_process = RedisBus::connect(&url(), &prefix).await?;
    let mut events = other_process.subscribe().await?;
    let (app, owner) = (AppId::new(), UserId::new());
    for version in 1..=50 {
        publisher
            .publish(Event::Status(StatusEvent {
                app_id: app,
                owner,
                version,
                status: AppStatus::Building,
                deployment: None,
                reason: None,
                at: Utc::now(),
            }))
            .await?;
    }
    let got: Vec<i64> = tokio::time::timeout(Duration::from_secs(10), async {
        let mut v = Vec::new();
        while v.len() < 50 {
            match events.next().await {
                Some(Event::Status(s)) if s.app_id == app => v.push(s.version),
                Some(_) => {}
                None => break,
            }
        }
        v
    })
    .await?;
    assert_eq!(got, (1..=50).collect::<Vec<_>>());
    Ok(())
}
