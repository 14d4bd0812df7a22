//! Cold start: what waking a sleeping app adds to the app's own start. A benchmark, not a test:
//! it prints numbers for README.md.
//!
//! One side is paas: the example Python app (`examples/apps/hello-python`) deployed with
//! `minInstances: 0, idleSeconds: 1` on a real `paas serve` (release build, SQLite), left to
//! fall asleep; then one `GET` through the router, timed from the request until the first byte
//! of the answer (its head). The platform's work is all in it: the hold, the wake under the
//! app's lock, the `SCALE` task and status writes, the start of a new instance (a process, or a
//! container from the image the app slept with), the readiness probe, the route switch, the
//! forwarding. The other side is a plain start of the same app, measured in the same run:
//! spawning `/usr/bin/python3 app.py` with a clean environment (local processes: the
//! interpreter an app's own user reaches; `COLD_START_PYTHON` names another), or a libpod create + start of a container of the
//! same image with the same port mapping (Podman), then polling its port every millisecond
//! until it accepts and sending the same `GET` → first byte. Rounds alternate which side goes
//! first. Printed: min, median and max of each side, the added time (difference of the
//! medians) and the ratio of the medians (target: ≤ 50 ms added).
//!
//! ```text
//! scripts/setup-podman.sh && cargo build --release -p paas-graphql \
//!   && cargo bench -p paas-tests --bench cold_start
//! ```
//! Set `COLD_START_RUNTIMES=local` to skip Podman, `COLD_START_ROUNDS=20` for more rounds.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use paas_tests::bench::{Samples, start_plain_container};
use paas_tests::podman::{Cleanup, images_of, serve_args};
use paas_tests::repo::file_url;
use paas_tests::{Client, TestDb, TestServer, eventually, git_repo};
use serde_json::json;

/// Rounds per side after one warm-up of each (`COLD_START_ROUNDS` sets another count).
const ROUNDS: usize = 10;
/// The port paas gives a container when the app names none.
/// Sleep after a second without a request; the scaler looks every 100 ms.
const QUICK: &[&str] = &["--scaling-min-idle-seconds", "1", "--scale-every-ms", "100"];

const SHOW: &str = "query($id: ID!) {
  application(id: $id) { status tasks { kind state } }
}";

/// The example app's source.
fn example() -> anyhow::Result<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/apps/hello-python/app.py");
    Ok(std::fs::read_to_string(path)?)
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Polls `port` every millisecond until it accepts, then `GET /` with `http` → its head.
async fn first_byte_when_up(http: &reqwest::Client, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!("port {port} never accepted");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let res = http.get(format!("http://127.0.0.1:{port}/")).send().await?;
    anyhow::ensure!(res.status().is_success(), "{}", res.status());
    Ok(())
}

/// The plain start of a process: `python3 app.py` → first byte.
async fn spawn_process(dir: &Path) -> anyhow::Result<Duration> {
    let port = free_port()?;
    let http = reqwest::Client::new();
    let started = Instant::now();
    let python = std::env::var("COLD_START_PYTHON").unwrap_or_else(|_| "/usr/bin/python3".into());
    let mut child = tokio::process::Command::new(python)
        .arg("app.py")
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("PORT", port.to_string())
        .kill_on_drop(true)
        .spawn()?;
    first_byte_when_up(&http, port).await?;
    let took = started.elapsed();
    child.kill().await?;
    Ok(took)
}

/// The plain start of a container: libpod create + start of `image` → first byte.
async fn start_container(
    podman: &podman_api::Podman,
    image: &str,
    n: usize,
) -> anyhow::Result<Duration> {
    // Where paas publishes: its own range, outside the kernel's ephemeral one.
    let port = paas_runner::podman::PortRange::default().free_on("127.0.0.1")?;
    let name = format!("bench-cold-{n}-{}", std::process::id());
    let http = reqwest::Client::new();
    let started = Instant::now();
    let id = start_plain_container(podman, image, &name, port).await?;
    first_byte_when_up(&http, port).await?;
    let took = started.elapsed();
    podman.containers().get(&id).remove().await?;
    Ok(took)
}

/// Waits until the app sleeps, its sleep done (no `SCALE` task running).
async fn asleep(client: &Client, id: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(60), || async {
        let app = &client.data(SHOW, json!({ "id": id })).await?["application"];
        let busy = app["tasks"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["state"] == "RUNNING"));
        Ok((app["status"] == "SLEEPING" && !busy).then_some(()))
    })
    .await
}

/// paas: the app asleep, one `GET` through the router → first byte.
async fn wake(client: &Client, id: &str, url: &str) -> anyhow::Result<Duration> {
    asleep(client, id).await?;
    let router = client.router().context("no router")?;
    let http = paas_tests::router::client_for(router, url)?;
    let started = Instant::now();
    let res = http.get(url).send().await?;
    let took = started.elapsed();
    anyhow::ensure!(res.status().is_success(), "{}", res.status());
    Ok(took)
}

/// One runtime: a server, the example app deployed asleep, then the rounds.
async fn measure(podman: bool) -> anyhow::Result<()> {
    let source = example()?;
    let mut args: Vec<String> = if podman { serve_args() } else { Vec::new() };
    args.extend(QUICK.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestServer::spawn(TestDb::Sqlite, &args).await?;
    let client = server.user("bench").await?;
    let cleanup = Cleanup::default();
    let repo = git_repo(&[("app.py", &source)])?;
    let input = json!({
        "name": "cold",
        "repository": { "url": file_url(repo.path()) },
        "scaling": { "minInstances": 0, "idleSeconds": 1 },
    });
    let id = paas_tests::steps::create(&client, input).await?;
    if podman {
        cleanup.track(&id);
    }
    let seen = paas_tests::steps::statuses_until_settled(&client, &id).await?;
    anyhow::ensure!(
        seen.last().map(String::as_str) == Some("RUNNING"),
        "{seen:?}"
    );
    let url = paas_tests::router::app_url(client.router().context("no router")?, "cold");

    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("app.py"), &source)?;
    let api = podman_api::Podman::unix(paas_tests::podman::socket());
    let image = if podman {
        images_of(&id)
            .await?
            .into_iter()
            .next()
            .context("no image")?
    } else {
        String::new()
    };
    let plain = async |n: usize| {
        if podman {
            start_container(&api, &image, n).await
        } else {
            spawn_process(dir.path()).await
        }
    };

    // One warm-up of each.
    plain(0).await?;
    wake(&client, &id, &url).await?;
    let (mut floor, mut ours) = (Samples::default(), Samples::default());
    let rounds = std::env::var("COLD_START_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(paas_tests::bench::samples(ROUNDS, 2));
    for n in 1..=rounds {
        if n % 2 == 0 {
            floor.push_duration(plain(n).await?);
            ours.push_duration(wake(&client, &id, &url).await?);
        } else {
            ours.push_duration(wake(&client, &id, &url).await?);
            floor.push_duration(plain(n).await?);
        }
    }
    let (runtime, how) = if podman {
        ("Podman", "libpod create + start")
    } else {
        ("local processes", "spawn /usr/bin/python3")
    };
    println!("{runtime}:");
    println!("  plain start ({how}) → first byte (ms): {floor}");
    println!("  paas wake: request to a sleeping app → first byte (ms): {ours}");
    println!(
        "  added by paas (medians): {:.1} ms (target ≤ 50 ms); ratio of medians {:.3}; of \
         minimums {:.3}",
        ours.median() - floor.median(),
        ours.median() / floor.median(),
        ours.min() / floor.min()
    );
    paas_tests::bench::Report::new("cold_start").add(
        paas_tests::bench::Row::of(
            format!("cold start ({runtime}): request to a sleeping app → first byte"),
            "ms",
            &ours,
        )
        .against(format!("plain start ({how})"), floor.median())
        .target("added ≤ 50 ms"),
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let runtimes = std::env::var("COLD_START_RUNTIMES").unwrap_or_else(|_| "local,podman".into());
    for runtime in runtimes.split(',') {
        match runtime.trim() {
            "local" => measure(false).await?,
            "podman" => measure(true).await?,
            other => bail!("unknown runtime {other:?} (local, podman)"),
        }
    }
    Ok(())
}
