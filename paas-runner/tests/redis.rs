//! Production backends on a real Redis: cache (with database queries counted), stream queue
//! (claims, renewals, dead letters), event bus across "processes".

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use paas_core::cache::redis::RedisCache;
use paas_core::events::redis::RedisBus;
use paas_core::events::{Event, EventBus, StatusEvent};
use paas_core::flow::Step;
use paas_core::model::*;
use paas_core::queue::redis::RedisQueue;
use paas_core::queue::{BuildQueue, Message, Topic};
use paas_core::store::sql::SqlStore;
use paas_core::store::{AppStore, UserStore};
use paas_core::{AppStatus, Platform};
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::TestDb;
use paas_tests::counting_store::CountingStore;
use paas_tests::redis::{PrivateRedis, unique_prefix, url};

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
    let store = Arc::new(CountingStore::new(sql));
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

/// A token (which never changes user) is kept by the process that read it: its requests are
/// authenticated with no round trip, as the key gone from Redis shows.
#[tokio::test]
async fn a_token_read_once_is_answered_by_the_process_itself() -> anyhow::Result<()> {
    use paas_core::cache::Cache;
    let prefix = unique_prefix();
    let redis_url = url();
    let cache = || {
        RedisCache::connect(
            &redis_url,
            &prefix,
            Duration::from_secs(60),
            paas_core::secrets::Keyring::ephemeral(),
        )
    };
    let (writer, reader) = (cache().await?, cache().await?);
    let user = User {
        id: UserId::new(),
        name: "token-owner".into(),
        created_at: Utc::now(),
    };
    let hash = "0123abcd".repeat(8);
    assert!(reader.user_by_token_hash(&hash).await.is_none());
    writer.put_user_by_token_hash(&hash, &user).await;
    assert_eq!(reader.user_by_token_hash(&hash).await, Some(user.clone()));

    let mut conn = redis::Client::open(url())?
        .get_multiplexed_async_connection()
        .await?;
    let removed: i64 = redis::cmd("DEL")
        .arg(format!("{prefix}:token:{hash}"))
        .query_async(&mut conn)
        .await?;
    assert_eq!(removed, 1, "the token was in Redis");
    assert!(
        cache().await?.user_by_token_hash(&hash).await.is_none(),
        "a process that never read it asks Redis"
    );
    assert_eq!(reader.user_by_token_hash(&hash).await, Some(user.clone()));
    assert_eq!(writer.user_by_token_hash(&hash).await, Some(user));
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

/// Pulls until a message comes, for at most `limit` (a claimed message comes only once its
/// claim time has passed).
async fn pull_within(
    q: &RedisQueue,
    limit: Duration,
) -> anyhow::Result<paas_core::queue::Delivery> {
    tokio::time::timeout(limit, async {
        loop {
            if let Some(d) = q.pull(Topic::Builds, Duration::from_millis(100)).await? {
                return anyhow::Ok(d);
            }
        }
    })
    .await?
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
    // Long enough that a loaded machine renews well within it.
    let claim = Duration::from_secs(2);
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
    // a "dies" (stops renewing): b gets the message once the claim time has passed (not
    // before), counted again.
    a.renew(&held).await?;
    let last_renewal = std::time::Instant::now();
    let claimed = pull_within(&b, claim + Duration::from_secs(10)).await?;
    assert!(
        last_renewal.elapsed() >= claim,
        "claimed {:?} after the last renewal, before the claim time",
        last_renewal.elapsed()
    );
    assert_eq!((claimed.attempt, &claimed.message), (2, &m));
    b.ack(&claimed).await?;
    // An acked message is never delivered again, even after the claim time.
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
        let taken = pull_within(&dying, Duration::from_secs(10)).await?;
        assert_eq!(taken.attempt, n + 1);
    }
    // The worker's step gets it once the last one's claim time has passed, and gives up on it.
    tokio::time::timeout(Duration::from_secs(10), async {
        while s.platform.build_step(Duration::from_millis(100)).await? != Step::Handled {}
        anyhow::Ok(())
    })
    .await??;

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
