//! Production mode (`REDIS_URL`) through a Redis that restarts empty or stays down, on the real
//! `paas serve` with its own `redis-server` (never the shared one): the queue, the bus and the
//! cache come back by themselves, a create never leaves a `FAILED` app for Redis's sake, and
//! reads while Redis is down do not wait on it.

use std::time::{Duration, Instant};

use paas_tests::apps::hello;
use paas_tests::redis::{PrivateRedis, unique_prefix};
use paas_tests::repo::file_url;
use paas_tests::steps::{create, statuses_until_settled};
use paas_tests::{Client, TestDb, TestServer, git_repo};
use serde_json::json;

/// How long one Redis call may take before paas gives up on it (`redis_conn::CALL_TIMEOUT`).
const REDIS_CALL_TIMEOUT: Duration = Duration::from_millis(500);

const LIST: &str = "{ applications(first: 20) { edges { node { id name status } } } }";

async fn serve_on(redis: &PrivateRedis, dir: &std::path::Path) -> anyhow::Result<TestServer> {
    let database_url = TestDb::Postgres.url(dir).await?;
    let (url, prefix) = (redis.url(), unique_prefix());
    let env = [
        ("REDIS_URL", url.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut server = TestServer::spawn_in(dir, &database_url, &[], &env).await?;
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
    let server = serve_on(&redis, dir.path()).await?;
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
    let server = serve_on(&redis, dir.path()).await?;
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

    // Reads answer from the database without waiting on Redis each time: N queries take less
    // than N of Redis's call timeouts would (today each one waits for two or more of them).
    let n = 20;
    let started = Instant::now();
    for _ in 0..n {
        let list = alice.data(LIST, json!({})).await?;
        let status = &list["applications"]["edges"][0]["node"]["status"];
        assert_eq!(status, "PENDING", "right answers while Redis is down");
    }
    let took = started.elapsed();
    assert!(
        took < REDIS_CALL_TIMEOUT * n,
        "{n} reads took {took:?}: they waited on the dead Redis"
    );

    // Redis comes back (empty): the waiting build is queued again from the database.
    redis.restart().await?;
    wait_status(&alice, &id, "RUNNING").await?;
    Ok(())
}
