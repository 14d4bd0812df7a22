//! A deployment's replicas in the store, on SQLite and PostgreSQL alike: they round-trip with
//! their states and addresses, and the migration turns a deployment's single instance and its
//! app's endpoint (rows of earlier versions) into one running replica.

use chrono::{DateTime, Utc};
use paas_core::model::{
    AppId, AppName, Application, Branch, Deployment, DeploymentStatus, Endpoint, GitUrl,
    NewApplication, Replica, ReplicaState, SourcePolicy, User, UserId,
};
use paas_core::store::sql::SqlStore;
use paas_core::store::{AppStore, DeploymentStore, UserStore};
use paas_migrations::{Migrator, MigratorTrait};
use paas_tests::{TestDatabase, TestDb, on_both_databases};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, Database};

on_both_databases!(
    replicas_round_trip_with_their_states,
    an_instance_of_an_earlier_version_becomes_a_running_replica,
);

/// The store with an app `web` and its first deployment, and what must outlive them.
async fn setup(
    db: TestDb,
) -> anyhow::Result<(
    SqlStore,
    Application,
    Deployment,
    (tempfile::TempDir, TestDatabase),
)> {
    let dir = tempfile::tempdir()?;
    let url = db.url(dir.path()).await?;
    let store = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    store.migrate().await?;
    let owner = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    store.create_user(&owner, "h").await?;
    let dep = Deployment::queued(AppId::new(), None, Utc::now());
    let new = NewApplication::new(
        AppName::parse("web")?,
        GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
    );
    let app = Application::pending(owner.id, new, Branch::parse("main")?, &dep);
    store.create_app(&app, &dep).await?;
    Ok((store, app, dep, (dir, url)))
}

/// A time as the databases keep it (whole microseconds).
fn at(secs: i64) -> anyhow::Result<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 123_000).ok_or_else(|| anyhow::anyhow!("bad time"))
}

fn replica(id: &str, port: u16, state: ReplicaState, secs: i64) -> anyhow::Result<Replica> {
    Ok(Replica {
        id: id.into(),
        endpoint: Endpoint {
            host: "127.0.0.1".into(),
            port,
        },
        state,
        started_at: at(secs)?,
    })
}

async fn replicas_round_trip_with_their_states(db: TestDb) -> anyhow::Result<()> {
    let (s, _app, mut dep, _keep) = setup(db).await?;
    let back = s
        .deployment(dep.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert!(back.instances.is_empty(), "a new deployment runs nothing");

    dep.status = DeploymentStatus::Running;
    dep.instances = vec![
        replica("old", 4100, ReplicaState::Draining, 1_700_000_000)?,
        replica("a", 4101, ReplicaState::Running, 1_700_000_100)?,
        replica("b", 4102, ReplicaState::Running, 1_700_000_200)?,
        replica("c", 4103, ReplicaState::Crashed, 1_700_000_300)?,
    ];
    s.update_deployment(&dep).await?;
    let back = s
        .deployment(dep.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(back.instances, dep.instances);
    let routed: Vec<&str> = back.running().map(|r| r.id.as_str()).collect();
    assert_eq!(routed, ["a", "b"]);

    // Forgetting one rewrites the list, the others as they were.
    dep.forget("old");
    s.update_deployment(&dep).await?;
    let listed = s.deployments_of(dep.app_id).await?;
    assert_eq!(listed[0].instance_ids(), ["a", "b", "c"]);
    Ok(())
}

async fn an_instance_of_an_earlier_version_becomes_a_running_replica(
    db: TestDb,
) -> anyhow::Result<()> {
    let (s, app, dep, keep) = setup(db).await?;
    let conn = Database::connect(keep.1.to_string()).await?;
    // Back to the schema before replicas (the 10th migration, undone with every later one),
    // with a running app as it recorded one.
    let since_replicas = u32::try_from(Migrator::migrations().len() - 9)?;
    Migrator::down(&conn, Some(since_replicas)).await?;
    let started = at(1_700_000_000)?;
    conn.execute(
        Query::update()
            .table(Alias::new("deployments"))
            .value(Alias::new("status"), "RUNNING")
            .value(Alias::new("instance"), "inst-1")
            .value(Alias::new("started_at"), started)
            .and_where(Expr::col(Alias::new("id")).eq(dep.id.as_uuid())),
    )
    .await?;
    conn.execute(
        Query::update()
            .table(Alias::new("applications"))
            .value(Alias::new("status"), "RUNNING")
            .value(Alias::new("endpoint_host"), "10.0.0.7")
            .value(Alias::new("endpoint_port"), 4321)
            .and_where(Expr::col(Alias::new("id")).eq(app.id.as_uuid())),
    )
    .await?;
    // Up again on the same connection as the rows were written (SQLite: one writer at a time).
    Migrator::up(&conn, None).await?;
    conn.close().await?;

    let back = s
        .deployment(dep.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("gone"))?;
    assert_eq!(
        back.instances,
        vec![Replica::running(
            "inst-1".into(),
            Endpoint {
                host: "10.0.0.7".into(),
                port: 4321
            },
            started
        )]
    );
    Ok(())
}
