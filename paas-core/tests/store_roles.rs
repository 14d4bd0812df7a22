//! A store put together from two backends: each role goes to the backend that serves it, and
//! the platform's `Arc<dyn Store>` holds the whole as one.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use paas_core::lock::{LockKey, Locks};
use paas_core::model::{
    AppId, AppName, Application, Branch, Deployment, GitUrl, NewApplication, SourcePolicy, User,
    UserId,
};
use paas_core::store::sql::SqlStore;
use paas_core::store::{AppStore, Delegate, LockStore, Store, UserStore};
use paas_tests::{TestDatabase, TestDb, on_both_databases};

/// Everything in one database but the locks, which live in another.
struct LocksApart {
    main: SqlStore,
    locks: SqlStore,
}

impl Delegate for LocksApart {
    fn inner(&self) -> &dyn Store {
        &self.main
    }
    fn lock_store(&self) -> &dyn LockStore {
        &self.locks
    }
}

/// The store, with its database (dropped with it).
async fn store(db: TestDb, dir: &tempfile::TempDir) -> anyhow::Result<(SqlStore, TestDatabase)> {
    let url = db.url(dir.path()).await?;
    let store = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    store.migrate().await?;
    Ok((store, url))
}

on_both_databases!(each_role_goes_to_the_backend_that_serves_it);

async fn each_role_goes_to_the_backend_that_serves_it(db: TestDb) -> anyhow::Result<()> {
    let (main_dir, locks_dir) = (tempfile::tempdir()?, tempfile::tempdir()?);
    let ((main, _main_db), (locks, _locks_db)) = (
        store(TestDb::Sqlite, &main_dir).await?,
        store(db, &locks_dir).await?,
    );
    let both: Arc<dyn Store> = Arc::new(LocksApart {
        main: main.clone(),
        locks: locks.clone(),
    });

    let alice = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    both.create_user(&alice, "hash").await?;
    let dep = Deployment::queued(AppId::new(), None, Utc::now());
    let new = NewApplication::new(
        AppName::parse("apart")?,
        GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
    );
    let app = Application::pending(alice.id, new, Branch::parse("main")?, &dep);
    both.create_app(&app, &dep).await?;
    let key = LockKey::App(app.id);
    let lease = Locks::new(both.clone(), Duration::from_secs(30))
        .acquire(&key, "a build", Duration::from_secs(5))
        .await?;

    assert_eq!(both.app(app.id).await?.map(|a| a.id), Some(app.id));
    assert!(main.user(alice.id).await?.is_some());
    assert!(main.app(app.id).await?.is_some());
    assert!(locks.user(alice.id).await?.is_none(), "users stay in main");
    assert!(locks.app(app.id).await?.is_none(), "apps stay in main");
    let held = locks.lock_record(&key.to_string()).await?;
    assert!(
        held.is_some_and(|r| r.holder.is_some()),
        "the lock is in the locks' database"
    );
    assert!(main.lock_record(&key.to_string()).await?.is_none());
    drop(lease);
    Ok(())
}
