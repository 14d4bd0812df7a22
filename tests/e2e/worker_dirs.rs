//! `paas serve --no-worker` beside a `paas worker` with local processes: the server starts the
//! apps from the checkouts the worker built, so both must see the same data dir. Shared (here
//! the default relative `paas-data`, from one directory), apps run; not shared (the worker's
//! data dir on a disk only it sees, as on another host), every app fails with a reason that
//! says so in plain words.

use std::path::Path;

use anyhow::ensure;
use paas_tests::apps::hello;
use paas_tests::redis::{unique_prefix, url};
use paas_tests::server::open_temp_dir;
use paas_tests::steps::{app, create, statuses_until_settled};
use paas_tests::{TestDb, TestServer, TestWorker, git_repo};
use serde_json::json;

/// Where the worker runs.
enum Worker<'a> {
    /// From this directory, with the relative data dir `paas-data`.
    From(&'a Path),
    /// With its data dir in a tmpfs only it sees.
    Elsewhere,
}

/// Starts `serve --no-worker` from `serve_cwd` with the relative data dir `paas-data`, and a
/// worker, on one database, one Redis and one key; deploys the Python app and returns its
/// final status and reason.
async fn deploy_with(serve_cwd: &Path, worker: Worker<'_>) -> anyhow::Result<(String, String)> {
    let db_dir = tempfile::tempdir()?;
    let database_url = TestDb::Postgres.url(db_dir.path()).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let key = "ab".repeat(32);
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
        ("PAAS_SECRET_KEY", key.as_str()),
    ];
    let data = Path::new("paas-data");
    let server =
        TestServer::spawn_from(Some(serve_cwd), data, &database_url, &["--no-worker"], &env)
            .await?;
    let hidden = open_temp_dir()?;
    let _worker = match worker {
        Worker::From(cwd) => TestWorker::spawn_from(Some(cwd), data, &database_url, &env)?,
        Worker::Elsewhere => TestWorker::spawn_elsewhere(
            hidden.path(),
            &hidden.path().join("data"),
            &database_url,
            &env,
        )?,
    };
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &hello())])?;
    let id = create(
        &alice,
        json!({ "name": "split", "language": "PYTHON",
                "repository": { "url": paas_tests::repo::file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    let app = app(&alice, &id).await?;
    Ok((
        seen.last().cloned().unwrap_or_default(),
        app["statusReason"].as_str().unwrap_or_default().to_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_worker_sharing_a_data_dir_run_apps() -> anyhow::Result<()> {
    let cwd = open_temp_dir()?;
    let (status, reason) = deploy_with(cwd.path(), Worker::From(cwd.path())).await?;
    ensure!(status == "RUNNING", "{status}: {reason}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_worker_on_different_data_dirs_say_so_in_the_reason() -> anyhow::Result<()> {
    let serve_cwd = open_temp_dir()?;
    let (status, reason) = deploy_with(serve_cwd.path(), Worker::Elsewhere).await?;
    ensure!(status == "FAILED", "{status}: {reason}");
    ensure!(
        reason.contains("which this process cannot see")
            && reason.contains("`paas serve` and `paas worker` must share a --data-dir"),
        "{reason}"
    );
    ensure!(!reason.contains("os error 2"), "{reason}");
    Ok(())
}
