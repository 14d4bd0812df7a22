//! Production mode (`REDIS_URL`) through a Redis that restarts empty or stays down, on the real
//! `paas serve` with its own `redis-server` (never the shared one): the queue, the bus and the
//! cache come back by themselves, a create never leaves a `FAILED` app for Redis's sake, reads
//! while Redis is down skip it (its breaker open, seen on `/metrics`), and once it answers again
//! hits resume and nothing cached before the outage is served stale.

use std::time::{Duration, Instant};

use paas_tests::apps::hello;
use paas_tests::redis::{PrivateRedis, unique_prefix};
use paas_tests::repo::file_url;
use paas_tests::steps::{create, statuses_until_settled};
use paas_tests::{Client, TestDb, TestServer, git_repo};
use serde_json::json;

const LIST: &str = "{ applications(first: 20) { edges { node { id name status } } } }";

async fn serve_on(
    redis: &PrivateRedis,
    dir: &std::path::Path,
    args: &[&str],
) -> anyhow::Result<TestServer> {
    let database_url = TestDb::Postgres.url(dir).await?;
    let (url, prefix) = (redis.url(), unique_prefix());
    let env = [
        ("REDIS_URL", url.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut server = TestServer::spawn_in(dir, &database_url, args, &env).await?;
    server.keep_database(database_url);
    Ok(server)
}

fn app_input(name: &str, repo: &tempfile::TempDir) -> serde_json::Value {
    json!({ "name": name, "repository": { "url": file_url(repo.path()) } })
}

/// Polls the app's status until it is `want` (or settles otherwise, or time runs out).
async fn wait_status(client: &Client, id: &str, want: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let app = paas_tests::steps::app(client, id).await?;
        let status = app["status"].as_str().unwrap_or_default().to_owned();
        if status == want {
            return Ok(());
        }
        anyhow::ensure!(status != "FAILED", "the app failed: {app}");
        anyhow::ensure!(Instant::now() < deadline, "still {status}: {app}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn builds_go_on_after_redis_restarts_empty() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut redis = PrivateRedis::start().await?;
    let server = serve_on(&redis, dir.path(), &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &hello())])?;
    let before = create(&alice, app_input("before", &repo)).await?;
    wait_status(&alice, &before, "RUNNING").await?;

    // Redis keeps nothing on disk: it comes back without the streams and their groups.
    redis.kill().await?;
    redis.restart().await?;

    // No restart of paas: the queue makes its groups again and the build goes through, and a
    // status subscription (over the bus, subscribed again) sees it to the end.
    let after = create(&alice, app_input("after", &repo)).await?;
    let seen = statuses_until_settled(&alice, &after).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    wait_status(&alice, &before, "RUNNING").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_creates_wait_for_it_and_reads_do_not() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut redis = PrivateRedis::start().await?;
    let server = serve_on(&redis, dir.path(), &["--admin-token", ADMIN]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &hello())])?;
    redis.kill().await?;

    // The create is committed (the database is the truth) and answered PENDING, not FAILED.
    let id = create(&alice, app_input("patient", &repo)).await?;
    let again = alice
        .error_code(
            paas_tests::steps::CREATE,
            json!({ "input": app_input("patient", &repo) }),
        )
        .await?;
    assert_eq!(again, "NAME_TAKEN", "the name is the waiting app's");

    // Reads answer from the database without waiting on Redis each time: the cache's breaker
    // is open and every read skips Redis (how fast that is: the `cache_and_events` bench).
    let metrics = format!("{}/metrics", server.url);
    let skipped = |s: &paas_tests::metrics::Scrape| {
        s.value("paas_redis_skipped_calls_total", &[("user", "cache")])
    };
    let before = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    let n = 20;
    for _ in 0..n {
        let list = alice.data(LIST, json!({})).await?;
        let status = &list["applications"]["edges"][0]["node"]["status"];
        assert_eq!(status, "PENDING", "right answers while Redis is down");
    }
    let after = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    assert_eq!(breaker_open(&after), 1.0, "Redis is skipped");
    assert!(
        skipped(&after) - skipped(&before) >= f64::from(n),
        "each read skipped Redis instead of waiting on it"
    );

    // Redis comes back (empty): the waiting build is queued again from the database.
    redis.restart().await?;
    wait_status(&alice, &id, "RUNNING").await?;
    Ok(())
}

const ADMIN: &str = "operator-token-for-redis-metrics";

const RENAME: &str = "mutation($id: ID!, $name: String!) {
  updateApplication(id: $id, input: { name: $name }) { name } }";

const NAME: &str = "query($id: ID!) { application(id: $id) { name } }";

/// The cache's lookups answered by Redis so far (`/metrics`).
fn hits(scrape: &paas_tests::metrics::Scrape) -> f64 {
    scrape.value("paas_cache_hits_total", &[])
}

fn breaker_open(scrape: &paas_tests::metrics::Scrape) -> f64 {
    scrape.value("paas_redis_breaker_open", &[("user", "cache")])
}

/// Redis frozen with the app cached, the app renamed meanwhile: reads skip Redis (the breaker
/// is open, its skipped calls counted) and answer right; once Redis answers again the breaker
/// closes by itself, hits resume, and the name cached before the outage is never served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_cut_off_reads_skip_it_and_after_it_nothing_stale_is_served()
-> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let redis = PrivateRedis::start().await?;
    let server = serve_on(&redis, dir.path(), &["--admin-token", ADMIN]).await?;
    let metrics = format!("{}/metrics", server.url);
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &hello())])?;
    let id = create(&alice, app_input("cached", &repo)).await?;
    wait_status(&alice, &id, "RUNNING").await?;

    // Cached: the app and the list are read from Redis.
    let before = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    for _ in 0..3 {
        alice.data(LIST, json!({})).await?;
        alice.data(NAME, json!({ "id": id })).await?;
    }
    let warm = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    assert!(hits(&warm) > hits(&before), "the cache answers");
    assert_eq!(breaker_open(&warm), 0.0);

    // Redis stops answering, keeping its keys (the old name among them).
    redis.pause()?;
    let renamed = alice
        .data(RENAME, json!({ "id": id, "name": "renamed" }))
        .await?;
    assert_eq!(renamed["updateApplication"]["name"], "renamed");
    let n = 20;
    for _ in 0..n {
        let list = alice.data(LIST, json!({})).await?;
        assert_eq!(
            list["applications"]["edges"][0]["node"]["name"], "renamed",
            "{list}"
        );
    }
    let cut_off = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    assert_eq!(breaker_open(&cut_off), 1.0, "Redis is skipped");
    let skipped = |s: &paas_tests::metrics::Scrape| {
        s.value("paas_redis_skipped_calls_total", &[("user", "cache")])
    };
    assert!(
        skipped(&cut_off) - skipped(&warm) >= f64::from(n),
        "each read skipped Redis"
    );

    // Redis answers again: the breaker closes by itself; what was cached before is dropped.
    redis.resume()?;
    paas_tests::eventually(Duration::from_secs(30), || async {
        let s = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
        Ok((breaker_open(&s) == 0.0).then_some(()))
    })
    .await?;
    let healed = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    for _ in 0..3 {
        let list = alice.data(LIST, json!({})).await?;
        assert_eq!(list["applications"]["edges"][0]["node"]["name"], "renamed");
        let app = alice.data(NAME, json!({ "id": id })).await?;
        assert_eq!(
            app["application"]["name"], "renamed",
            "never the stale name"
        );
    }
    let after = crate::metrics::scrape(&metrics, Some(ADMIN)).await?;
    assert!(hits(&after) > hits(&healed), "hits resume");
    assert_eq!(skipped(&after), skipped(&healed), "Redis is asked again");
    Ok(())
}
