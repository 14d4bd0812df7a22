//! Production mode with real processes: two `paas serve --no-worker` and two `paas worker` on one
//! PostgreSQL and one Redis. 20 apps are created across both API processes; one worker is killed
//! with SIGKILL in the middle of a build. Every app must end RUNNING (or FAILED for those built
//! to fail), none stuck, none built twice to completion, and both API processes must agree.

use std::collections::BTreeMap;

use anyhow::Context;
use std::time::Duration;

use paas_tests::apps::hello;
use paas_tests::redis::{unique_prefix, url};
use paas_tests::repo::file_url;
use paas_tests::steps::create;
use paas_tests::{Client, TestDb, TestServer, TestWorker, eventually, git_repo};
use serde_json::json;

/// Builds for 2 s (long enough to be killed in the middle), then serves.
const SLOW_BUILD: &str = r#"{ "name": "slow", "version": "1.0.0", "scripts": { "build": "sleep 2", "start": "python3 app.py" } }"#;
const BROKEN_APP: &[(&str, &str)] = &[(
    "package.json",
    r#"{ "name": "broken", "version": "1.0.0", "scripts": { "build": "sleep 1; exit 1" } }"#,
)];

const LIST: &str =
    "{ applications(first: 100) { edges { node { id name status deployments { id } } } } }";

/// Every app with its first deployment's whole build log.
const BUILD_LOGS_LIST: &str = "{ applications(first: 100) { edges { node { name deployments { buildLog(lines: 5000) } } } } }";

async fn states(client: &Client) -> anyhow::Result<BTreeMap<String, String>> {
    let data = client.data(LIST, json!({})).await?;
    Ok(data["applications"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["node"]["name"].as_str().unwrap_or_default().to_owned(),
                e["node"]["status"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_apis_two_workers_one_killed_mid_build() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = TestDb::Postgres.url(dir.path()).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
        ("PAAS_CLAIM_AFTER_SECS", "3"),
    ];
    let api_a = TestServer::spawn_in(dir.path(), &database_url, &["--no-worker"], &env).await?;
    let api_b = TestServer::spawn_in(dir.path(), &database_url, &["--no-worker"], &env).await?;
    let mut worker_1 = TestWorker::spawn(dir.path(), &database_url, &env)?;
    let _worker_2 = TestWorker::spawn(dir.path(), &database_url, &env)?;
    let alice_a = api_a.user("alice").await?;
    let alice_b =
        Client::new(&api_b.url, alice_a.token().map(str::to_owned)).with_router(api_b.router);

    let slow = git_repo(&[("package.json", SLOW_BUILD), ("app.py", &hello())])?;
    let broken = git_repo(BROKEN_APP)?;
    let mut expected = BTreeMap::new();
    let mut watched = None;
    let mut build_log = None;
    for n in 0..20 {
        let (repo, end) = if n % 7 == 3 {
            (&broken, "FAILED")
        } else {
            (&slow, "RUNNING")
        };
        let name = format!("app-{n:02}");
        let via = if n % 2 == 0 { &alice_a } else { &alice_b };
        let id = create(
            via,
            json!({ "name": name, "repository": { "url": file_url(repo.path()) } }),
        )
        .await?;
        if n == 0 {
            // Created through API A, built by a worker process, followed on API B: every change,
            // in order (versions strictly increase), no duplicate.
            // Its build log, written by a worker process into PostgreSQL, followed live on B.
            let dep = paas_tests::steps::app(&alice_a, &id).await?["deployments"][0]["id"].clone();
            let mut sub = alice_b
                .subscribe(paas_tests::steps::BUILD_LOGS, json!({ "dep": dep }))
                .await?;
            build_log = Some(tokio::spawn(async move {
                let mut lines = Vec::new();
                while let Some(item) = sub.next_or_end(Duration::from_secs(240)).await? {
                    let item = &item["data"]["buildLogs"];
                    lines.push(format!(
                        "{} {}",
                        item["stream"].as_str().unwrap_or_default(),
                        item["text"].as_str().unwrap_or_default()
                    ));
                }
                anyhow::Ok(lines)
            }));
            let (b, id) = (alice_b.clone(), id.clone());
            watched = Some(tokio::spawn(async move {
                paas_tests::steps::statuses_until_settled(&b, &id).await
            }));
        }
        expected.insert(name, end.to_owned());
    }

    // Kill worker 1 while it is building: it holds an app's lock exactly then.
    eventually(Duration::from_secs(60), || async {
        Ok(worker_1
            .holds_an_app_lock(&database_url)
            .await?
            .then_some(()))
    })
    .await
    .context("worker 1 never built anything")?;
    worker_1.kill9().await?;

    // Every app settles, through the surviving worker.
    let settled = tokio::time::timeout(Duration::from_secs(240), async {
        loop {
            let now = states(&alice_a).await?;
            if now.len() == 20 && now.values().all(|s| s == "RUNNING" || s == "FAILED") {
                return anyhow::Ok(now);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    })
    .await
    .map_err(|_| anyhow::anyhow!("apps stuck"))??;
    assert_eq!(settled, expected);
    let seen = watched
        .ok_or_else(|| anyhow::anyhow!("no watcher"))?
        .await??;
    assert_eq!(
        seen,
        ["PENDING", "BUILDING", "STARTING", "RUNNING"],
        "as seen on API B"
    );
    assert_eq!(
        states(&alice_b).await?,
        settled,
        "both API processes report the same states"
    );
    let lines = build_log
        .ok_or_else(|| anyhow::anyhow!("no build log"))?
        .await??;
    let has = |s: &str| lines.iter().any(|l| l.starts_with(s));
    assert!(has("BUILD cloning"), "{lines:?}");
    assert!(has("BUILD $ npm run build"), "{lines:?}");
    assert!(
        has("SYSTEM build succeeded"),
        "the stream ended with the build: {lines:?}"
    );

    // None built twice to completion: each deployment's log has at most one finished build.
    // The build log is read from the store, which holds every run of a build, the killed
    // worker's too.
    let data = alice_a.data(BUILD_LOGS_LIST, json!({})).await?;
    let mut rebuilt = 0;
    for edge in data["applications"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        let name = edge["node"]["name"].as_str().unwrap_or_default().to_owned();
        let log = edge["node"]["deployments"][0]["buildLog"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let finished = log.matches("build finished").count();
        let expected_finished = usize::from(expected[&name] == "RUNNING");
        assert_eq!(finished, expected_finished, "{name}: {log}");
        rebuilt += log.matches("cloning").count() - 1;
    }
    assert!(rebuilt >= 1, "the killed worker's build was taken over");
    Ok(())
}
