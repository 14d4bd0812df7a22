//! What idle live log followers cost: they wait for the bus's nudge and share one poll per app,
//! so a hundred of them on an app cost what one does, and none reads the store per second.
//! Exactness stays: after the idle spell, each follower gets the next line once, in order.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use futures::stream::BoxStream;
use paas_core::flow::LogItem;
use paas_core::logs::{LogQuery, LogStream, NewLine};
use paas_core::model::*;
use paas_core::store::sql::SqlStore;
use paas_core::store::{AppStore, UserStore};
use paas_core::{Platform, PlatformConfig};
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::TestDb;
use paas_tests::counting_store::CountingStore;

const APPS: usize = 2;
const FOLLOWERS_PER_APP: usize = 100;
/// The idle spell, in polls of the shared poller.
const IDLE_POLLS: u32 = 3;

fn line(text: &str) -> NewLine {
    NewLine::new(LogStream::Stdout, None, text)
}

async fn next_line(follow: &mut BoxStream<'static, LogItem>) -> anyhow::Result<String> {
    match tokio::time::timeout(Duration::from_secs(20), follow.next()).await? {
        Some(LogItem::Line(l)) => Ok(l.text),
        other => anyhow::bail!("expected a line, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_followers_share_one_poll_per_app() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let sql = SqlStore::connect(
        &TestDb::Sqlite.url(dir.path()).await?,
        paas_core::secrets::Keyring::ephemeral(),
    )
    .await?;
    sql.migrate().await?;
    let store = Arc::new(CountingStore::new(sql));
    let log_poll = Duration::from_secs(1);
    let platform = Platform::builder()
        .config(PlatformConfig {
            data_dir: dir.path().to_path_buf(),
            log_poll,
            ..PlatformConfig::default()
        })
        .store(store.clone())
        .runtime(Arc::new(LocalRuntime::new(dir.path().join("logs"))))
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    let alice = User {
        id: UserId::new(),
        name: "alice".into(),
        created_at: Utc::now(),
    };
    store.create_user(&alice, "hash").await?;

    let mut apps = Vec::new();
    let mut followers = Vec::new();
    for n in 0..APPS {
        let dep = Deployment::queued(AppId::new(), None, Utc::now());
        let new = NewApplication::new(
            AppName::parse(&format!("quiet-{n}"))?,
            GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?,
        );
        let app = Application::pending(alice.id, new, Branch::parse("main")?, &dep);
        store.create_app(&app, &dep).await?;
        platform.write_logs(app.id, &[line("history")]).await?;
        for _ in 0..FOLLOWERS_PER_APP {
            let mut follow = platform.follow_logs(&alice, LogQuery::app(app.id)).await?;
            assert_eq!(next_line(&mut follow).await?, "history");
            followers.push((app.id, follow));
        }
        apps.push(app.id);
    }

    // Idle: nothing is written. Each app's log is looked at once per poll for all its
    // followers (its row and its head), not once per follower per poll.
    store.take();
    store.take_log_calls();
    tokio::time::sleep(log_poll * IDLE_POLLS + log_poll / 2).await;
    let reads = store.take() + store.take_log_calls();
    let shared = APPS * 2 * (IDLE_POLLS as usize + 1);
    let per_follower = APPS * FOLLOWERS_PER_APP * IDLE_POLLS as usize;
    assert!(
        reads <= shared,
        "{reads} store reads while {} followers idled {IDLE_POLLS} polls (one per follower per \
         poll would be {per_follower})",
        APPS * FOLLOWERS_PER_APP
    );

    // A new line wakes them by the bus's nudge: each gets it once, after the history, no gap.
    for app in &apps {
        platform
            .write_logs(*app, &[line("one"), line("two")])
            .await?;
    }
    for (_, follow) in &mut followers {
        assert_eq!(next_line(follow).await?, "one");
        assert_eq!(next_line(follow).await?, "two");
    }
    let nothing_more = tokio::time::timeout(Duration::from_millis(300), followers[0].1.next());
    assert!(nothing_more.await.is_err(), "no duplicate");
    Ok(())
}
