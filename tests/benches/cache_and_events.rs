//! Production mode, measured in one run on one PostgreSQL and one Redis:
//! 1. GraphQL `application(id)` lookups per second against a `serve` with the Redis cache and
//!    one with `--no-cache`, alternated, printed as a ratio;
//! 2. the latency from a status change made by a `paas worker` process to the event arriving at
//!    a websocket subscriber of a `serve` process (p50, p99).
//!
//! ```text
//! cargo build --release -p paas-graphql && cargo bench -p paas-tests --bench cache_and_events
//! ```

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use paas_tests::redis::{unique_prefix, url};
use paas_tests::repo::file_url;
use paas_tests::{Client, TestDb, TestServer, TestWorker, git_repo};
use serde_json::json;

const LOOKUPS: usize = 4000;
const CONCURRENCY: usize = 16;
const APPS: usize = 40;
const LOOKUP: &str = "query($id: ID!) { application(id: $id) { id name status } }";

/// Lookups per second, `CONCURRENCY` clients at once.
async fn lookups_per_second(client: &Client, id: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, id) = (client.clone(), id.to_owned());
        tasks.push(tokio::spawn(async move {
            for _ in 0..LOOKUPS / CONCURRENCY {
                client.data(LOOKUP, json!({ "id": id })).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(LOOKUPS as f64 / started.elapsed().as_secs_f64())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn settle(client: &Client, id: &str) -> anyhow::Result<i64> {
    loop {
        let d = client
            .data(
                "query($id: ID!) { application(id: $id) { status version } }",
                json!({ "id": id }),
            )
            .await?;
        if d["application"]["status"] == "FAILED" {
            return d["application"]["version"].as_i64().context("version");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let database_url = TestDb::Postgres.url(dir.path()).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let cached = TestServer::spawn_in(dir.path(), &database_url, &["--no-worker"], &env).await?;
    let uncached = TestServer::spawn_in(
        dir.path(),
        &database_url,
        &["--no-worker", "--no-cache"],
        &env,
    )
    .await?;
    let _worker = TestWorker::spawn(dir.path(), &database_url, &env)?;
    let alice = cached.user("alice").await?;
    let alice_uncached = Client::new(&uncached.url, alice.token().map(str::to_owned));

    // Apps whose build fails at once (no language), so every status change is the worker's.
    let repo = git_repo(&[("README.md", "docs only\n")])?;
    let mut ids = Vec::new();
    for n in 0..APPS {
        let d = alice
            .data(
                "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { application { id } } }",
                json!({ "i": { "name": format!("bench-{n}"), "repository": { "url": file_url(repo.path()) } } }),
            )
            .await?;
        ids.push(
            d["createApplication"]["application"]["id"]
                .as_str()
                .context("id")?
                .to_owned(),
        );
    }
    let mut versions = Vec::new();
    for id in &ids {
        versions.push(settle(&alice, id).await?);
    }

    // 1. Lookups, cache hot against cache off, alternated.
    lookups_per_second(&alice, &ids[0]).await?;
    lookups_per_second(&alice_uncached, &ids[0]).await?;
    let (mut hot, mut off) = (0.0, 0.0);
    for _ in 0..2 {
        hot += lookups_per_second(&alice, &ids[0]).await? / 2.0;
        off += lookups_per_second(&alice_uncached, &ids[0]).await? / 2.0;
    }
    println!("application(id) lookups/s, Redis cache hot: {hot:>8.0}");
    println!("application(id) lookups/s, cache off:       {off:>8.0}");
    println!("cache speed-up: {:.2}x", hot / off);

    // 2. Worker status change → websocket subscriber on the API process.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<f64>();
    let mut subs = Vec::new();
    for (id, version) in ids.iter().zip(&versions) {
        let mut sub = alice
            .subscribe(
                "subscription($id: ID!, $v: Int) { applicationStatus(id: $id, afterVersion: $v) { status at } }",
                json!({ "id": id, "v": version }),
            )
            .await?;
        let tx = tx.clone();
        subs.push(tokio::spawn(async move {
            for _ in 0..3 {
                let Ok(msg) = sub.next(Duration::from_secs(60)).await else {
                    return;
                };
                let received = Utc::now();
                let change = &msg["data"]["applicationStatus"];
                // PENDING is written by the API process itself; BUILDING and FAILED by the worker.
                if change["status"] != "PENDING"
                    && let Some(at) = change["at"]
                        .as_str()
                        .and_then(|s| s.parse::<DateTime<Utc>>().ok())
                {
                    let _ =
                        tx.send((received - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                }
            }
        }));
    }
    drop(tx);
    for id in &ids {
        alice
            .data(
                "mutation($id: ID!) { redeployApplication(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
    }
    for s in subs {
        s.await?;
    }
    let mut latencies = Vec::new();
    while let Some(ms) = rx.recv().await {
        latencies.push(ms);
    }
    latencies.sort_by(f64::total_cmp);
    println!(
        "worker status change → websocket on another process: p50 {:.2} ms, p99 {:.2} ms ({} events)",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.len()
    );
    Ok(())
}
