//! The default route table ([`Routes`]) on the SQLite store and the in-memory bus: hosts resolve
//! by app name and by custom domain, a down app says its status, a switch drains the old
//! backend and reports it on the bus, [`Drain::wait`] returns once nothing is in flight (and not
//! before), `Event::Missed` makes the table read every route again, and a read older than the
//! route held changes nothing.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use paas_core::events::{DrainReport, Event};
use paas_core::model::{
    AppId, AppName, Application, Branch, Deployment, DeploymentStatus, Domain, Endpoint, GitUrl,
    NewApplication, Replica, SourcePolicy, User, UserId,
};
use paas_core::router::drain::Drain;
use paas_core::router::{Resolution, RouteTable, Routes};
use paas_core::{AppStatus, Platform, PlatformConfig, RouterConfig};
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::{TestDatabase, TestDb, eventually};
use tokio::sync::oneshot;

struct Setup {
    platform: Platform,
    routes: Routes,
    owner: UserId,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

/// A platform on SQLite and the in-memory bus, whose routers never resync on their own.
async fn setup() -> anyhow::Result<Setup> {
    let dir = tempfile::tempdir()?;
    let db = TestDb::Sqlite.url(dir.path()).await?;
    let config = PlatformConfig {
        data_dir: dir.path().join("data"),
        router: RouterConfig {
            resync_every: Duration::from_secs(3600),
            ..RouterConfig::default()
        },
        ..PlatformConfig::default()
    };
    let platform = Platform::builder()
        .config(config)
        .database_url(db.to_string())
        .runtime(Arc::new(LocalRuntime::new(dir.path().join("logs"))))
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    let owner = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    platform.store().create_user(&owner, "hash").await?;
    Ok(Setup {
        routes: Routes::new(platform.clone()),
        platform,
        owner: owner.id,
        _db: db,
        _dir: dir,
    })
}

/// Stores an app `name`, pending with its first deployment.
async fn pending(s: &Setup, name: &str) -> anyhow::Result<(Application, Deployment)> {
    let dep = Deployment::queued(AppId::new(), None, Utc::now());
    let new = NewApplication::new(
        AppName::parse(name)?,
        GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
    );
    let app = Application::pending(s.owner, new, Branch::parse("main")?, &dep);
    s.platform.store().create_app(&app, &dep).await?;
    Ok((app, dep))
}

/// Records `dep` running one replica `instance` at `127.0.0.1:port`, the app switched to it
/// (as an instance going live does). No event is published.
async fn live(
    s: &Setup,
    app: AppId,
    mut dep: Deployment,
    instance: &str,
    port: u16,
) -> anyhow::Result<()> {
    dep.status = DeploymentStatus::Running;
    dep.instances = vec![Replica::running(
        instance.into(),
        Endpoint {
            host: "127.0.0.1".into(),
            port,
        },
        Utc::now(),
    )];
    let store = s.platform.store();
    store.update_deployment(&dep).await?;
    let current = store
        .app(app)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    let mut next = current.clone();
    next.status = AppStatus::Running;
    next.deployment = Some(dep.id);
    store.update_app(&next, current.version, None).await?;
    Ok(())
}

/// Records a new deployment of `app` running one replica `instance` at `127.0.0.1:port`, the
/// app switched to it (a redeploy going live). No event is published.
async fn switched(s: &Setup, app: AppId, instance: &str, port: u16) -> anyhow::Result<()> {
    let next = Deployment::queued(app, None, Utc::now());
    let current = s.platform.store().app(app).await?;
    let current = current.ok_or_else(|| anyhow::anyhow!("gone"))?;
    s.platform
        .store()
        .add_deployment(&current, current.version, &next, None)
        .await?;
    live(s, app, next, instance, port).await
}

/// The backend's `(instance, port)` a request for `host` goes to, if the app is live.
async fn backend(routes: &Routes, host: &str) -> anyhow::Result<Option<(String, u16)>> {
    Ok(match routes.resolve(&Domain::parse(host)?).await {
        Resolution::Live(route) => route
            .pick()
            .map(|p| (p.backend().instance.clone(), p.backend().port)),
        _ => None,
    })
}

/// Runs the table in the background until the sender is dropped.
fn run(routes: &Routes) -> oneshot::Sender<()> {
    let (stop, stopped) = oneshot::channel::<()>();
    let routes = routes.clone();
    tokio::spawn(async move {
        routes
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_resolve_by_name_and_custom_domain() -> anyhow::Result<()> {
    let s = setup().await?;
    let (app, dep) = pending(&s, "shop").await?;
    live(&s, app.id, dep, "shop-1", 4001).await?;
    s.routes.resync().await;
    assert_eq!(
        backend(&s.routes, "shop.localhost").await?,
        Some(("shop-1".into(), 4001))
    );
    // A custom domain, once the route is read again.
    let custom = Domain::parse("shop.example.com")?;
    s.platform.store().add_domain(app.id, &custom).await?;
    s.routes.reload(app.id).await;
    assert_eq!(
        backend(&s.routes, "shop.example.com").await?,
        Some(("shop-1".into(), 4001))
    );
    assert!(matches!(
        s.routes.resolve(&Domain::parse("nobody.localhost")?).await,
        Resolution::Unknown
    ));
    // An app the table has not heard of is read from the store on the first request.
    let (other, dep) = pending(&s, "later").await?;
    live(&s, other.id, dep, "later-1", 4002).await?;
    assert_eq!(
        backend(&s.routes, "later.localhost").await?,
        Some(("later-1".into(), 4002))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_app_answers_with_its_status() -> anyhow::Result<()> {
    let s = setup().await?;
    let (app, _) = pending(&s, "coming").await?;
    let current = s.platform.store().app(app.id).await?;
    let mut next = current.clone().ok_or_else(|| anyhow::anyhow!("gone"))?;
    next.status = AppStatus::Building;
    s.platform
        .store()
        .update_app(&next, next.version, None)
        .await?;
    match s.routes.resolve(&Domain::parse("coming.localhost")?).await {
        Resolution::Down { status, name, .. } => {
            assert_eq!(status, AppStatus::Building);
            assert_eq!(name.as_str(), "coming");
        }
        other => anyhow::bail!("not down: {other:?}"),
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_switch_drains_the_old_backend_and_reports_it() -> anyhow::Result<()> {
    let s = setup().await?;
    let _stop = run(&s.routes);
    let (app, dep) = pending(&s, "switch").await?;
    live(&s, app.id, dep, "old", 4101).await?;
    s.platform
        .bus()
        .publish(Event::RouteChanged(app.id))
        .await?;
    let old = eventually(Duration::from_secs(10), || async {
        Ok(
            match s.routes.resolve(&Domain::parse("switch.localhost")?).await {
                Resolution::Live(route) => route.pick(),
                _ => None,
            },
        )
    })
    .await?;
    // Its place is the request in flight.
    let request = old;
    let old = request.backend().clone();

    let mut reports = s.platform.bus().subscribe().await?;
    let drain = Drain::watch(&s.platform).await;
    switched(&s, app.id, "new", 4102).await?;
    s.platform
        .bus()
        .publish(Event::RouteChanged(app.id))
        .await?;

    // The old backend takes nothing new and is reported with its request in flight.
    let busy = next_report(&mut reports).await?;
    assert_eq!((busy.instance.as_str(), busy.in_flight), ("old", 1));
    assert_eq!(busy.router, s.routes.id());
    assert!(old.is_draining());
    assert_eq!(
        backend(&s.routes, "switch.localhost").await?,
        Some(("new".into(), 4102))
    );

    let mut waiting = tokio::spawn(async move {
        drain
            .wait("old", Duration::ZERO, Duration::from_secs(3600))
            .await
    });
    // Not while the request is in flight.
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut waiting)
            .await
            .is_err(),
        "the drain ended with a request in flight"
    );
    drop(request);
    let idle = next_report(&mut reports).await?;
    assert_eq!((idle.instance.as_str(), idle.in_flight), ("old", 0));
    let drained = tokio::time::timeout(Duration::from_secs(10), waiting).await??;
    assert!(drained, "drained, not cut by the timeout");
    Ok(())
}

/// Reads overlap (the bus, a full read, a request's miss): one that began before the read the
/// table holds changes nothing, so a slow read never puts back a route a newer one replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_older_than_the_route_held_changes_nothing() -> anyhow::Result<()> {
    let s = setup().await?;
    let (app, dep) = pending(&s, "steady").await?;
    live(&s, app.id, dep, "old", 4201).await?;
    s.routes.reload(app.id).await;
    // A read of the old route, slow to finish.
    let slow = s.routes.read_route(app.id).await?;

    switched(&s, app.id, "new", 4202).await?;
    s.routes.reload(app.id).await;
    assert_eq!(
        backend(&s.routes, "steady.localhost").await?,
        Some(("new".into(), 4202))
    );

    assert!(!s.routes.apply(slow), "an older read was applied");
    assert_eq!(
        backend(&s.routes, "steady.localhost").await?,
        Some(("new".into(), 4202)),
        "the slow read put the replaced route back"
    );
    // A read that begins now is applied.
    let fresh = s.routes.read_route(app.id).await?;
    assert!(s.routes.apply(fresh));
    Ok(())
}

/// The next drain report on `events`.
async fn next_report(
    events: &mut futures::stream::BoxStream<'static, Event>,
) -> anyhow::Result<DrainReport> {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match events.next().await {
                Some(Event::Drain(report)) => return Ok(report),
                Some(_) => {}
                None => anyhow::bail!("the bus ended"),
            }
        }
    })
    .await?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missed_events_make_the_table_read_again() -> anyhow::Result<()> {
    let s = setup().await?;
    let (app, dep) = pending(&s, "missed").await?;
    live(&s, app.id, dep.clone(), "first", 4201).await?;
    let _stop = run(&s.routes);
    // The table's first full read is done: from now on only events and misses read the store.
    eventually(Duration::from_secs(10), || async {
        Ok((s.routes.resyncs() >= 1).then_some(()))
    })
    .await?;
    eventually(Duration::from_secs(10), || async {
        Ok(
            (backend(&s.routes, "missed.localhost").await? == Some(("first".into(), 4201)))
                .then_some(()),
        )
    })
    .await?;
    // A change nobody announced (its event was lost): the table keeps what it had...
    live(&s, app.id, dep, "second", 4202).await?;
    assert_eq!(
        backend(&s.routes, "missed.localhost").await?,
        Some(("first".into(), 4201))
    );
    // ...until the bus says events were missed.
    s.platform.bus().publish(Event::Missed).await?;
    eventually(Duration::from_secs(10), || async {
        Ok(
            (backend(&s.routes, "missed.localhost").await? == Some(("second".into(), 4202)))
                .then_some(()),
        )
    })
    .await?;
    Ok(())
}

/// What a request held for a waking app waits on: each route read signals a change, and
/// `route_of` says where the app's requests go now; a wake of an app that is not asleep does
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_changes_are_signalled_for_held_requests() -> anyhow::Result<()> {
    let s = setup().await?;
    let mut changes = s.routes.changes();
    changes.mark_unchanged();
    let (app, dep) = pending(&s, "waker").await?;
    assert!(matches!(s.routes.route_of(app.id), Resolution::Unknown));
    s.routes.refresh(app.id).await;
    assert!(changes.has_changed()?, "a read of the route signals");
    changes.mark_unchanged();
    assert!(matches!(
        s.routes.route_of(app.id),
        Resolution::Down {
            status: AppStatus::Pending,
            ..
        }
    ));
    live(&s, app.id, dep, "waker-1", 4301).await?;
    s.routes.refresh(app.id).await;
    assert!(changes.has_changed()?);
    assert!(matches!(s.routes.route_of(app.id), Resolution::Live(_)));
    assert_eq!(
        s.routes.wake(app.id).await?,
        paas_core::flow::Woken::NotAsleep
    );
    Ok(())
}
