//! The server itself, measured (a benchmark, not a test: it prints numbers for README.md):
//! 1. `paas serve` on SQLite from its start to `/healthz` answering 200, `STARTS` times;
//! 2. its resident memory idle (after the starts), in kB from `/proc`;
//! 3. with `APPS` apps of one user inserted through the store (not deployed): a page of 50
//!    through GraphQL from the first, a middle and the last cursor, and `nameAvailable`, each
//!    `LOOKUPS` times (median); the resident memory after that.
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
use paas_tests::{TestDb, TestServer};
use serde_json::json;

const STARTS: usize = 20;
const APPS: usize = 10_000;
const LOOKUPS: usize = 200;
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
    let me = alice.data("{ me { id } }", json!({})).await?;
    let owner: UserId = me["me"]["id"].as_str().context("id")?.parse()?;
    let store = Arc::new(
        SqlStore::connect(
            &server.database_url,
            paas_core::secrets::Keyring::load(&server.data_dir, None, &[])?,
        )
        .await?,
    );
    let apps = samples(APPS, 1_000);
    let url = GitUrl::parse("https://example.com/r.git", SourcePolicy::default())?;
    let branch = Branch::parse("main")?;
    for i in 0..apps {
        let dep = Deployment::queued(AppId::new(), None, Utc::now());
        let new = NewApplication::new(AppName::parse(&format!("app-{i:05}"))?, url.clone());
        let app = Application::pending(owner, new, branch.clone(), &dep);
        store.create_app(&app, &dep).await?;
    }
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
    Ok(())
}
