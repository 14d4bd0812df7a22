//! The platform's own overhead on a deploy, on Podman. One side is paas: `createApplication` of a
//! git repository → the app's first HTTP answer at the URL paas reports, through its router
//! (clone, queue, status writes, build, start, start check included). The other side is the floor: the same
//! libpod calls made directly on the same socket (build from the same context with the same
//! Containerfile and labels, create with the same container spec, start) → first HTTP answer.
//!
//! Layer caching is the same on both sides: every round changes a file of the build context
//! (a new commit for paas, the same file written for the floor), so the `COPY` layer and every
//! step after it are rebuilt by both, and the base image layers are cached for both. Rounds
//! alternate which side goes first. Prints min, median and max of each side and the ratio of the
//! medians (target ≤ 1.15).
//!
//! ```text
//! scripts/setup-podman.sh && cargo build --release -p paas-graphql \
//!   && cargo bench -p paas-tests --bench podman_deploy_overhead
//! ```

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use paas_core::model::Language;
use paas_runner::podman::BaseImages;
use paas_runner::podman::containerfile;
use paas_tests::bench::{CONTAINER_PORT, Samples, start_plain_container};
use paas_tests::podman::{Cleanup, serve_args};
use paas_tests::repo::{commit, file_url};
use paas_tests::{TestDb, TestServer, git_repo};
use podman_api::opts::ImageBuildOpts;
use serde_json::json;

/// Rounds per side after one warm-up of each.
const ROUNDS: usize = 12;
/// The port paas gives a container when the app names none.
/// The file every round changes, so both sides rebuild from the `COPY` step on.
const ROUND_FILE: &str = "round.txt";

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

async fn first_answer(url: &str, router: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    let http = match router {
        Some(router) => paas_tests::router::client_for(router, url)?,
        None => reqwest::Client::new(),
    };
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

/// The floor: build, create, start through libpod directly; then the first answer.
async fn direct(podman: &podman_api::Podman, dir: &Path, n: usize) -> anyhow::Result<Duration> {
    std::fs::write(dir.join(ROUND_FILE), format!("direct {n}\n"))?;
    // Where paas publishes: its own range, outside the kernel's ephemeral one.
    let port = paas_runner::podman::PortRange::default().free_on("127.0.0.1")?;
    let tag = format!("localhost/bench-direct:{n}");
    let name = format!("bench-direct-{n}-{}", std::process::id());
    let started = Instant::now();
    let opts = ImageBuildOpts::builder(dir.display().to_string())
        .dockerfile("Containerfile.direct")
        .tag(&tag)
        .labels([
            ("paas.app", "bench"),
            ("paas.deployment", "bench"),
            ("paas.commit", "bench"),
        ])
        .remove(true)
        .force_rm(true)
        .build();
    let images = podman.images();
    let mut stream = images.build(&opts)?;
    while let Some(chunk) = stream.next().await {
        chunk?;
    }
    drop(stream);
    let id = start_plain_container(podman, &tag, &name, port).await?;
    first_answer(&format!("http://127.0.0.1:{port}/"), None).await?;
    let took = started.elapsed();
    podman.containers().get(&id).remove().await?;
    images.get(&tag).remove().await?;
    Ok(took)
}

/// paas: a new commit, `createApplication`, then the first answer at the endpoint it reports.
async fn platform(
    client: &paas_tests::Client,
    repo: &Path,
    n: usize,
    cleanup: &Cleanup,
) -> anyhow::Result<Duration> {
    let git = git2::Repository::open(repo)?;
    commit(&git, repo, &[(ROUND_FILE, &format!("paas {n}\n"))], "round")?;
    let started = Instant::now();
    let created = client
        .data(
            "mutation($i: CreateApplicationInput!) { createApplication(input: $i) { application { id } } }",
            json!({ "i": { "name": format!("bench-{n}"), "repository": { "url": file_url(repo) } } }),
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
    // The stable URL, through the router.
    first_answer(
        app["application"]["endpoint"]["url"]
            .as_str()
            .context("no endpoint")?,
        client.router(),
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

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", APP), (ROUND_FILE, "start\n")])?;
    // The floor builds the very Containerfile paas generates for this app.
    let images = BaseImages {
        python: "localhost/paas-python:latest".into(),
        static_site: "localhost/busybox:latest".into(),
        ..BaseImages::default()
    };
    let direct_dir = tempfile::tempdir()?;
    std::fs::write(direct_dir.path().join("app.py"), APP)?;
    let text = containerfile::generate(
        Language::Python,
        &images,
        direct_dir.path(),
        CONTAINER_PORT,
        None,
    )?
    .context("paas generates a Containerfile for a Python app")?;
    std::fs::write(direct_dir.path().join("Containerfile.direct"), text)?;
    let podman = podman_api::Podman::unix(paas_tests::podman::socket());

    let args = serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::spawn(TestDb::Sqlite, &args).await?;
    let client = server.user("bench").await?;
    let cleanup = Cleanup::default();

    // One warm-up of each, so neither side pays for cold caches.
    direct(&podman, direct_dir.path(), 0).await?;
    platform(&client, repo.path(), 0, &cleanup).await?;
    let (mut floor, mut ours) = (Samples::default(), Samples::default());
    for n in 1..=paas_tests::bench::samples(ROUNDS, 2) {
        if n % 2 == 0 {
            floor.push_duration(direct(&podman, direct_dir.path(), n).await?);
            ours.push_duration(platform(&client, repo.path(), n, &cleanup).await?);
        } else {
            ours.push_duration(platform(&client, repo.path(), n, &cleanup).await?);
            floor.push_duration(direct(&podman, direct_dir.path(), n).await?);
        }
    }
    println!("libpod build + create + start → first answer (ms): {floor}");
    println!("paas createApplication → first answer (ms):        {ours}");
    println!(
        "overhead ratio of medians: {:.3} (target ≤ 1.15); of minimums: {:.3}",
        ours.median() / floor.median(),
        ours.min() / floor.min()
    );
    paas_tests::bench::Report::new("podman_deploy_overhead").add(
        paas_tests::bench::Row::of("Podman: `createApplication` → first answer", "ms", &ours)
            .against("floor: libpod build + create + start", floor.median())
            .target("ratio ≤ 1.15"),
    );
    Ok(())
}
