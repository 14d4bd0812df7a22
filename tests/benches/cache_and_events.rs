//! Production mode, measured in one run on one PostgreSQL and one Redis:
//! 1. GraphQL `application(id)` lookups per second over `APPS` different apps, loaded by `wrk`
//!    with 16 connections in `ROUNDS` rounds of `LOOKUP_SECONDS`: a `serve` on the embedded
//!    defaults (SQLite, in-process cache) against `{ __typename }` on the same server (the
//!    floor: HTTP, auth and GraphQL with nothing to look up), then a `serve` with the Redis
//!    cache against one with `--no-cache`, alternated, and the ratio of the medians;
//! 2. the latency from a status change made by a `paas worker` process to the event arriving at
//!    a websocket subscriber of a `serve` process, over `EVENT_ROUNDS` redeploys of every app
//!    (two events each); subscriptions that end or time out early are counted and printed;
//! 3. Redis down: `OUTAGE_QUERIES` sequential `applications(first: 10)` queries against a
//!    `serve` whose (private) Redis was killed, and against the `--no-cache` one: the medians
//!    and their ratio (the breaker's promise: within 2x).
//!
//! ```text
//! cargo build --release -p paas-graphql && cargo bench -p paas-tests --bench cache_and_events
//! ```

use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use paas_tests::bench::{Report, Row, Samples, quick, samples};
use paas_tests::redis::{PrivateRedis, unique_prefix, url};
use paas_tests::repo::file_url;
use paas_tests::{Client, TestDb, TestServer, TestWorker, git_repo, wrk};
use serde_json::json;

/// Seconds of one wrk run of lookups.
const LOOKUP_SECONDS: u32 = 5;
/// Alternated rounds of lookups per side.
const ROUNDS: usize = 6;
/// Redeploys of every app for the event latencies (`APPS` × 2 events each).
const EVENT_ROUNDS: usize = 13;
/// How long an app may take to settle before the bench gives up.
const SETTLE_WITHIN: Duration = Duration::from_secs(60);
const CONCURRENCY: usize = 16;
const APPS: usize = 40;
/// Sequential list queries per side with Redis down.
const OUTAGE_QUERIES: usize = 200;
const LIST: &str = "{ applications(first: 10) { edges { node { id name status } } } }";
const LOOKUP: &str = "query($id: ID!) { application(id: $id) { id name status } }";
/// The floor of a lookup: the same request path with nothing to look up.
const FLOOR: &str = "{ __typename }";

/// `wrk` with `CONCURRENCY` connections for `seconds` against `POST /graphql` of `client`'s
/// server, as its user: `application(id)` over `ids` in turn, or `{ __typename }` (the same
/// HTTP, auth and GraphQL path with nothing to look up: the floor) when `ids` is empty. Each
/// body is checked to answer data first, since GraphQL errors are 200s too.
async fn wrk_lookups(client: &Client, ids: &[String], seconds: u32) -> anyhow::Result<f64> {
    let bodies: Vec<serde_json::Value> = if ids.is_empty() {
        vec![json!({ "query": FLOOR })]
    } else {
        ids.iter()
            .map(|id| json!({ "query": LOOKUP, "variables": { "id": id } }))
            .collect()
    };
    let http = reqwest::Client::new();
    let url = format!("{}/graphql", client.base());
    let token = client.token().context("a token")?;
    for body in bodies.iter().take(3) {
        let answer: serde_json::Value = http
            .post(&url)
            .bearer_auth(token)
            .json(body)
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(
            answer["errors"].is_null() && !answer["data"].is_null(),
            "{answer}"
        );
    }
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("lookups.lua");
    let quoted: Vec<String> = bodies
        .iter()
        .map(|b| format!("{:?}", b.to_string()))
        .collect();
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\n\
             wrk.headers[\"Content-Type\"] = \"application/json\"\n\
             local bodies = {{ {} }}\n\
             local i = 0\n\
             request = function()\n  i = i + 1\n  \
             return wrk.format(nil, nil, nil, bodies[(i % #bodies) + 1])\nend\n",
            quoted.join(", ")
        ),
    )?;
    let auth = [format!("Authorization: Bearer {token}")];
    let run = wrk::run(&url, CONCURRENCY as u32, seconds, &auth, Some(&script)).await?;
    anyhow::ensure!(run.errors == 0, "wrk saw {} errors", run.errors);
    Ok(run.requests_per_s)
}

/// Apps named `{prefix}-{n}` of `client`'s user, from `repo`, settled (their build fails at
/// once); their ids and versions.
async fn failed_apps(
    client: &Client,
    repo: &std::path::Path,
    prefix: &str,
    count: usize,
) -> anyhow::Result<(Vec<String>, Vec<i64>)> {
    let mut ids = Vec::new();
    for n in 0..count {
        let d = client
            .data(
                "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { application { id } } }",
                json!({ "i": { "name": format!("{prefix}-{n}"), "repository": { "url": file_url(repo) } } }),
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
        versions.push(settle(client, id).await?);
    }
    Ok((ids, versions))
}

/// Waits until the app's build failed (every app here fails at once); returns its version.
async fn settle(client: &Client, id: &str) -> anyhow::Result<i64> {
    let deadline = Instant::now() + SETTLE_WITHIN;
    loop {
        anyhow::ensure!(
            Instant::now() < deadline,
            "app {id} did not settle within {SETTLE_WITHIN:?}"
        );
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
    let alice_uncached =
        Client::new(&uncached.url, alice.token().map(str::to_owned)).with_router(uncached.router);

    // Apps whose build fails at once (no language), so every status change is the worker's.
    let repo = git_repo(&[("README.md", "docs only\n")])?;
    let mut report = Report::new("cache_and_events");
    let (apps, rounds, event_rounds) = (
        samples(APPS, 4),
        samples(ROUNDS, 2),
        samples(EVENT_ROUNDS, 2),
    );
    let (ids, mut versions) = failed_apps(&alice, repo.path(), "bench", apps).await?;
    let seconds = if quick() { 1 } else { LOOKUP_SECONDS };

    // 1. Lookups with wrk: the embedded defaults (SQLite, the in-process cache) against the
    // floor of the same server; then PostgreSQL + Redis, cache hot against cache off,
    // alternated.
    let embedded = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let bob = embedded.user("bob").await?;
    let (bobs, _) = failed_apps(&bob, repo.path(), "embedded", apps).await?;
    wrk_lookups(&bob, &bobs, 1).await?;
    let (mut local, mut floor) = (Samples::default(), Samples::default());
    for _ in 0..rounds {
        local.push(wrk_lookups(&bob, &bobs, seconds).await?);
        floor.push(wrk_lookups(&bob, &[], seconds).await?);
    }
    drop(embedded);
    println!(
        "application(id) lookups/s, embedded defaults: {local}; floor {{ __typename }}: {floor}"
    );
    report.add(
        Row::of(
            "`application(id)` lookups, 16 connections (wrk), embedded defaults (SQLite, in-process cache)",
            "/s",
            &local,
        )
        .against("`{ __typename }` on the same server (HTTP, auth, GraphQL)", floor.median())
        .target("≥ 25 000/s"),
    );

    wrk_lookups(&alice, &ids, 1).await?;
    wrk_lookups(&alice_uncached, &ids, 1).await?;
    let (mut hot, mut off, mut redis_floor) =
        (Samples::default(), Samples::default(), Samples::default());
    for round in 0..rounds {
        if round % 2 == 0 {
            hot.push(wrk_lookups(&alice, &ids, seconds).await?);
            off.push(wrk_lookups(&alice_uncached, &ids, seconds).await?);
        } else {
            off.push(wrk_lookups(&alice_uncached, &ids, seconds).await?);
            hot.push(wrk_lookups(&alice, &ids, seconds).await?);
        }
        redis_floor.push(wrk_lookups(&alice, &[], seconds).await?);
    }
    println!("application(id) lookups/s, Redis cache hot ({rounds} rounds): {hot}");
    println!("application(id) lookups/s, cache off ({rounds} rounds):       {off}");
    println!(
        "cache speed-up (medians): {:.2}x",
        hot.median() / off.median()
    );
    report.add(
        Row::of(
            "`application(id)` lookups, 16 connections (wrk), PostgreSQL + Redis, cache hot",
            "/s",
            &hot,
        )
        .against("cache off (`--no-cache`)", off.median())
        .target("≥ 20 000/s; hot/cold ≥ 4"),
    );
    report.add(
        Row::of(
            "`{ __typename }`, 16 connections (wrk), PostgreSQL + Redis (the token known to the process after its first request)",
            "/s",
            &redis_floor,
        )
        .against("the lookups above", hot.median()),
    );

    // 2. Worker status change → websocket subscriber on the API process.
    let mut latencies = Samples::default();
    let mut failed = 0usize;
    for _ in 0..event_rounds {
        let (got, missing) = event_round(&alice, &ids, &mut versions).await?;
        for ms in got {
            latencies.push(ms);
        }
        failed += missing;
    }
    println!(
        "worker status change → websocket on another process (ms): {latencies}; \
         subscriptions ended early: {failed}"
    );
    report.add(
        Row::new(
            "status change in a worker → websocket on another process, p99",
            "ms",
            latencies.percentile(0.99),
        )
        .with_samples(&latencies)
        .target("p99 ≤ 20 over ≥ 1 000"),
    );
    anyhow::ensure!(
        failed == 0,
        "{failed} subscriptions ended before their events"
    );

    // 3. Redis killed under a `serve` of its own, against the cache off.
    let mut private = PrivateRedis::start().await?;
    let (private_url, private_prefix) = (private.url(), unique_prefix());
    let private_env = [
        ("REDIS_URL", private_url.as_str()),
        ("PAAS_REDIS_PREFIX", private_prefix.as_str()),
    ];
    let outage =
        TestServer::spawn_in(dir.path(), &database_url, &["--no-worker"], &private_env).await?;
    let alice_outage =
        Client::new(&outage.url, alice.token().map(str::to_owned)).with_router(outage.router);
    sequential(&alice_outage).await?;
    private.kill().await?;
    let down = sequential(&alice_outage).await?;
    let off = sequential(&alice_uncached).await?;
    println!("applications(first: 10), Redis killed (ms, {OUTAGE_QUERIES} sequential): {down}");
    println!("applications(first: 10), cache off (ms, {OUTAGE_QUERIES} sequential):    {off}");
    println!(
        "Redis down / cache off (medians): {:.2}x (target: at most 2x)",
        down.median() / off.median()
    );
    report.add(
        Row::of(
            "`applications(first: 10)` with Redis killed, one after another",
            "ms",
            &down,
        )
        .against("cache off (`--no-cache`)", off.median())
        .target("≤ 2× cache off"),
    );
    Ok(())
}

/// `OUTAGE_QUERIES` list queries one after another: each one's time in milliseconds.
async fn sequential(client: &Client) -> anyhow::Result<Samples> {
    let mut took = Samples::default();
    for _ in 0..OUTAGE_QUERIES {
        let started = Instant::now();
        client.data(LIST, json!({})).await?;
        took.push_duration(started.elapsed());
    }
    Ok(took)
}

/// Redeploys every app once and collects the latency of its two worker-made status changes
/// (BUILDING, FAILED); returns them and how many subscriptions ended before both arrived.
async fn event_round(
    alice: &Client,
    ids: &[String],
    versions: &mut [i64],
) -> anyhow::Result<(Vec<f64>, usize)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Option<f64>>();
    let mut subs = Vec::new();
    for (id, version) in ids.iter().zip(versions.iter()) {
        let mut sub = alice
            .subscribe(
                "subscription($id: ID!, $v: Int) { applicationStatus(id: $id, afterVersion: $v) { status at } }",
                json!({ "id": id, "v": version }),
            )
            .await?;
        let tx = tx.clone();
        subs.push(tokio::spawn(async move {
            let mut seen = 0;
            while seen < 2 {
                let Ok(msg) = sub.next(Duration::from_secs(60)).await else {
                    let _ = tx.send(None);
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
                    seen += 1;
                    let ms = (received - at).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                    let _ = tx.send(Some(ms));
                }
            }
        }));
    }
    drop(tx);
    for id in ids {
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
    for (v, id) in versions.iter_mut().zip(ids) {
        *v = settle(alice, id).await?;
    }
    let (mut got, mut missing) = (Vec::new(), 0);
    while let Some(m) = rx.recv().await {
        match m {
            Some(ms) => got.push(ms),
            None => missing += 1,
        }
    }
    Ok((got, missing))
}
