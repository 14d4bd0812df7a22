//! Logs as a user reads them: pages without a line twice, the tail first, the HTTP endpoint
//! with `X-Last-Log-Nano`, live subscriptions started mid-stream, build logs that end with the
//! build. Who may read them: `log_access`.

use std::time::Duration;

use paas_tests::apps::{BROKEN_BUILD, PythonApp};
use paas_tests::repo::file_url;
use paas_tests::steps::{BUILD_LOGS, FOLLOW, FOLLOW_BATCHES, app, create, deployed, page};
use paas_tests::{Client, TestApp, TestDb, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;
use paas_tests::eventually;

/// Prints `line 0` … `line 2999` on stdout, 500 lines per write (so many lines are read in one
/// go and share their read time), one line on stderr, then serves.
fn numbered_app() -> String {
    PythonApp::new()
        .prelude(
            "batch = []\nfor i in range(3000):\n    batch.append(\"line %d\" % i)\n    if len(batch) == 500:\n        sys.stdout.write(\"\\n\".join(batch) + \"\\n\")\n        sys.stdout.flush()\n        batch = []\nsys.stderr.write(\"stderr says hi\\n\")\nsys.stderr.flush()",
        )
        .body("\"ok\"")
        .source()
}
const LINES: usize = 3000;

/// Serves, and prints `tick <n>` every 20 ms.
fn ticking_app() -> String {
    PythonApp::new()
        .body("\"ok\"")
        .then("i = 0\nwhile True:\n    print(\"tick %d\" % i, flush=True)\n    i += 1\n    time.sleep(0.02)")
        .source()
}

fn texts(page: &Value) -> Vec<String> {
    page["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| l["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Every line of `streams`, paged with the `from` + `lastNano` protocol.
async fn all_lines(
    client: &Client,
    app: &str,
    streams: Value,
    limit: i64,
    dir: &str,
) -> anyhow::Result<Vec<Value>> {
    let mut cursor = Value::Null;
    let mut all = Vec::new();
    loop {
        let p = page(
            client,
            json!({ "app": app, "streams": streams, "limit": limit, "dir": dir,
                    "from": cursor, "last": cursor }),
        )
        .await?;
        let lines = p["lines"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(lines.len() as i64 <= limit, "a page over its limit");
        if lines.is_empty() {
            anyhow::ensure!(p["lastNano"] == cursor, "an empty page keeps the cursor");
            return Ok(all);
        }
        anyhow::ensure!(
            p["lastNano"] == lines[lines.len() - 1]["timestamp"],
            "lastNano is the last line's timestamp: {p}"
        );
        cursor = p["lastNano"].clone();
        all.extend(lines);
    }
}

fn numbers(lines: &[Value], prefix: &str) -> Vec<usize> {
    lines
        .iter()
        .filter_map(|l| l["text"].as_str()?.strip_prefix(prefix)?.parse().ok())
        .collect()
}

async fn running_app(client: &Client, name: &str, code: &str) -> anyhow::Result<(String, Value)> {
    let (_repo, id) = deployed(client, name, &[("app.py", code)]).await?;
    Ok((id.clone(), app(client, &id).await?))
}

async fn numbered_lines_are_paged_exactly_once(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (id, shown) = running_app(&alice, "numbers", &numbered_app()).await?;
    let dep = shown["deployments"][0]["id"].clone();

    // The tail first: the newest stdout line, once the app has written them all.
    let newest = eventually(Duration::from_secs(30), || async {
        let p = page(
            &alice,
            json!({ "app": id, "streams": ["STDOUT"], "limit": 1, "dir": "BACKWARD" }),
        )
        .await?;
        let t = texts(&p);
        Ok((t == [format!("line {}", LINES - 1)]).then_some(p))
    })
    .await?;
    assert_eq!(newest["lines"][0]["stream"], "STDOUT");
    assert_eq!(newest["lines"][0]["deployment"], dep);

    // Small pages forward: every number once, in order, timestamps strictly increasing.
    let forward = all_lines(&alice, &id, json!(["STDOUT"]), 37, "FORWARD").await?;
    assert_eq!(numbers(&forward, "line "), (0..LINES).collect::<Vec<_>>());
    let stamps: Vec<&str> = forward
        .iter()
        .filter_map(|l| l["timestamp"].as_str())
        .collect();
    assert!(
        stamps.windows(2).all(|w| w[0] < w[1]),
        "timestamps strictly increase"
    );
    // Whole writes were read at once, so many lines had one read time: still all distinct.
    let seconds: std::collections::BTreeSet<&str> = stamps.iter().map(|s| &s[..19]).collect();
    assert!(seconds.len() < LINES / 10, "lines were stamped in bursts");

    // Backward from the newest line: the same lines, newest first.
    let backward = all_lines(&alice, &id, json!(["STDOUT"]), 50, "BACKWARD").await?;
    let mut down = numbers(&backward, "line ");
    down.reverse();
    assert_eq!(down, (0..LINES).collect::<Vec<_>>());

    // Filters: stderr alone, the platform's own lines, one deployment.
    let stderr = page(&alice, json!({ "app": id, "streams": ["STDERR"] })).await?;
    assert_eq!(texts(&stderr), ["stderr says hi"]);
    let system = texts(&page(&alice, json!({ "app": id, "streams": ["SYSTEM"] })).await?);
    for expected in ["status PENDING", "status BUILDING", "status RUNNING"] {
        assert!(system.iter().any(|t| t.starts_with(expected)), "{system:?}");
    }
    assert!(system.iter().any(|t| t.contains("started")), "{system:?}");
    let build = texts(
        &page(
            &alice,
            json!({ "app": id, "streams": ["BUILD"], "dep": dep }),
        )
        .await?,
    );
    assert!(
        build.iter().any(|t| t.starts_with("cloning file://")),
        "{build:?}"
    );

    // The HTTP endpoint, paged with the X-Last-Log-Nano header.
    let http = reqwest::Client::new();
    let token = alice.token().unwrap_or_default().to_owned();
    let mut from: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let mut req = http
            .get(format!("{}/apps/{id}/logs", alice.base()))
            .query(&[("limit", "200")])
            .bearer_auth(&token);
        if let Some(f) = &from {
            req = req
                .query(&[("from", f.as_str())])
                .header("X-Last-Log-Nano", f.as_str());
        }
        let resp = req.send().await?;
        assert_eq!(resp.status(), 200);
        let last = resp
            .headers()
            .get("x-last-log-nano")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let lines: Vec<Value> = resp.json().await?;
        if lines.is_empty() {
            assert_eq!(last, from, "an empty page keeps the cursor");
            break;
        }
        assert_eq!(
            last.as_deref(),
            lines[lines.len() - 1]["timestamp"].as_str()
        );
        from = last;
        seen.extend(lines);
    }
    let stdout: Vec<Value> = seen
        .iter()
        .filter(|l| l["stream"] == "stdout")
        .cloned()
        .collect();
    assert_eq!(numbers(&stdout, "line "), (0..LINES).collect::<Vec<_>>());
    assert!(seen.iter().any(|l| l["stream"] == "stderr"));
    Ok(())
}
on_both_databases!(numbered_lines_are_paged_exactly_once);

/// Reads `tick` lines from a subscription until `until`; returns their numbers.
async fn ticks_until(
    sub: &mut paas_tests::client::Subscription,
    until: usize,
) -> anyhow::Result<Vec<usize>> {
    let mut got = Vec::new();
    while got.last().is_none_or(|n| *n < until) {
        let item = sub.next(Duration::from_secs(20)).await?;
        let item = &item["data"]["logs"];
        anyhow::ensure!(item["__typename"] == "LogLine", "unexpected {item}");
        let n = item["text"]
            .as_str()
            .and_then(|t| t.strip_prefix("tick "))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("not a tick: {item}"))?;
        got.push(n);
    }
    Ok(got)
}

async fn a_subscription_started_mid_stream_has_no_gap_or_duplicate(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (id, _) = running_app(&alice, "ticker", &ticking_app()).await?;
    let stored = eventually(Duration::from_secs(30), || async {
        let p = page(
            &alice,
            json!({ "app": id, "streams": ["STDOUT"], "limit": 1, "dir": "BACKWARD" }),
        )
        .await?;
        let n: Option<usize> = texts(&p)
            .first()
            .and_then(|t| t.strip_prefix("tick ")?.parse().ok());
        Ok(n.filter(|n| *n >= 20))
    })
    .await?;

    // From the start: the stored ticks, then live ones, each once.
    let mut sub = alice
        .subscribe(FOLLOW, json!({ "app": id, "streams": ["STDOUT"] }))
        .await?;
    let got = ticks_until(&mut sub, stored + 40).await?;
    assert_eq!(got, (0..=stored + 40).collect::<Vec<_>>());

    // From a line in the middle: that line first.
    let first11 = page(
        &alice,
        json!({ "app": id, "streams": ["STDOUT"], "limit": 11 }),
    )
    .await?;
    let from = first11["lines"][10]["timestamp"].clone();
    assert_eq!(first11["lines"][10]["text"], "tick 10");
    let mut sub = alice
        .subscribe(
            FOLLOW,
            json!({ "app": id, "streams": ["STDOUT"], "from": from }),
        )
        .await?;
    let now = got.len() + 10;
    let got = ticks_until(&mut sub, now).await?;
    assert_eq!(got, (10..=now).collect::<Vec<_>>());
    Ok(())
}
on_both_databases!(a_subscription_started_mid_stream_has_no_gap_or_duplicate);

/// Lines of `logBatches` until `line {LINES - 1}`: each line's number, and the size of each
/// batch.
async fn batched_lines(
    sub: &mut paas_tests::client::Subscription,
) -> anyhow::Result<(Vec<usize>, Vec<usize>)> {
    let (mut got, mut sizes) = (Vec::new(), Vec::new());
    while got.last() != Some(&(LINES - 1)) {
        let item = sub.next(Duration::from_secs(20)).await?;
        let batch = &item["data"]["logBatches"];
        anyhow::ensure!(
            batch["lagged"].is_null(),
            "a reader keeping up lags: {item}"
        );
        let lines = batch["lines"].as_array().cloned().unwrap_or_default();
        anyhow::ensure!(!lines.is_empty(), "an empty batch: {item}");
        sizes.push(lines.len());
        got.extend(numbers(&lines, "line "));
    }
    Ok((got, sizes))
}

async fn log_batches_hold_every_line_once_in_order(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (id, _) = running_app(&alice, "batched", &numbered_app()).await?;
    eventually(Duration::from_secs(30), || async {
        let p = page(
            &alice,
            json!({ "app": id, "streams": ["STDOUT"], "limit": 1, "dir": "BACKWARD" }),
        )
        .await?;
        Ok((texts(&p) == [format!("line {}", LINES - 1)]).then_some(()))
    })
    .await?;

    // From the start: every line once, in order, many to a message, none over 1,000.
    let mut sub = alice
        .subscribe(FOLLOW_BATCHES, json!({ "app": id, "streams": ["STDOUT"] }))
        .await?;
    let (got, sizes) = batched_lines(&mut sub).await?;
    assert_eq!(got, (0..LINES).collect::<Vec<_>>());
    assert!(sizes.iter().all(|n| *n <= 1000), "{sizes:?}");
    assert!(
        sizes.len() < LINES / 10,
        "lines ready together share a message: {sizes:?}"
    );

    // From a line's timestamp: that line first, then the rest, each once.
    let from = all_lines(&alice, &id, json!(["STDOUT"]), 1001, "FORWARD").await?[1000]["timestamp"]
        .clone();
    let mut sub = alice
        .subscribe(
            FOLLOW_BATCHES,
            json!({ "app": id, "streams": ["STDOUT"], "from": from }),
        )
        .await?;
    let (got, _) = batched_lines(&mut sub).await?;
    assert_eq!(got, (1000..LINES).collect::<Vec<_>>());
    Ok(())
}
on_both_databases!(log_batches_hold_every_line_once_in_order);

async fn a_failing_build_shows_its_error_and_the_build_log_ends(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(BROKEN_BUILD)?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "broken", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let dep = app(&alice, &id).await?["deployments"][0]["id"].clone();
    let mut sub = alice.subscribe(BUILD_LOGS, json!({ "dep": dep })).await?;
    let mut lines = Vec::new();
    while let Some(item) = sub.next_or_end(Duration::from_secs(120)).await? {
        let item = &item["data"]["buildLogs"];
        lines.push(format!(
            "{} {}",
            item["stream"].as_str().unwrap_or_default(),
            item["text"].as_str().unwrap_or_default()
        ));
    }
    let has = |s: &str| lines.iter().any(|l| l.contains(s));
    assert!(has("BUILD cloning file://"), "{lines:?}");
    assert!(has("BUILD $ npm run build"), "{lines:?}");
    assert!(
        has("BUILD SyntaxError: unexpected token in app.js"),
        "{lines:?}"
    );
    assert!(has("BUILD error: build failed"), "{lines:?}");
    // The build's end is its last line, but for the app's status change it caused.
    let end = lines
        .iter()
        .position(|l| l.starts_with("SYSTEM build failed after 1 attempt(s)"))
        .ok_or_else(|| anyhow::anyhow!("no end: {lines:?}"))?;
    assert!(
        lines[end + 1..].iter().all(|l| !l.starts_with("BUILD")),
        "{lines:?}"
    );
    eventually(Duration::from_secs(20), || async {
        Ok((app(&alice, &id).await?["status"] == "FAILED").then_some(()))
    })
    .await?;

    // A finished build's log replays whole and ends at once.
    let mut again = alice.subscribe(BUILD_LOGS, json!({ "dep": dep })).await?;
    let mut replayed = Vec::new();
    while let Some(item) = again.next_or_end(Duration::from_secs(20)).await? {
        let item = &item["data"]["buildLogs"];
        replayed.push(format!(
            "{} {}",
            item["stream"].as_str().unwrap_or_default(),
            item["text"].as_str().unwrap_or_default()
        ));
    }
    // The same lines, and since then the app's own status change.
    assert_eq!(replayed[..lines.len()], lines[..]);
    assert!(
        replayed[lines.len()..]
            .iter()
            .all(|l| l.starts_with("SYSTEM"))
    );
    Ok(())
}
on_both_databases!(a_failing_build_shows_its_error_and_the_build_log_ends);
