//! The server itself, measured (a benchmark, not a test: it prints numbers for README.md):
//! 1. `paas serve` on SQLite from its start to `/healthz` answering 200, `STARTS` times;
//! 2. its resident memory idle (after the starts), in kB from `/proc`;
//! 3. with `APPS` apps of one user inserted through the store (not deployed): a page of 50
//!    through GraphQL from the first, a middle and the last cursor, and `nameAvailable`, each
//!    `LOOKUPS` times (median); the resident memory after that;
//! 4. on a fresh server, `SUBSCRIBED_APPS` apps inserted through the store and `SUBSCRIBERS`
//!    open `applicationStatus` subscriptions (one websocket each): its resident memory;
//! 5. on a fresh server, `AT_ONCE` apps with a trivial build (a Python file) created at once
//!    against one app alone: the time from the first `createApplication` to every app
//!    `RUNNING`, `AT_ONCE_ROUNDS` rounds of each, alternated; the ratio of the medians says how
//!    far the locks and queues serialise deploys beyond what the cores force.
//!
//! ```text
//! cargo build --release -p paas-graphql && cargo bench -p paas-tests --bench platform
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::Utc;
use paas_core::model::{
    AppId, AppName, Application, Branch, Deployment, GitUrl, NewApplication, SourcePolicy, UserId,
};
use paas_core::store::AppStore;
use paas_core::store::sql::SqlStore;
use paas_tests::bench::{Report, Row, Samples, samples};
use paas_tests::repo::file_url;
use paas_tests::{Client, TestDb, TestServer, eventually, git_repo};
use serde_json::json;

const STARTS: usize = 20;
const APPS: usize = 10_000;
const LOOKUPS: usize = 200;
const SUBSCRIBED_APPS: usize = 1_000;
const SUBSCRIBERS: usize = 100;
const AT_ONCE: usize = 20;
const AT_ONCE_ROUNDS: usize = 5;
/// How long a round of deploys may take before the bench gives up.
const RUNNING_WITHIN: Duration = Duration::from_secs(120);
const STATUSES: &str = "{ applications(first: 100) { nodes { id status } } }";
const PAGE: &str = "query($after: String) {
  applications(first: 50, after: $after) { pageInfo { endCursor hasNextPage } nodes { id name status } }
}";

/// Resident memory of a process, in MB.
fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    Ok(kb / 1024.0)
}

async fn start_to_healthz() -> anyhow::Result<Samples> {
    let http = reqwest::Client::new();
    let mut times = Samples::default();
    for _ in 0..samples(STARTS, 3) {
        let t = Instant::now();
        let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
        loop {
            let ok = http
                .get(format!("{}/healthz", server.url))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200);
            if ok {
                break;
            }
            anyhow::ensure!(t.elapsed() < Duration::from_secs(30), "no /healthz 200");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        times.push_duration(t.elapsed());
    }
    Ok(times)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut report = Report::new("platform");
    let starts = start_to_healthz().await?;
    report
        .add(Row::of("`paas serve` start → `/healthz` 200, SQLite", "ms", &starts).target("≤ 200"));

    let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let pid = server.pid().context("pid")?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.add(Row::new("resident memory, idle", "MB", rss_mb(pid)?).target("≤ 60"));

    let alice = server.user("alice").await?;
    let apps = samples(APPS, 1_000);
    insert_apps(&server, &alice, apps).await?;
    // Every cursor, walking the pages once.
    let mut cursors: Vec<Option<String>> = vec![None];
    loop {
        let page = alice
            .data(PAGE, json!({ "after": cursors.last().cloned().flatten() }))
            .await?;
        let info = &page["applications"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        cursors.push(info["endCursor"].as_str().map(str::to_owned));
    }
    anyhow::ensure!(
        cursors.len() == apps.div_ceil(50),
        "{} pages",
        cursors.len()
    );
    let lookups = samples(LOOKUPS, 10);
    for (which, cursor) in [
        ("first", cursors[0].clone()),
        ("middle", cursors[cursors.len() / 2].clone()),
        ("last", cursors[cursors.len() - 1].clone()),
    ] {
        let mut times = Samples::default();
        for _ in 0..lookups {
            let t = Instant::now();
            alice.data(PAGE, json!({ "after": cursor })).await?;
            times.push_duration(t.elapsed());
        }
        report.add(
            Row::of(
                format!("page of 50 of {apps} apps through GraphQL, {which} cursor"),
                "ms",
                &times,
            )
            .target("≤ 5"),
        );
    }
    let mut times = Samples::default();
    for i in 0..lookups {
        let t = Instant::now();
        alice
            .data(
                "query($n: String!) { nameAvailable(name: $n) }",
                json!({ "n": format!("free-{i}") }),
            )
            .await?;
        times.push_duration(t.elapsed());
    }
    report.add(Row::of("`nameAvailable` through GraphQL", "ms", &times).target("≤ 1"));
    report.add(Row::new(
        format!("resident memory with {apps} apps"),
        "MB",
        rss_mb(pid)?,
    ));
    drop(server);

    subscribed_memory(&mut report).await?;
    at_once(&mut report).await?;
    Ok(())
}

/// Inserts `count` apps of `client`'s user through the store, as a server's own would (not
/// deployed).
async fn insert_apps(server: &TestServer, client: &Client, count: usize) -> anyhow::Result<()> {
    let me = client.data("{ me { id } }", json!({})).await?;
    let owner: UserId = me["me"]["id"].as_str().context("id")?.parse()?;
    let store = Arc::new(
        SqlStore::connect(
            &server.database_url,
            paas_core::secrets::Keyring::load(&server.data_dir, None, &[])?,
        )
        .await?,
    );
    let url = GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?;
    let branch = Branch::parse("main")?;
    for i in 0..count {
        let dep = Deployment::queued(AppId::new(), None, Utc::now());
        let new = NewApplication::new(AppName::parse(&format!("app-{i:05}"))?, url.clone());
        let app = Application::pending(owner, new, branch.clone(), &dep);
        store.create_app(&app, &dep).await?;
    }
    Ok(())
}

/// Resident memory of a server holding `SUBSCRIBED_APPS` apps with `SUBSCRIBERS` status
/// subscriptions open on them.
async fn subscribed_memory(report: &mut Report) -> anyhow::Result<()> {
    let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let pid = server.pid().context("pid")?;
    let alice = server.user("alice").await?;
    let (apps, subscribers) = (samples(SUBSCRIBED_APPS, 100), samples(SUBSCRIBERS, 10));
    insert_apps(&server, &alice, apps).await?;
    let page = alice
        .data(
            "query($n: Int) { applications(first: $n) { nodes { id } } }",
            json!({ "n": subscribers }),
        )
        .await?;
    let ids: Vec<String> = page["applications"]["nodes"]
        .as_array()
        .context("nodes")?
        .iter()
        .filter_map(|n| n["id"].as_str().map(str::to_owned))
        .collect();
    anyhow::ensure!(ids.len() == subscribers, "{} apps listed", ids.len());
    let mut open = Vec::new();
    for id in &ids {
        let mut sub = alice
            .subscribe(
                "subscription($id: ID!) { applicationStatus(id: $id) { status } }",
                json!({ "id": id }),
            )
            .await?;
        // The current status comes first: the subscription is live once it has arrived.
        sub.next(Duration::from_secs(10)).await?;
        open.push(sub);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    report.add(Row::new(
        format!("resident memory with {apps} apps and {subscribers} status subscriptions"),
        "MB",
        rss_mb(pid)?,
    ));
    drop(open);
    Ok(())
}

/// Creates `count` apps at once from `repo`; returns the time until every one is `RUNNING`.
async fn deploy_at_once(
    client: &Client,
    repo: &str,
    round: usize,
    count: usize,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let creates = (0..count).map(|i| {
        client.data(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { application { id } } }",
            json!({ "i": { "name": format!("r{round}-{count}-{i}"), "repository": { "url": repo } } }),
        )
    });
    let mut ids = Vec::new();
    for created in futures::future::join_all(creates).await {
        let created = created?;
        let id = created["createApplication"]["application"]["id"]
            .as_str()
            .context("id")?;
        ids.push(id.to_owned());
    }
    loop {
        anyhow::ensure!(
            started.elapsed() < RUNNING_WITHIN,
            "round {round}: not every app RUNNING within {RUNNING_WITHIN:?}"
        );
        let page = client.data(STATUSES, json!({})).await?;
        let nodes = page["applications"]["nodes"].as_array().context("nodes")?;
        let mut running = 0;
        for node in nodes
            .iter()
            .filter(|n| ids.iter().any(|id| n["id"] == **id))
        {
            match node["status"].as_str() {
                Some("RUNNING") => running += 1,
                Some("FAILED") => anyhow::bail!("round {round}: {node}"),
                _ => {}
            }
        }
        if running == ids.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let took = started.elapsed();
    for id in &ids {
        client
            .data(
                "mutation($id: ID!) { deleteApplication(id: $id) }",
                json!({ "id": id }),
            )
            .await?;
    }
    // Deleted apps leave the list once their processes are stopped: the next round starts on
    // an idle server. (Not timed: the wait for `RUNNING` above polls finer than `eventually`.)
    eventually(RUNNING_WITHIN, || async {
        let page = client.data(STATUSES, json!({})).await?;
        Ok(page["applications"]["nodes"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(()))
    })
    .await
    .with_context(|| format!("round {round}: apps not deleted"))?;
    Ok(took)
}

/// `AT_ONCE` apps created together against one alone, alternated.
async fn at_once(report: &mut Report) -> anyhow::Result<()> {
    let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &paas_tests::apps::hello())])?;
    let url = file_url(repo.path());
    let (count, rounds) = (samples(AT_ONCE, 4), samples(AT_ONCE_ROUNDS, 1));
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // One of each first, not counted: the first build of a runtime warms caches.
    deploy_at_once(&alice, &url, 0, 1).await?;
    let (mut one, mut many) = (Samples::default(), Samples::default());
    for round in 1..=rounds {
        if round % 2 == 0 {
            many.push_duration(deploy_at_once(&alice, &url, round, count).await?);
            one.push_duration(deploy_at_once(&alice, &url, round, 1).await?);
        } else {
            one.push_duration(deploy_at_once(&alice, &url, round, 1).await?);
            many.push_duration(deploy_at_once(&alice, &url, round, count).await?);
        }
    }
    println!("one app → RUNNING (ms): {one}");
    println!("{count} apps at once → all RUNNING (ms): {many}");
    report.add(
        Row::of(
            format!("{count} apps created at once → all `RUNNING`, local processes"),
            "ms",
            &many,
        )
        .against("one app alone", one.median())
        // Deploys entirely bound by CPU would take `count / cores` times one; one after
        // another, `count` times.
        .target(format!("≤ {}", count.div_ceil(cores))),
    );
    Ok(())
}
