//! `wrk` runs (for the benches) and what they print: requests/s and the p50/p99 of its latency
//! distribution (`--latency`), plus any error it reports (a run with errors is reported, not
//! hidden). `scripts/bench-deps.sh` installs wrk.

use std::path::Path;

use anyhow::{Context, bail};
use tokio::process::Command;

/// One wrk run's figures.
#[derive(Clone, Debug)]
pub struct Run {
    pub requests_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub requests: u64,
    /// Non-2xx answers plus socket errors (connect, read, write, timeout).
    pub errors: u64,
}

/// `wrk --latency` on `url` with `connections` connections (2 threads) for `seconds`, every
/// request with `headers`, and the requests `script` (a Lua file) makes when given.
pub async fn run(
    url: &str,
    connections: u32,
    seconds: u32,
    headers: &[String],
    script: Option<&Path>,
) -> anyhow::Result<Run> {
    let mut cmd = Command::new("wrk");
    cmd.args(["-t2", "--latency"])
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"));
    for h in headers {
        cmd.arg("-H").arg(h);
    }
    if let Some(script) = script {
        cmd.arg("-s").arg(script);
    }
    let out = cmd
        .arg(url)
        .output()
        .await
        .context("running wrk (scripts/bench-deps.sh installs it)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&out.stderr));
    }
    parse(&text).with_context(|| format!("reading wrk's output:\n{text}"))
}

fn parse(text: &str) -> anyhow::Result<Run> {
    let mut run = Run {
        requests_per_s: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        errors: 0,
    };
    for line in text.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["50%", v] => run.p50_ms = millis(v)?,
            ["99%", v] => run.p99_ms = millis(v)?,
            ["Requests/sec:", v] => run.requests_per_s = v.parse()?,
            [n, "requests", "in", ..] => run.requests = n.parse()?,
            ["Non-2xx", "or", "3xx", "responses:", n] => run.errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                for n in rest.iter().skip(1).step_by(2) {
                    run.errors += n.trim_end_matches(',').parse::<u64>()?;
                }
            }
            _ => {}
        }
    }
    if run.requests_per_s.is_nan() || run.p50_ms.is_nan() || run.p99_ms.is_nan() {
        bail!("no Requests/sec or latency distribution");
    }
    Ok(run)
}

/// wrk's `123.45us`, `1.23ms`, `1.00s` in milliseconds.
fn millis(v: &str) -> anyhow::Result<f64> {
    let (number, factor) = if let Some(n) = v.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = v.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = v.strip_suffix('s') {
        (n, 1e3)
    } else {
        bail!("no unit in {v:?}")
    };
    Ok(number.parse::<f64>()? * factor)
}
