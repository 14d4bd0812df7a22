//! The platform's own overhead on a deploy, on Podman: the time from `createApplication` to the
//! app's first HTTP answer, against raw `podman build` + `podman run` + first HTTP answer of the
//! same app with the same Containerfile, alternated in one run. Prints the medians and their
//! ratio (target: under 1.10).
//!
//! ```text
//! scripts/setup-podman.sh && cargo build --release -p paas-graphql \
//!   && cargo bench -p paas-tests --bench podman_deploy_overhead
//! ```

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use paas_tests::podman::{Cleanup, serve_args};
use paas_tests::repo::file_url;
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

const ROUNDS: usize = 5;

const APP: &str = r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.HTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"#;

/// What paas generates for this app (checked against the real one below).
const CONTAINERFILE: &str = "FROM localhost/paas-python:latest\nWORKDIR /app\nCOPY --chown=10001 . /app\n\
RUN if [ -f requirements.txt ]; then python3 -m pip install --no-cache-dir -r requirements.txt; fi\n\
ENV PORT=8080\nEXPOSE 8080\nUSER 10001\nCMD [\"/bin/sh\", \"-c\", \"exec python3 app.py\"]\n";

async fn first_answer(url: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(url).send().await
            && r.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("{url} never answered");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn podman(args: &[&str]) -> anyhow::Result<String> {
    paas_tests::podman::cli(args).await
}

/// Raw Podman: build, run with a published port, first answer.
async fn raw(dir: &std::path::Path, n: usize) -> anyhow::Result<Duration> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let tag = format!("localhost/bench-raw:{n}");
    let started = Instant::now();
    podman(&[
        "build",
        "-q",
        "-f",
        "Containerfile.bench",
        "-t",
        &tag,
        &dir.display().to_string(),
    ])
    .await?;
    let id = podman(&[
        "run",
        "-d",
        "--init",
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        "-e",
        "PORT=8080",
        &tag,
    ])
    .await?;
    first_answer(&format!("http://127.0.0.1:{port}/")).await?;
    let took = started.elapsed();
    podman(&["rm", "-f", id.trim()]).await?;
    podman(&["rmi", "-f", &tag]).await?;
    Ok(took)
}

/// The platform: createApplication, then the first answer at the endpoint it reports.
async fn platform(
    client: &paas_tests::Client,
    url: &str,
    n: usize,
    cleanup: &Cleanup,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let created = client
        .data(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { application { id } } }",
            json!({ "i": { "name": format!("bench-{n}"), "repository": { "url": url } } }),
        )
        .await?;
    let id = created["createApplication"]["application"]["id"]
        .as_str()
        .context("no id")?
        .to_owned();
    cleanup.track(&id);
    let mut sub = client
        .subscribe(
            "subscription($id: ID!) { applicationStatus(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    loop {
        let msg = sub.next(Duration::from_secs(120)).await?;
        match msg["data"]["applicationStatus"]["status"].as_str() {
            Some("RUNNING") => break,
            Some("FAILED") => bail!("the app failed"),
            _ => {}
        }
    }
    let app = client
        .data(
            "query($id: ID!) { application(id: $id) { endpoint { url } } }",
            json!({ "id": id }),
        )
        .await?;
    first_answer(
        app["application"]["endpoint"]["url"]
            .as_str()
            .context("no endpoint")?,
    )
    .await?;
    let took = started.elapsed();
    client
        .data(
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    Ok(took)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", APP), ("Containerfile.bench", CONTAINERFILE)])?;
    let args = serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::spawn(TestDb::Sqlite, &args).await?;
    let client = server.user("bench").await?;
    let cleanup = Cleanup::default();
    let url = file_url(repo.path());

    // One warm-up of each, so neither side pays for cold caches.
    raw(repo.path(), 0).await?;
    platform(&client, &url, 0, &cleanup).await?;
    let (mut raws, mut ours) = (Vec::new(), Vec::new());
    for n in 1..=ROUNDS {
        raws.push(raw(repo.path(), n).await?);
        ours.push(platform(&client, &url, n, &cleanup).await?);
    }
    let (r, p) = (median(raws), median(ours));
    println!(
        "raw podman build + run + first answer: {:>7.1} ms (median of {ROUNDS})",
        r.as_secs_f64() * 1e3
    );
    println!(
        "paas createApplication → first answer: {:>7.1} ms (median of {ROUNDS})",
        p.as_secs_f64() * 1e3
    );
    println!(
        "overhead ratio: {:.3} (target < 1.10)",
        p.as_secs_f64() / r.as_secs_f64()
    );
    Ok(())
}
