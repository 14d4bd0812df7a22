//! Many routers, one truth: two `paas serve --no-worker` on one PostgreSQL and one Redis (and a
//! `paas worker`), each with its router. A redeploy made through one is routed right by the
//! other as soon as the first reports it running: the event bus tells it (its periodic full
//! read is set far off, so nothing else could). A router keeps serving from its table while
//! Redis is away.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use paas_tests::apps::versioned;
use paas_tests::redis::{PrivateRedis, unique_prefix, url};
use paas_tests::repo::file_url;
use paas_tests::router;
use paas_tests::steps::{commit_version, create, show, statuses_until_settled};
use paas_tests::{Client, TestDb, TestServer, TestWorker, eventually, git_repo};
use serde_json::json;

/// Far beyond the test's length: routers learn changes from the bus alone.
const NO_RESYNC: &[&str] = &["--no-worker", "--router-resync-ms", "3600000"];

/// Waits until the router at `router` answers `expected` at `url`.
async fn answers(router: SocketAddr, url: &str, expected: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(20), || async {
        let got = router::get(router, url).await.ok();
        Ok(got
            .filter(|(status, body)| *status == 200 && body == expected)
            .map(|_| ()))
    })
    .await
    .with_context(|| format!("{url} never answered {expected:?} on {router}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redeploy_through_one_server_is_routed_by_the_other() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = TestDb::Postgres.url(dir.path()).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let a = TestServer::spawn_in(dir.path(), &database_url, NO_RESYNC, &env).await?;
    let b = TestServer::spawn_in(dir.path(), &database_url, NO_RESYNC, &env).await?;
    let _worker = TestWorker::spawn(dir.path(), &database_url, &env)?;
    let (router_a, router_b) = (a.router.context("router A")?, b.router.context("router B")?);
    let alice = a.user("alice").await?;

    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = create(
        &alice,
        json!({ "name": "shared", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let url = show(&alice, &id).await?["endpoint"]["url"]
        .as_str()
        .context("no URL")?
        .to_owned();
    // Both routers have the route in their tables now.
    answers(router_a, &url, "v1").await?;
    answers(router_b, &url, "v1").await?;

    let v2 = commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    alice
        .data(
            "mutation($id: ID!) { redeployApplication(id: $id, queue: true) { status } }",
            json!({ "id": id }),
        )
        .await?;
    running_on_a(&alice, &id, &v2).await?;
    answers(router_b, &url, "v2").await?;
    answers(router_a, &url, "v2").await?;
    Ok(())
}

/// Waits until A shows the deployment at `commit` running and the app serving it.
async fn running_on_a(alice: &Client, id: &str, commit: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(120), || async {
        let app = show(alice, id).await?;
        let newest = &app["deployments"][0];
        anyhow::ensure!(newest["status"] != "FAILED", "{app}");
        Ok((newest["commit"] == commit
            && newest["status"] == "RUNNING"
            && app["instances"][0]["deployment"] == newest["id"])
            .then_some(()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_router_serves_from_its_table_while_redis_is_away() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut redis = PrivateRedis::start().await?;
    let database_url = TestDb::Postgres.url(dir.path()).await?;
    let (redis_url, prefix) = (redis.url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis_url.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut server = TestServer::spawn_in(dir.path(), &database_url, &[], &env).await?;
    server.keep_database(database_url);
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = create(
        &alice,
        json!({ "name": "steady", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let url = router::app_url(router, "steady");
    answers(router, &url, "v1").await?;

    redis.kill().await?;
    for _ in 0..20 {
        let (status, body) = router::get(router, &url).await?;
        assert_eq!((status, body.as_str()), (200, "v1"), "with Redis away");
    }
    // Back, the router follows the bus again.
    redis.restart().await?;
    answers(router, &url, "v1").await?;
    Ok(())
}
