//! Logs, measured (a benchmark, not a test: it prints numbers for README.md):
//! 1. the latency of a line from the app's `print` to a websocket subscriber of
//!    `Subscription.logs`: `TICKS` lines printed 5 ms apart, each with its time;
//! 2. lines per second from an app's stdout to a websocket subscriber of `Subscription.logs`
//!    (one message a line) and of `Subscription.logBatches` (the lines ready together in one
//!    message): a local-process app prints `LINES` lines as fast as it can, the subscriber
//!    (subscribed before) counts them until the last one;
//!    Lines delivered and lines reported lagged (`LogsLagged` markers: the client was slower than
//!    the app) are counted and printed apart, each with its own rate;
//! 3. the time to fetch a page of 1,000 lines of one app at two log sizes (100,000 and
//!    1,000,000 lines), on SQLite and on PostgreSQL: `PAGES` pages from different places, each
//!    read once, so no figure is a hot cache read again.
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
use paas_tests::bench::{Report, Row, Samples, quick, samples};
use paas_tests::repo::file_url;
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

const LINES: usize = 200_000;
/// Lines printed one at a time (5 ms apart) for the latency from print to subscriber.
const TICKS: usize = 1_000;
/// Log sizes the page time is measured at: if it does not grow with the log, both say so.
const SIZES: [usize; 2] = [100_000, 1_000_000];
const BATCH: usize = 5_000;
/// Pages fetched per size, each from a different place.
const PAGES: usize = 200;
const POSITION_EVERY: usize = 500;

/// Serves; on `GET /go` prints `LINES` numbered lines as fast as it can.
const FLOOD_APP: &str = r#"import http.server, os, sys, time
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
        if self.path == "/tick":
            for i in range(int(os.environ["TICKS"])):
                sys.stdout.write("tick %d\n" % time.time_ns())
                sys.stdout.flush()
                time.sleep(0.005)
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

const FOLLOW_BATCHES: &str = "subscription($app: ID!, $from: String) {
  logBatches(appId: $app, streams: [STDOUT], from: $from) {
    lagged { skipped }
    lines { text }
  }
}";

async fn lines_per_second(report: &mut Report) -> anyhow::Result<()> {
    let (lines, ticks) = (samples(LINES, 20_000), samples(TICKS, 100));
    let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", FLOOD_APP)])?;
    let created = alice
        .data(
            "mutation($input: CreateApplicationInput!) {
               createApplication(input: $input) { application { id } } }",
            json!({ "input": { "name": "flood", "repository": { "url": file_url(repo.path()) },
                               "env": [{ "key": "LINES", "value": lines.to_string() },
                                       { "key": "TICKS", "value": ticks.to_string() }] } }),
        )
        .await?;
    let id = created["createApplication"]["application"]["id"]
        .as_str()
        .context("id")?
        .to_owned();
    let url = loop {
        let d = alice
            .data(
                "query($id: ID!) { application(id: $id) { status instances { host port } } }",
                json!({ "id": id }),
            )
            .await?;
        match d["application"]["status"].as_str() {
            Some("RUNNING") => {
                // The instance itself: the bench measures the log path, not the router.
                let instance = &d["application"]["instances"][0];
                break format!(
                    "http://{}:{}",
                    instance["host"].as_str().context("host")?,
                    instance["port"]
                );
            }
            Some("FAILED") => anyhow::bail!("the app failed: {d}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    // Latency: lines printed one by one, each with the time it was printed.
    let now = LogTime::now().to_string();
    let mut sub = alice
        .subscribe(FOLLOW, json!({ "app": id, "from": now }))
        .await?;
    reqwest::get(format!("{url}/tick"))
        .await?
        .error_for_status()?;
    let mut latency = Samples::default();
    while latency.len() < ticks {
        let item = sub.next(Duration::from_secs(60)).await?;
        let received = LogTime::now().nanos();
        let item = &item["data"]["logs"];
        let printed: i64 = item["text"]
            .as_str()
            .and_then(|t| t.strip_prefix("tick "))
            .context("a tick line")?
            .parse()?;
        latency.push((received - printed) as f64 / 1e6);
    }
    drop(sub);
    println!("print → subscriber (ms): {latency}");
    report.add(
        Row::of(
            "log line: print → `Subscription.logs` subscriber, p50",
            "ms",
            &latency,
        )
        .target("p50 ≤ 50, p99 ≤ 200"),
    );

    // Throughput: a flood, to a subscriber of each subscription.
    for batched in [false, true] {
        flood(report, &alice, &id, &url, lines, batched).await?;
    }
    Ok(())
}

/// The app prints `lines` lines as fast as it can; a subscriber of `logs` (one message a line)
/// or `logBatches` (the lines ready together in one message) counts them.
async fn flood(
    report: &mut Report,
    alice: &paas_tests::Client,
    id: &str,
    url: &str,
    lines: usize,
    batched: bool,
) -> anyhow::Result<()> {
    let (query, field, path) = if batched {
        (FOLLOW_BATCHES, "logBatches", "`logBatches`")
    } else {
        (FOLLOW, "logs", "`logs`")
    };
    let now = LogTime::now().to_string();
    let mut sub = alice
        .subscribe(query, json!({ "app": id, "from": now }))
        .await?;
    let started = Instant::now();
    reqwest::get(format!("{url}/go"))
        .await?
        .error_for_status()?;
    let (mut got, mut skipped) = (0usize, 0u64);
    let mut first: Option<Duration> = None;
    while got + (skipped as usize) < lines {
        let item = sub.next(Duration::from_secs(60)).await?;
        let item = &item["data"][field];
        first.get_or_insert_with(|| started.elapsed());
        if batched {
            got += item["lines"].as_array().map_or(0, Vec::len);
            skipped += item["lagged"]["skipped"].as_u64().unwrap_or(0);
        } else {
            match item["__typename"].as_str() {
                Some("LogLine") => got += 1,
                _ => skipped += item["skipped"].as_u64().unwrap_or(0),
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let first_ms = first.unwrap_or_default().as_secs_f64() * 1000.0;
    println!(
        "stdout → websocket ({path}): {lines} lines stored and accounted for in {elapsed:.2} s \
         ({:.0} lines/s); first line after {first_ms:.0} ms",
        lines as f64 / elapsed,
    );
    println!(
        "  delivered as lines: {got} ({:.0} lines/s); reported lagged: {skipped} ({:.0} lines/s, \
         {:.1}% of all)",
        got as f64 / elapsed,
        skipped as f64 / elapsed,
        skipped as f64 * 100.0 / lines as f64
    );
    report.add(
        Row::new(
            format!("log flood of {lines} lines to {path}: stored and accounted for"),
            "lines/s",
            lines as f64 / elapsed,
        )
        .target("≥ 150 000"),
    );
    report.add(
        Row::new(
            format!("log flood to {path}: delivered as lines"),
            "lines/s",
            got as f64 / elapsed,
        )
        .target("≥ 150 000"),
    );
    report.add(
        Row::new(
            format!("log flood to {path}: lines reported lagged (counted, readable with `logs`)"),
            "lines",
            skipped as f64,
        )
        .target("0"),
    );
    report.add(Row::new(
        format!("log flood to {path}: first line after the request"),
        "ms",
        first_ms,
    ));
    Ok(())
}

/// Fills a fresh store with `lines` lines of one app; returns the store, the app and the time of
/// every `POSITION_EVERY`th line (where pages are fetched from).
async fn filled(db: TestDb, lines: usize) -> anyhow::Result<(Filled, Duration)> {
    let dir = tempfile::tempdir()?;
    let url = db.url(dir.path()).await?;
    let store = Arc::new(SqlStore::connect(&url, paas_core::secrets::Keyring::ephemeral()).await?);
    store.migrate().await?;
    let app = AppId::new();
    let started = Instant::now();
    let mut positions = Vec::new();
    for b in 0..lines / BATCH {
        let batch: Vec<NewLine> = (0..BATCH)
            .map(|i| {
                NewLine::new(
                    LogStream::Stdout,
                    None,
                    format!("line {} of the log, with some text", b * BATCH + i),
                )
            })
            .collect();
        let stored = store.append_logs(app, &batch, None).await?;
        positions.extend(
            stored
                .iter()
                .step_by(POSITION_EVERY)
                .map(|l| (l.at, l.text.clone())),
        );
    }
    Ok((
        Filled {
            _db: url,
            _dir: dir,
            store,
            app,
            positions,
        },
        started.elapsed(),
    ))
}

struct Filled {
    _db: paas_tests::TestDatabase,
    _dir: tempfile::TempDir,
    store: Arc<SqlStore>,
    app: AppId,
    /// (time, text) of every `POSITION_EVERY`th line.
    positions: Vec<(LogTime, String)>,
}

/// Pages of 1,000 lines from `PAGES` different places in the middle 80% of the log, each
/// fetched once (a page read twice would come from a hot cache), in a shuffled order.
async fn pages(f: &Filled) -> anyhow::Result<Samples> {
    let n = f.positions.len();
    let middle = &f.positions[n / 10..n - n / 10];
    let pages = samples(PAGES, 10);
    let step = (middle.len() / pages).max(1);
    let mut picks: Vec<&(LogTime, String)> = middle.iter().step_by(step).take(pages).collect();
    // A fixed shuffle (an LCG), so runs compare, and neighbours are not read one after another.
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..picks.len()).rev() {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        picks.swap(i, (seed >> 33) as usize % (i + 1));
    }
    let mut times = Samples::default();
    for (at, text) in picks {
        let mut q = LogQuery::app(f.app).with_limit(Some(1000))?;
        q.from = Some(*at);
        let t = Instant::now();
        let page = f.store.read_logs(&q).await?;
        times.push_duration(t.elapsed());
        anyhow::ensure!(page.len() == 1000, "a full page");
        anyhow::ensure!(&page[0].text == text, "{} != {text}", page[0].text);
    }
    Ok(times)
}

async fn page_time_by_log_size(db: TestDb, report: &mut Report) -> anyhow::Result<()> {
    let sizes = if quick() {
        vec![10_000]
    } else {
        SIZES.to_vec()
    };
    for lines in sizes {
        let (f, fill) = filled(db, lines).await?;
        let times = pages(&f).await?;
        report.add(Row::of(
            format!("log page of 1000 lines, {db:?}, {lines} lines stored"),
            "ms",
            &times,
        ));
        println!(
            "{db:?}: page of 1000 lines, {lines} lines stored (ms): {times} \
             (filled in {:.1} s)",
            fill.as_secs_f64()
        );
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut report = Report::new("logs");
    lines_per_second(&mut report).await?;
    page_time_by_log_size(TestDb::Sqlite, &mut report).await?;
    page_time_by_log_size(TestDb::Postgres, &mut report).await?;
    Ok(())
}
