//! One log path: a deployment's build log is read from the log store, so it shows whichever
//! host built it. Here the build runs in a `paas worker` with a data dir of its own (as on
//! another host), sharing only PostgreSQL and Redis with `paas serve --no-worker`.

use std::time::Duration;

use paas_tests::apps::BROKEN_BUILD;
use paas_tests::redis::{unique_prefix, url};
use paas_tests::repo::file_url;
use paas_tests::server::{builds_dir, open_temp_dir};
use paas_tests::steps::{app, create};
use paas_tests::{TestDb, TestServer, TestWorker, git_repo};
use serde_json::json;

use paas_tests::eventually;

/// Build log files left in a builds dir (there should be none once builds end).
fn log_files(dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for entry in entries {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".build.log") {
            found.push(name);
        }
    }
    Ok(found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_build_log_of_a_build_on_another_host_is_served() -> anyhow::Result<()> {
    let dir = open_temp_dir()?;
    let (api_dir, worker_dir) = (dir.path().join("api"), dir.path().join("worker"));
    let database_url = TestDb::Postgres.url_in(&api_dir).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let key = "cd".repeat(32);
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
        ("PAAS_SECRET_KEY", key.as_str()),
    ];
    let api = TestServer::spawn_in(&api_dir, &database_url, &["--no-worker"], &env).await?;
    let _worker = TestWorker::spawn(&worker_dir, &database_url, &env)?;
    let alice = api.user("alice").await?;

    let repo = git_repo(BROKEN_BUILD)?;
    let id = create(
        &alice,
        json!({ "name": "elsewhere", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let shown = eventually(Duration::from_secs(120), || async {
        let shown = app(&alice, &id).await?;
        Ok((shown["status"] == "FAILED").then_some(shown))
    })
    .await?;
    let log = shown["deployments"][0]["buildLog"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    for line in [
        "cloning file://",
        "$ npm run build",
        "SyntaxError: unexpected token in app.js",
        "error: build failed",
    ] {
        assert!(log.contains(line), "{line:?} missing from {log:?}");
    }
    // The lines are only in the store: no build log file on either host.
    assert_eq!(log_files(&builds_dir(&api_dir))?, Vec::<String>::new());
    assert_eq!(log_files(&builds_dir(&worker_dir))?, Vec::<String>::new());
    // `lines` keeps the end.
    let last_two = alice
        .data(
            "query($id: ID!) { application(id: $id) { deployments { buildLog(lines: 2) } } }",
            json!({ "id": id }),
        )
        .await?;
    let last_two = last_two["application"]["deployments"][0]["buildLog"]
        .as_str()
        .unwrap_or_default();
    let expected: Vec<&str> = log.lines().rev().take(2).collect::<Vec<_>>();
    assert_eq!(
        last_two.lines().collect::<Vec<_>>(),
        expected.into_iter().rev().collect::<Vec<_>>()
    );
    Ok(())
}
