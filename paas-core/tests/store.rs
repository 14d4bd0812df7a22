//! The `Store` contract, run against SQLite and PostgreSQL alike.

use std::sync::Arc;

use chrono::Utc;
use paas_core::events::StatusEvent;
use paas_core::model::{
    AppId, AppName, Application, Branch, Deployment, DeploymentStatus, Desired, EnvVars, GitUrl,
    NewApplication, SourcePolicy, User, UserId,
};
use paas_core::store::sql::SqlStore;
use paas_core::store::{AppStore, DeploymentStore, StatusEventStore, UserStore};
use paas_core::{AppStatus, Error};
use paas_tests::{TestDatabase, TestDb};

/// The store, with what must outlive it (its temp dir, its database).
async fn store(db: TestDb) -> anyhow::Result<(SqlStore, (tempfile::TempDir, TestDatabase))> {
    let dir = tempfile::tempdir()?;
    let url = db.url(dir.path()).await?;
    let store = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    store.migrate().await?;
    // Migrating twice is harmless (every start-up does it).
    store.migrate().await?;
    Ok((store, (dir, url)))
}

fn user(name: &str) -> User {
    User {
        id: UserId::new(),
        name: name.into(),
        created_at: Utc::now(),
    }
}

fn app(owner: &User, name: &str) -> anyhow::Result<(Application, Deployment)> {
    let dep = Deployment::queued(AppId::new(), None, Utc::now());
    let new = {
        let mut new = NewApplication::new(
            AppName::parse(name)?,
            GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
        );
        new.env = EnvVars::parse([("SECRET", "s3cr3t")])?;
        new
    };
    Ok((
        Application::pending(owner.id, new, Branch::parse("main")?, &dep),
        dep,
    ))
}

fn event(app: &Application) -> StatusEvent {
    StatusEvent {
        app_id: app.id,
        owner: app.owner,
        version: 0,
        status: app.status,
        deployment: app.deployment,
        reason: app.status_reason.clone(),
        at: Utc::now(),
    }
}

use paas_tests::on_both_databases;

on_both_databases!(
    users_by_token_hash,
    create_app_round_trips_with_its_deployment_and_first_event,
    names_are_unique,
    updates_are_compare_and_set,
    concurrent_updates_never_lose_one,
    apps_page_by_owner,
    the_desired_state_is_kept_apart_from_the_status,
    a_graceful_stop_gives_back_every_lock_it_holds,
    a_lock_given_back_wakes_its_waiter,
);

async fn users_by_token_hash(db: TestDb) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let u = user("alice");
    s.create_user(&u, "hash-1").await?;
    assert_eq!(
        s.user_by_token_hash("hash-1").await?.map(|x| x.id),
        Some(u.id)
    );
    assert_eq!(s.user_by_token_hash("hash-2").await?, None);
    assert_eq!(s.user(u.id).await?.map(|x| x.name), Some("alice".into()));
    Ok(())
}

async fn create_app_round_trips_with_its_deployment_and_first_event(
    db: TestDb,
) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let u = user("alice");
    s.create_user(&u, "h").await?;
    let (a, dep) = app(&u, "web")?;
    s.create_app(&a, &dep).await?;

    let back = s
        .app(a.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(back.name, a.name);
    assert_eq!(back.env, a.env);
    assert_eq!(back.source, a.source);
    assert_eq!(back.status, AppStatus::Pending);
    assert_eq!(s.app_by_name(&a.name).await?.map(|x| x.id), Some(a.id));
    let deps = s.deployments_of(a.id).await?;
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0].status, DeploymentStatus::Queued);
    let events = s.status_events(a.id, 0).await?;
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].version, events[0].status),
        (1, AppStatus::Pending)
    );
    Ok(())
}

async fn names_are_unique(db: TestDb) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let u = user("alice");
    s.create_user(&u, "h").await?;
    let (a, d1) = app(&u, "same")?;
    let (b, d2) = app(&u, "same")?;
    s.create_app(&a, &d1).await?;
    let err = s.create_app(&b, &d2).await;
    assert!(matches!(err, Err(Error::NameTaken(_))), "{err:?}");
    // The refused create left nothing behind: not even its deployment.
    assert!(s.app(b.id).await?.is_none());
    assert!(s.deployment(d2.id).await?.is_none());
    Ok(())
}

async fn updates_are_compare_and_set(db: TestDb) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let u = user("alice");
    s.create_user(&u, "h").await?;
    let (mut a, dep) = app(&u, "web")?;
    s.create_app(&a, &dep).await?;

    a.status = AppStatus::Building;
    let saved = s.update_app(&a, 1, Some(&event(&a))).await?;
    assert_eq!(saved.version, 2);
    // A writer still holding version 1 is refused and changes nothing.
    let mut stale = a.clone();
    stale.status = AppStatus::Failed;
    let err = s.update_app(&stale, 1, Some(&event(&stale))).await;
    assert!(
        matches!(
            err,
            Err(Error::VersionConflict {
                expected: 1,
                found: 2
            })
        ),
        "{err:?}"
    );
    let now = s
        .app(a.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!((now.version, now.status), (2, AppStatus::Building));
    let events: Vec<_> = s
        .status_events(a.id, 0)
        .await?
        .into_iter()
        .map(|e| (e.version, e.status))
        .collect();
    assert_eq!(events, [(1, AppStatus::Pending), (2, AppStatus::Building)]);
    assert_eq!(s.status_events(a.id, 1).await?.len(), 1);
    Ok(())
}

async fn concurrent_updates_never_lose_one(db: TestDb) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let s = Arc::new(s);
    let u = user("alice");
    s.create_user(&u, "h").await?;
    let (a, dep) = app(&u, "web")?;
    s.create_app(&a, &dep).await?;

    // Eight writers each add one env var with read-modify-CAS-retry; all eight must survive.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = s.clone();
        let id = a.id;
        tasks.push(tokio::spawn(async move {
            loop {
                let cur = s.app(id).await?.ok_or_else(|| anyhow::anyhow!("missing"))?;
                let mut next = cur.clone();
                let mut pairs: Vec<(String, String)> = cur
                    .env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect();
                pairs.push((format!("VAR_{i}"), i.to_string()));
                next.env = EnvVars::parse(pairs)?;
                match s.update_app(&next, cur.version, None).await {
                    Ok(_) => return anyhow::Ok(()),
                    Err(Error::VersionConflict { .. }) => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let end = s
        .app(a.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(end.env.len(), 9, "{:?}", end.env);
    assert_eq!(end.version, 9);
    Ok(())
}

async fn apps_page_by_owner(db: TestDb) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let (alice, bob) = (user("alice"), user("bob"));
    s.create_user(&alice, "a").await?;
    s.create_user(&bob, "b").await?;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (a, d) = app(&alice, &format!("a{i}"))?;
        s.create_app(&a, &d).await?;
        ids.push(a.id);
    }
    let (b, d) = app(&bob, "b0")?;
    s.create_app(&b, &d).await?;

    let first: Vec<_> = s
        .apps_of(alice.id, None, 2)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(first, ids[..2]);
    let rest: Vec<_> = s
        .apps_of(alice.id, Some(ids[1]), 10)
        .await?
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(rest, ids[2..]);
    assert_eq!(s.apps_of(bob.id, None, 10).await?.len(), 1);
    Ok(())
}

async fn the_desired_state_is_kept_apart_from_the_status(db: TestDb) -> anyhow::Result<()> {
    let (s, _d) = store(db).await?;
    let u = user("alice");
    s.create_user(&u, "h").await?;
    let (mut a, dep) = app(&u, "web")?;
    s.create_app(&a, &dep).await?;
    let back = s
        .app(a.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(back.desired, Desired::Running, "a new app wants to run");

    a.desired = Desired::Stopped;
    s.update_app(&a, 1, None).await?;
    let back = s
        .app(a.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("missing"))?;
    assert_eq!(
        (back.desired, back.status),
        (Desired::Stopped, AppStatus::Pending)
    );
    Ok(())
}

/// A lock given back in this process is taken by its waiter at once, not at the waiter's next
/// look (here an hour away): a deploy waiting for its build's lock starts when the build ends.
async fn a_lock_given_back_wakes_its_waiter(db: TestDb) -> anyhow::Result<()> {
    use paas_core::lock::{LockKey, Locks};
    let (s, _d) = store(db).await?;
    let s: Arc<SqlStore> = Arc::new(s);
    let hour = std::time::Duration::from_secs(3600);
    let locks = Locks::new(s, std::time::Duration::from_secs(30)).polling(hour);
    let key = LockKey::App(AppId::new());
    let build = locks.acquire(&key, "a build", hour).await?;
    let waiter = {
        let (locks, key) = (locks.clone(), key.clone());
        tokio::spawn(async move { locks.acquire(&key, "a deploy", 2 * hour).await })
    };
    // Time for the waiter's first look, which finds the lock held (were it later, it would find
    // the lock free and the test would pass without showing anything; it would not fail).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    locks.release(&build).await?;
    let deploy = tokio::time::timeout(std::time::Duration::from_secs(30), waiter)
        .await
        .map_err(|_| anyhow::anyhow!("the waiter was not woken by the release"))???;
    assert_eq!(deploy.purpose, "a deploy");
    let record = locks.record(&key).await?;
    assert_eq!(record.and_then(|r| r.purpose).as_deref(), Some("a deploy"));
    Ok(())
}

async fn a_graceful_stop_gives_back_every_lock_it_holds(db: TestDb) -> anyhow::Result<()> {
    use paas_core::lock::{LockKey, Locks};
    let (s, _d) = store(db).await?;
    let s: Arc<SqlStore> = Arc::new(s);
    let lease = std::time::Duration::from_secs(30);
    let ours = Locks::new(s.clone(), lease);
    let (one, two) = (LockKey::App(AppId::new()), LockKey::App(AppId::new()));
    // Work cut short by a shutdown: its leases are dropped, never given back.
    let renewed = ours.acquire(&one, "a start", lease).await?;
    ours.renew(&renewed).await?;
    drop(renewed);
    drop(ours.acquire(&two, "a build", lease).await?);
    let done = ours.acquire(&LockKey::Task("x"), "done", lease).await?;
    ours.release(&done).await?;

    assert_eq!(ours.release_all().await, 2);
    let theirs = Locks::new(s, lease);
    for key in [&one, &two] {
        let taken = theirs.try_acquire(key, "the next server").await?;
        assert!(taken.is_ok(), "{key} still held: {taken:?}");
    }
    Ok(())
}

/// PostgreSQL's plan for a page of `app`'s log from `from`: the store's query, explained.
async fn page_plan(s: &SqlStore, app: AppId, from: i64) -> anyhow::Result<String> {
    use sea_orm::ConnectionTrait;
    let sql = format!(
        "EXPLAIN SELECT * FROM log_lines WHERE app_id = '{}' AND at >= {from} \
         ORDER BY at LIMIT 1000",
        app.as_uuid()
    );
    let rows = s
        .connection()
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            sql,
        ))
        .await?;
    let mut plan = String::new();
    for row in rows {
        plan.push_str(&row.try_get::<String>("", "QUERY PLAN")?);
        plan.push('\n');
    }
    Ok(plan)
}

/// A log that grows past 10 000 lines gets `log_lines` analyzed by the store, so PostgreSQL reads
/// a page in the key's order (the rows it returns) instead of reading every line of the app past
/// the cursor and sorting them, as it does for an app it has no statistics for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_growing_log_is_paged_in_key_order_on_postgres() -> anyhow::Result<()> {
    use paas_core::logs::{LogQuery, LogStore, LogStream, NewLine};
    let (s, _d) = store(TestDb::Postgres).await?;
    let app = AppId::new();
    let batch = |n: usize| -> Vec<NewLine> {
        (0..n)
            .map(|i| NewLine::new(LogStream::Stdout, None, format!("line {i}")))
            .collect()
    };
    for _ in 0..9 {
        s.append_logs(app, &batch(1000), None).await?;
    }
    let from = s
        .read_logs(&LogQuery::app(app).with_limit(Some(1))?)
        .await?
        .first()
        .map(|l| l.at.nanos())
        .ok_or_else(|| anyhow::anyhow!("no line"))?;
    // 9 000 lines and no statistics: the planner expects a handful and sorts them all.
    let before = page_plan(&s, app, from).await?;
    assert!(before.contains("Sort"), "{before}");
    // Past 10 000: the store has the table analyzed in the background.
    s.append_logs(app, &batch(1000), None).await?;
    s.append_logs(app, &batch(1500), None).await?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let plan = page_plan(&s, app, from).await?;
        if !plan.contains("Sort") && plan.contains("Index Scan using log_lines_pkey") {
            break;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "after 11 500 lines a page still sorts:\n{plan}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok(())
}
