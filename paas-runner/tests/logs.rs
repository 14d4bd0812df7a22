//! The log store and live following, on SQLite and PostgreSQL: timestamps made unique and
//! ordered, exact paging, concurrent writers against a live reader, source positions,
//! retention, and the lag marker of a slow subscriber.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use futures::StreamExt;
use paas_core::flow::LogItem;
use paas_core::logs::{
    Direction, LogQuery, LogStore, LogStream, LogTime, NewLine, Retention, SourcePosition,
};
use paas_core::model::{AppId, AppName, GitUrl, NewApplication, SourcePolicy, User, UserId};
use paas_core::store::sql::SqlStore;
use paas_core::{Error, Platform, PlatformConfig};
use paas_runner::local::{LocalBuilder, LocalRuntime};
use paas_tests::repo::file_url;
use paas_tests::{TestDatabase, TestDb, git_repo};

use paas_tests::on_both_databases;

/// The store, with its database (dropped with it).
async fn store(db: TestDb, dir: &tempfile::TempDir) -> anyhow::Result<(SqlStore, TestDatabase)> {
    let url = db.url(dir.path()).await?;
    let store = SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?;
    store.migrate().await?;
    Ok((store, url))
}

fn lines(n: usize, prefix: &str, at: Option<LogTime>) -> Vec<NewLine> {
    (0..n)
        .map(|i| NewLine {
            stream: LogStream::Stdout,
            deployment: None,
            text: format!("{prefix}{i}"),
            at,
        })
        .collect()
}

/// Every line matching `q`, paged `limit` at a time with the from + last protocol.
async fn page_all(
    store: &SqlStore,
    mut q: LogQuery,
    limit: u64,
) -> anyhow::Result<Vec<paas_core::logs::LogLine>> {
    q.limit = limit;
    let mut all = Vec::new();
    loop {
        let page = store.read_logs(&q).await?;
        let Some(last) = page.last().map(|l| l.at) else {
            return Ok(all);
        };
        q.from = Some(last);
        q.last = Some(last);
        all.extend(page);
    }
}

async fn identical_timestamps_become_unique_and_page_exactly(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let app = AppId::new();
    let t: LogTime = "2026-11-23T12:00:00.000000001Z".parse()?;
    let mut stamped = Vec::new();
    for batch in 0..3 {
        stamped.extend(
            store
                .append_logs(app, &lines(100, &format!("b{batch}-"), Some(t)), None)
                .await?,
        );
    }
    assert_eq!(stamped[0].at, t, "the first line keeps its own time");
    assert!(stamped.windows(2).all(|w| w[1].at == w[0].at.next()));
    // Another app's lines do not move this app's clock.
    store
        .append_logs(AppId::new(), &lines(5, "other-", Some(t)), None)
        .await?;

    let forward = page_all(&store, LogQuery::app(app), 7).await?;
    assert_eq!(forward, stamped, "every line once, in order");
    let mut back = LogQuery::app(app);
    back.direction = Direction::Backward;
    let mut backward = page_all(&store, back, 9).await?;
    backward.reverse();
    assert_eq!(backward, stamped);

    // `from` alone includes its line; with `last` it is skipped.
    let mut q = LogQuery::app(app);
    q.from = Some(stamped[150].at);
    q.limit = 2;
    let two = store.read_logs(&q).await?;
    assert_eq!(two, stamped[150..152]);
    q.last = Some(stamped[150].at);
    assert_eq!(store.read_logs(&q).await?, stamped[151..153]);

    let head = store.log_head(app).await?;
    assert_eq!(head.lines, 300);
    assert_eq!(head.last, Some(stamped[299].at));
    Ok(())
}
on_both_databases!(identical_timestamps_become_unique_and_page_exactly);

/// Lines the store stamps itself come after every line stored before them, even one given a
/// time ahead of the clock, one nanosecond apart, and the head counts them.
async fn stamped_lines_follow_the_head_and_are_counted(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let app = AppId::new();
    let first = store
        .append_logs(app, &lines(3, "now-", None), None)
        .await?;
    assert!(
        first
            .windows(2)
            .all(|w| w[1].at.nanos() == w[0].at.nanos() + 1)
    );
    let ahead = LogTime::from_nanos(LogTime::now().nanos() + 3_600_000_000_000);
    store
        .append_logs(app, &lines(2, "ahead-", Some(ahead)), None)
        .await?;
    let after = store
        .append_logs(app, &lines(4, "after-", None), None)
        .await?;
    assert_eq!(
        after[0].at.nanos(),
        ahead.nanos() + 2,
        "right after the line ahead"
    );
    assert!(
        after
            .windows(2)
            .all(|w| w[1].at.nanos() == w[0].at.nanos() + 1)
    );
    let head = store.log_head(app).await?;
    assert_eq!(head.last, after.last().map(|l| l.at));
    assert_eq!(head.lines, 9);
    let stored = page_all(&store, LogQuery::app(app), 100).await?;
    let stamps = |l: &[paas_core::logs::LogLine]| l.iter().map(|l| l.at).collect::<Vec<_>>();
    assert_eq!(stamps(&stored[..3]), stamps(&first), "stored as returned");
    assert_eq!(stamps(&stored[5..]), stamps(&after), "stored as returned");
    let texts: Vec<String> = stored.into_iter().map(|l| l.text).collect();
    assert_eq!(
        texts,
        [
            "now-0", "now-1", "now-2", "ahead-0", "ahead-1", "after-0", "after-1", "after-2",
            "after-3"
        ]
    );
    assert_eq!(
        head.bytes,
        texts.iter().map(|t| t.len() as u64).sum::<u64>()
    );
    Ok(())
}

on_both_databases!(stamped_lines_follow_the_head_and_are_counted);

async fn concurrent_writers_never_slip_a_line_behind_a_reader(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let store = Arc::new(store);
    let app = AppId::new();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for b in 0..25 {
                    store
                        .append_logs(app, &lines(10, &format!("w{w}-b{b}-"), None), None)
                        .await?;
                }
                anyhow::Ok(())
            })
        })
        .collect();
    // A reader following with the cursor while the writers write: whatever it has seen, no
    // line may later appear before its cursor.
    let mut q = LogQuery::app(app);
    q.limit = 13;
    let mut seen = Vec::new();
    let done = || writers.iter().all(|w| w.is_finished());
    loop {
        let finished = done();
        let page = store.read_logs(&q).await?;
        if let Some(last) = page.last().map(|l| l.at) {
            q.from = Some(last);
            q.last = Some(last);
        }
        let empty = page.is_empty();
        seen.extend(page);
        if finished && empty {
            break;
        }
    }
    for w in writers {
        w.await??;
    }
    assert_eq!(seen.len(), 1000, "every line seen by the live reader");
    assert!(seen.windows(2).all(|w| w[0].at < w[1].at));
    let mut texts: Vec<&str> = seen.iter().map(|l| l.text.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), 1000, "no line twice");
    Ok(())
}
on_both_databases!(concurrent_writers_never_slip_a_line_behind_a_reader);

async fn source_positions_are_compare_and_set(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let app = AppId::new();
    let pos = |expected: Option<&str>, next: &str| SourcePosition {
        source: "instance:x".into(),
        expected: expected.map(str::to_owned),
        next: next.into(),
    };
    store
        .append_logs(app, &lines(2, "a", None), Some(&pos(None, "10")))
        .await?;
    assert_eq!(
        store.log_position("instance:x").await?.as_deref(),
        Some("10")
    );
    // A second reader that started from nothing is refused, and stores nothing.
    let stale = store
        .append_logs(app, &lines(2, "dup", None), Some(&pos(None, "10")))
        .await;
    assert!(matches!(stale, Err(Error::LockLost(_))), "{stale:?}");
    store
        .append_logs(app, &lines(1, "b", None), Some(&pos(Some("10"), "15")))
        .await?;
    let all = store.read_logs(&LogQuery::app(app)).await?;
    let texts: Vec<&str> = all.iter().map(|l| l.text.as_str()).collect();
    assert_eq!(texts, ["a0", "a1", "b0"]);
    assert_eq!(
        store.log_position("instance:x").await?.as_deref(),
        Some("15")
    );
    store.delete_logs(app).await?;
    assert!(store.read_logs(&LogQuery::app(app)).await?.is_empty());
    assert_eq!(store.log_position("instance:x").await?, None);
    Ok(())
}
on_both_databases!(source_positions_are_compare_and_set);

async fn retention_drops_old_lines_then_the_oldest_past_the_size(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (store, _db) = store(db, &dir).await?;
    let app = AppId::new();
    let old = LogTime::from(Utc::now() - chrono::Duration::days(10));
    store
        .append_logs(app, &lines(10, "old-", Some(old)), None)
        .await?;
    let kb = "x".repeat(1000);
    let fresh: Vec<NewLine> = (0..100)
        .map(|i| NewLine::new(LogStream::Stdout, None, format!("{i:03}{kb}")))
        .collect();
    store.append_logs(app, &fresh, None).await?;
    let keep = AppId::new();
    store
        .append_logs(keep, &lines(3, "k", Some(old)), None)
        .await?;

    let week_ago = LogTime::from(Utc::now() - chrono::Duration::days(7));
    let removed = store.prune_logs(app, week_ago, 50 * 1003).await?;
    assert_eq!(removed, 10 + 50);
    let left = store
        .read_logs(&LogQuery::app(app).with_limit(Some(1000))?)
        .await?;
    assert_eq!(left.len(), 50);
    assert!(left[0].text.starts_with("050"), "the newest are kept");
    let head = store.log_head(app).await?;
    assert_eq!((head.lines, head.bytes), (50, 50 * 1003));
    // Other apps are untouched until their turn.
    assert_eq!(store.log_head(keep).await?.lines, 3);
    Ok(())
}
on_both_databases!(retention_drops_old_lines_then_the_oldest_past_the_size);

/// The platform, with its database (dropped with it).
async fn platform(
    db: TestDb,
    dir: &tempfile::TempDir,
    buffer: usize,
) -> anyhow::Result<(Platform, TestDatabase)> {
    let config = PlatformConfig {
        data_dir: dir.path().to_path_buf(),
        log_buffer: buffer,
        log_retention: Retention {
            max_age: Duration::from_secs(3600),
            max_bytes_per_app: 1 << 20,
        },
        ..PlatformConfig::default()
    };
    let url = db.url(dir.path()).await?;
    let platform = Platform::builder()
        .config(config)
        .database_url(url.to_string())
        .runtime(Arc::new(LocalRuntime::new(dir.path().join("logs"))))
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    Ok((platform, url))
}

async fn user(p: &Platform, name: &str) -> anyhow::Result<User> {
    let user = User {
        id: UserId::new(),
        name: name.into(),
        created_at: Utc::now(),
    };
    p.store()
        .create_user(&user, &format!("hash-{name}"))
        .await?;
    Ok(user)
}

async fn a_slow_subscriber_is_told_what_it_missed(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (p, _db) = platform(db, &dir, 16).await?;
    let alice = user(&p, "alice").await?;
    let repo = git_repo(&[("app.py", "print('hi')\n")])?;
    let app = p
        .create_application(
            &alice,
            NewApplication::new(
                AppName::parse("chatty")?,
                GitUrl::parse(&file_url(repo.path()), SourcePolicy::default())?,
            ),
        )
        .await?;
    let history = p.store().read_logs(&LogQuery::app(app.id)).await?;
    assert!(!history.is_empty(), "creating the app wrote a system line");

    let mut q = LogQuery::app(app.id);
    q.streams = vec![LogStream::Stdout, LogStream::System];
    let mut follow = p.follow_logs(&alice, q).await?;
    // Nobody reads while 400 lines are written.
    for b in 0..40 {
        p.write_logs(app.id, &lines(10, &format!("b{b:02}-"), None))
            .await?;
    }
    let end = p.store().log_head(app.id).await?.last;
    let mut got = Vec::new();
    while let Ok(Some(item)) = tokio::time::timeout(Duration::from_secs(5), follow.next()).await {
        let at_end = match &item {
            LogItem::Line(l) => Some(l.at) == end,
            LogItem::Lagged { last, .. } => Some(*last) == end,
        };
        got.push(item);
        if at_end {
            break;
        }
    }
    let mut delivered = 0;
    let mut skipped = 0;
    let mut markers = 0;
    let mut last_at = LogTime::MIN;
    for item in &got {
        match item {
            LogItem::Line(l) => {
                assert!(l.at > last_at, "in order, no duplicate");
                last_at = l.at;
                if l.stream == LogStream::Stdout {
                    delivered += 1;
                }
            }
            LogItem::Lagged {
                skipped: n,
                first,
                last,
            } => {
                assert!(*first > last_at && first <= last);
                last_at = *last;
                markers += 1;
                skipped += n;
                // What was dropped is still there to read.
                let mut q = LogQuery::app(app.id).with_limit(Some(1000))?;
                q.from = Some(*first);
                q.streams = vec![LogStream::Stdout, LogStream::System];
                let page = p.logs_for(&alice, &q).await?;
                let missed = page.lines.iter().filter(|l| l.at <= *last).count() as u64;
                assert_eq!(missed, *n);
            }
        }
    }
    assert!(markers >= 1, "the subscriber was told it lagged: {got:?}");
    // The buffer (16) held the history line, live lines and a marker: most of it lines.
    assert!(
        delivered >= 10,
        "its buffer's worth still arrived: {delivered}"
    );
    assert_eq!(delivered + skipped, 400, "every line delivered or reported");

    // Nobody else may follow or read.
    let bob = user(&p, "bob").await?;
    let refused = p.follow_logs(&bob, LogQuery::app(app.id)).await;
    assert!(matches!(refused, Err(Error::NotFound(_))));
    let refused = p.logs_for(&bob, &LogQuery::app(app.id)).await;
    assert!(matches!(refused, Err(Error::NotFound(_))));
    Ok(())
}
on_both_databases!(a_slow_subscriber_is_told_what_it_missed);
