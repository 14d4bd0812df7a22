//! The router, measured against the backend alone and against nginx (a benchmark, not a test: it
//! prints numbers for README.md).
//!
//! 1. Throughput and latency: one small fast backend (`bench-backend`, hyper) is deployed as an
//!    app through GraphQL on a real `paas serve`; `wrk` loads (a) the backend directly, (b) the
//!    paas router (`Host: bench.localhost`), (c) nginx as a keep-alive reverse proxy to the same
//!    backend process, at 16 and 64 connections, `SECONDS` s each, after a short warm-up of
//!    each. Printed: requests/s, p50, p99, the router/nginx throughput ratio and the p99 each
//!    proxy adds over the direct one.
//! 2. Replicas: requests/s through the router (64 connections) to the app with 1 replica, then
//!    with 3 (`scaling.minInstances`), and the ratio.
//! 3. Switching: `REDEPLOYS` redeploys (each of a new commit) while a client sends requests through the router back to
//!    back; for each, the time from the new deployment's `startedAt` (written as it goes live) to
//!    the first answer from the new version; and the requests that failed meanwhile.
//!
//! Needs `nginx` and `wrk` (`scripts/bench-deps.sh` installs them on Debian); everything runs on
//! this machine at once, so the figures are comparable with each other, not with other machines.
//!
//! ```text
//! cargo build --release -p paas-graphql && cargo bench -p paas-tests --bench router
//! ```

mod nginx;
mod platform;

use paas_tests::bench::{Report, Row, Samples};
use paas_tests::wrk;

const SECONDS: u32 = 10;
/// Seconds per run in a quick run.
const QUICK_SECONDS: u32 = 2;
const WARM_UP: u32 = 2;
const CONNECTIONS: [u32; 2] = [16, 64];
const REDEPLOYS: u32 = 6;

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// wrk on `addr` with `Host: bench.localhost` (the same bytes for all three targets).
async fn wrk(addr: &str, connections: u32, seconds: u32) -> anyhow::Result<wrk::Run> {
    let host = [format!("Host: {}", platform::HOST)];
    wrk::run(
        &format!("http://{addr}/"),
        connections,
        seconds,
        &host,
        None,
    )
    .await
}

fn row(name: &str, r: &wrk::Run) {
    println!(
        "  {name:<8} {:>10.0} req/s  p50 {:>6.3} ms  p99 {:>6.3} ms  ({} requests, {} errors)",
        r.requests_per_s, r.p50_ms, r.p99_ms, r.requests, r.errors
    );
}

fn seconds() -> u32 {
    if paas_tests::bench::quick() {
        QUICK_SECONDS
    } else {
        SECONDS
    }
}

async fn throughput(paas: &platform::Paas, report: &mut Report) -> anyhow::Result<()> {
    let direct = paas.instance_addr().await?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let nginx = nginx::Nginx::start(&direct, cores).await?;
    let targets = [
        ("direct", direct.as_str()),
        ("router", paas.router.as_str()),
        ("nginx", nginx.addr.as_str()),
    ];
    for (_, addr) in targets {
        wrk(addr, 16, WARM_UP).await?;
    }
    println!(
        "{cores} cores, nginx with {cores} workers; wrk -t2 --latency, {} s per run",
        seconds()
    );
    for connections in CONNECTIONS {
        println!(
            "{connections} connections (load average before: {}):",
            load()
        );
        let mut runs = Vec::new();
        for (name, addr) in targets {
            let r = wrk(addr, connections, seconds()).await?;
            row(name, &r);
            runs.push(r);
        }
        let [d, r, n] = [&runs[0], &runs[1], &runs[2]];
        report.add(
            Row::new(
                format!("router: requests/s, {connections} connections"),
                "/s",
                r.requests_per_s,
            )
            .against("nginx", n.requests_per_s)
            .target("≥ 1 × nginx"),
        );
        report.add(
            Row::new(
                format!("router: added p50 over direct, {connections} connections"),
                "ms",
                r.p50_ms - d.p50_ms,
            )
            .against("nginx's", n.p50_ms - d.p50_ms),
        );
        println!(
            "  router/nginx throughput {:.3}; router/direct {:.3}; nginx/direct {:.3}",
            r.requests_per_s / n.requests_per_s,
            r.requests_per_s / d.requests_per_s,
            n.requests_per_s / d.requests_per_s
        );
        println!(
            "  added p99 over direct: router {:.3} ms, nginx {:.3} ms; added p50: router {:.3} \
             ms, nginx {:.3} ms",
            r.p99_ms - d.p99_ms,
            n.p99_ms - d.p99_ms,
            r.p50_ms - d.p50_ms,
            n.p50_ms - d.p50_ms
        );
    }
    Ok(())
}

/// Requests/s through the router to the app with 1 replica, then with 3 (each the same small
/// backend; the router balances by least outstanding requests).
async fn replicas(paas: &platform::Paas, id: &str, report: &mut Report) -> anyhow::Result<()> {
    let connections = 64;
    println!(
        "replicas: wrk through the router, {connections} connections, {} s per run:",
        seconds()
    );
    let mut rates = Vec::new();
    for n in [1, 3] {
        paas.replicas(id, n).await?;
        wrk(&paas.router, 16, WARM_UP).await?;
        let r = wrk(&paas.router, connections, seconds()).await?;
        row(&format!("{n} repl."), &r);
        rates.push(r.requests_per_s);
    }
    println!(
        "  3 replicas / 1 replica throughput {:.3}",
        rates[1] / rates[0]
    );
    report.add(
        Row::new(
            "router: requests/s to 3 replicas, 64 connections",
            "/s",
            rates[1],
        )
        .against("1 replica", rates[0]),
    );
    paas.replicas(id, 1).await
}

async fn switching(
    paas: &platform::Paas,
    id: &str,
    repo: &tempfile::TempDir,
    report: &mut Report,
) -> anyhow::Result<()> {
    let redeploys = paas_tests::bench::samples(REDEPLOYS as usize, 2) as u32;
    let (samples, sent, failed): (Samples, u64, u64) =
        paas.went_live_to_first_request(id, repo, redeploys).await?;
    println!(
        "went live (deployment startedAt) → first answer of the new version through the router \
         (ms): {samples}"
    );
    println!("  {sent} requests sent back to back across {redeploys} redeploys, {failed} failed");
    report.add(
        Row::of(
            "redeploy: went live → first answer of the new version through the router",
            "ms",
            &samples,
        )
        .against("requests failed meanwhile", failed as f64),
    );
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    for tool in ["nginx", "wrk"] {
        if which(tool).is_none() {
            anyhow::bail!(
                "{tool} is missing: run scripts/bench-deps.sh (apt-get install nginx wrk)"
            );
        }
    }
    let paas = platform::Paas::start().await?;
    let repo = platform::backend_repo()?;
    let id = paas.deploy_backend(&repo).await?;
    let mut report = Report::new("router");
    throughput(&paas, &mut report).await?;
    replicas(&paas, &id, &mut report).await?;
    switching(&paas, &id, &repo, &mut report).await?;
    Ok(())
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}
