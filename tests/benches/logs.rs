//! Logs, measured (a benchmark, not a test: it prints numbers for README.md):
//! 1. lines per second from an app's stdout to a websocket subscriber of `Subscription.logs`:
//!    a local-process app prints `LINES` lines as fast as it can, the subscriber (subscribed
//!    before) counts them until the last one;
//! 2. the time to fetch a page of 1,000 lines from the middle of 1,000,000 stored lines of one
//!    app, on SQLite and on PostgreSQL (median of `FETCHES`).
//!
//! ```text
//! cargo build --release -p paas-graphql && cargo bench -p paas-tests --bench logs
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use paas_core::logs::{LogQuery, LogStore, LogStream, LogTime, NewLine};
use paas_core::model::AppId;
use paas_core::store::sql::SqlStore;
use paas_tests::repo::file_url;
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

const LINES: usize = 200_000;
const STORED: usize = 1_000_000;
const BATCH: usize = 5_000;
const FETCHES: usize = 25;

/// Serves; on `GET /go` prints `LINES` numbered lines as fast as it can.
const FLOOD_APP: &str = r#"import http.server, os, sys
N = int(os.environ["LINES"])
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
        if self.path == "/go":
            out = sys.stdout
            for i in range(N):
                out.write("line %d of the flood, some text to make it a realistic length\n" % i)
            out.flush()
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"#;

const FOLLOW: &str = "subscription($app: ID!, $from: String) {
  logs(appId: $app, streams: [STDOUT], from: $from) {
    __typename
    ... on LogLine { text }
    ... on LogsLagged { skipped }
  }
}";

async fn lines_per_second() -> anyhow::Result<()> {
    let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", FLOOD_APP)])?;
    let created = alice
        .data(
            "mutation($input: CreateApplicationInput!) {
               createApplication(input: $input) { application { id } } }",
            json!({ "input": { "name": "flood", "repository": { "url": file_url(repo.path()) },
                               "env": [{ "key": "LINES", "value": LINES.to_string() }] } }),
        )
        .await?;
    let id = created["createApplication"]["application"]["id"]
        .as_str()
        .context("id")?
        .to_owned();
    let url = loop {
        let d = alice
            .data(
                "query($id: ID!) { application(id: $id) { status endpoint { url } } }",
                json!({ "id": id }),
            )
            .await?;
        match d["application"]["status"].as_str() {
            Some("RUNNING") => {
                break d["application"]["endpoint"]["url"]
                    .as_str()
                    .context("url")?
                    .to_owned();
            }
            Some("FAILED") => anyhow::bail!("the app failed: {d}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let now = LogTime::now().to_string();
    let mut sub = alice
        .subscribe(FOLLOW, json!({ "app": id, "from": now }))
        .await?;
    let started = Instant::now();
    reqwest::get(format!("{url}/go"))
        .await?
        .error_for_status()?;
    let (mut got, mut skipped) = (0usize, 0u64);
    let mut first: Option<Duration> = None;
    while got + (skipped as usize) < LINES {
        let item = sub.next(Duration::from_secs(60)).await?;
        let item = &item["data"]["logs"];
        first.get_or_insert_with(|| started.elapsed());
        match item["__typename"].as_str() {
            Some("LogLine") => got += 1,
            _ => skipped += item["skipped"].as_u64().unwrap_or(0),
        }
    }
    let elapsed = started.elapsed();
    println!(
        "stdout → websocket: {LINES} lines in {:.2} s = {:.0} lines/s delivered \
         ({got} lines, {skipped} reported lagged; first line after {:.0} ms)",
        elapsed.as_secs_f64(),
        got as f64 / elapsed.as_secs_f64(),
        first.unwrap_or_default().as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn page_from_the_middle(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let store = Arc::new(
        SqlStore::connect(
            &db.url(dir.path()).await?,
            paas_core::secrets::Keyring::ephemeral(),
        )
        .await?,
    );
    store.migrate().await?;
    let app = AppId::new();
    let filled = Instant::now();
    let mut middle = None;
    for b in 0..STORED / BATCH {
        let lines: Vec<NewLine> = (0..BATCH)
            .map(|i| {
                NewLine::new(
                    LogStream::Stdout,
                    None,
                    format!("line {} of a million, with some text", b * BATCH + i),
                )
            })
            .collect();
        let stored = store.append_logs(app, &lines, None).await?;
        if b == STORED / BATCH / 2 {
            middle = stored.first().map(|l| l.at);
        }
    }
    let fill = filled.elapsed();
    let mut q = LogQuery::app(app).with_limit(Some(1000))?;
    q.from = middle;
    let mut times = Vec::with_capacity(FETCHES);
    for _ in 0..FETCHES {
        let t = Instant::now();
        let page = store.read_logs(&q).await?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(page.len() == 1000, "a full page");
        anyhow::ensure!(page[0].text.starts_with("line 500000 "), "{}", page[0].text);
    }
    times.sort_by(f64::total_cmp);
    println!(
        "{db:?}: page of 1000 from the middle of {STORED} lines: median {:.2} ms, max {:.2} ms \
         (filled in {:.1} s)",
        times[times.len() / 2],
        times[times.len() - 1],
        fill.as_secs_f64()
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    lines_per_second().await?;
    page_from_the_middle(TestDb::Sqlite).await?;
    page_from_the_middle(TestDb::Postgres).await?;
    Ok(())
}
