//! Apps built into images and run as Podman containers, through the real binary and the real
//! Podman service (`scripts/setup-podman.sh` sets it up; CI runs it).

use std::time::Duration;

use anyhow::Context;

use paas_tests::apps::{PythonApp, hello, versioned};
use paas_tests::podman::{Cleanup, containers_of, images_of, serve_args};
use paas_tests::repo::{commit, file_url};
use paas_tests::steps::{app, body, create, instance_url, page, statuses_until_settled, texts};
use paas_tests::{Client, TestApp, TestDb, TestServer, eventually, git_repo};
use serde_json::{Value, json};

/// A server on Podman, a user, and the clean-up of what the test deploys (dropped last).
struct Setup {
    alice: Client,
    _server: TestApp,
    cleanup: Cleanup,
}

async fn server() -> anyhow::Result<Setup> {
    server_with(&[]).await
}

/// [`server`] with more flags.
async fn server_with(extra: &[&str]) -> anyhow::Result<Setup> {
    let args = serve_args();
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    args.extend_from_slice(extra);
    let server = TestApp::spawn(TestDb::Sqlite, &args).await?;
    let alice = server.user("alice").await?;
    Ok(Setup {
        alice,
        _server: server,
        cleanup: Cleanup::default(),
    })
}

impl Setup {
    async fn deploy(
        &self,
        name: &str,
        files: &[(&str, &str)],
        extra: Value,
    ) -> anyhow::Result<(tempfile::TempDir, String, Vec<String>)> {
        deploy(&self.alice, &self.cleanup, name, files, extra).await
    }
}

async fn deploy(
    client: &Client,
    cleanup: &Cleanup,
    name: &str,
    files: &[(&str, &str)],
    extra: Value,
) -> anyhow::Result<(tempfile::TempDir, String, Vec<String>)> {
    let repo = git_repo(files)?;
    let mut input = json!({ "name": name, "repository": { "url": file_url(repo.path()) } });
    if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            i.insert(k.clone(), v.clone());
        }
    }
    let id = create(client, input).await?;
    cleanup.track(&id);
    let seen = statuses_until_settled(client, &id).await?;
    Ok((repo, id, seen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_static_and_containerfile_apps_answer() -> anyhow::Result<()> {
    // Published ports come from the range asked for (a hundred ports of the default range,
    // somewhere other tests' servers seldom look at the same moment).
    let first = 20000 + 100 * (std::process::id() % 90) as u16;
    let range = format!("{first}-{}", first + 99);
    let setup = server_with(&["--publish-ports", &range]).await?;
    let in_range = |url: &str| -> anyhow::Result<()> {
        let port = reqwest::Url::parse(url)?.port().context("a port")?;
        anyhow::ensure!(
            (first..=first + 99).contains(&port),
            "{url} is not in {range}"
        );
        Ok(())
    };
    let alice = &setup.alice;
    let (_r1, py, seen) = setup
        .deploy(
            "pod-py",
            &[("app.py", &hello())],
            json!({ "env": [{ "key": "GREETING", "value": "from a container" }] }),
        )
        .await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "STARTING", "RUNNING"]);
    assert_eq!(body(alice, &py).await?, "from a container");
    // Through the router at the stable URL, whose backend is the container's published port.
    let url = app(alice, &py).await?["endpoint"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(url.starts_with("http://pod-py.localhost:"), "{url}");
    let router = alice.router().context("no router")?;
    let (status, text) = paas_tests::router::get(router, &url).await?;
    assert_eq!((status, text.as_str()), (200, "from a container"));
    let published = instance_url(alice, &py).await?;
    in_range(&published)?;
    assert_eq!(
        reqwest::get(&published).await?.text().await?,
        "from a container"
    );

    let (_r2, site, seen) = setup
        .deploy(
            "pod-site",
            &[("index.html", "<h1>static</h1>\n")],
            json!({}),
        )
        .await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    assert_eq!(body(alice, &site).await?, "<h1>static</h1>\n");
    let site_url = instance_url(alice, &site).await?;
    in_range(&site_url)?;
    // The image holds the commit's files, not the repository.
    let git = reqwest::get(format!("{site_url}.git/HEAD")).await?.status();
    assert_eq!(git.as_u16(), 404, "the site serves its .git");

    let containerfile = "FROM localhost/busybox:latest\nRUN mkdir -p /srv && echo own-containerfile > /srv/index.html\n\
                         CMD [\"sh\", \"-c\", \"exec httpd -f -p $PORT -h /srv\"]\n";
    let (_r3, own, seen) = setup
        .deploy(
            "pod-own",
            &[("Containerfile", containerfile)],
            json!({ "port": 9000 }),
        )
        .await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    assert_eq!(body(alice, &own).await?, "own-containerfile\n");

    let shown = app(alice, &py).await?;
    assert_eq!(shown["language"], "PYTHON");
    let log = shown["deployments"][0]["buildLog"]
        .as_str()
        .unwrap_or_default();
    assert!(
        log.contains("USER 10001"),
        "the generated Containerfile runs as non-root: {log}"
    );
    assert_eq!(images_of(py.as_str()).await?.len(), 1);
    let image = &images_of(py.as_str()).await?[0];
    let dep = shown["deployments"][0]["id"].as_str().unwrap_or_default();
    assert_eq!(image, &format!("localhost/paas/pod-py:{dep}"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_build_step_fails_the_app_with_that_step() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let containerfile = "FROM localhost/busybox:latest\nRUN echo compiling && exit 3\n";
    let (_r, id, seen) = setup
        .deploy("pod-broken", &[("Containerfile", containerfile)], json!({}))
        .await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "FAILED"]);
    let shown = app(alice, &id).await?;
    let reason = shown["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("exit 3") || reason.contains("exit status 3"),
        "{reason}"
    );
    assert_eq!(shown["deployments"][0]["buildAttempts"], 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_that_exits_fails_after_three_starts() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let (_r, id, seen) = setup
        .deploy(
            "pod-crash",
            &[("app.py", "import sys\nsys.exit('no config')\n")],
            json!({}),
        )
        .await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "STARTING", "FAILED"]);
    let shown = app(alice, &id).await?;
    let reason = shown["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("after 3 attempts") && reason.contains("no config"),
        "{reason}"
    );
    assert_eq!(shown["deployments"][0]["startAttempts"], 3);
    assert!(
        containers_of(&id).await?.is_empty(),
        "failed starts left containers"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_limit_kills_as_out_of_memory() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let hog = "import os, time\nblob = bytearray(256 * 1024 * 1024)\nfor i in range(0, len(blob), 4096):\n    blob[i] = 1\ntime.sleep(60)\n";
    let (_r, id, seen) = setup
        .deploy(
            "pod-hog",
            &[("app.py", hog)],
            json!({ "resources": { "memoryMb": 48 } }),
        )
        .await?;
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"), "{seen:?}");
    let reason = app(alice, &id).await?["statusReason"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(reason.contains("out-of-memory"), "{reason}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cpu_quota_caps_a_busy_app() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let burner = PythonApp::new()
        .prelude("def burn():\n    while True:\n        pass\nthreading.Thread(target=burn, daemon=True).start()")
        .source();
    let (_r, id, seen) = setup
        .deploy(
            "pod-cpu",
            &[("app.py", &burner)],
            json!({ "resources": { "cpuMillis": 200 } }),
        )
        .await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let stats =
        "query($id: ID!) { application(id: $id) { stats { cpuTotalNanos memoryLimitBytes } } }";
    // Podman takes each sample somewhere between our request and its answer, which a loaded
    // machine can stretch: the CPU rate is known only between the narrowest and the widest
    // window, and each bound is checked on the estimate that is fair to it.
    let sample = || async {
        let before = std::time::Instant::now();
        let s = alice.data(stats, json!({ "id": id })).await?;
        let nanos: u64 = s["application"]["stats"]["cpuTotalNanos"]
            .as_str()
            .unwrap_or("0")
            .parse()?;
        anyhow::Ok((nanos, before, std::time::Instant::now()))
    };
    let (n0, b0, a0) = sample().await?;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let (n1, b1, a1) = sample().await?;
    let used = (n1 - n0) as f64;
    let at_least = used / a1.duration_since(b0).as_nanos() as f64;
    let at_most = used / b1.duration_since(a0).as_nanos() as f64;
    // 200 millicpus is 20 % of a core, whatever the machine does; a free busy loop takes ~100 %.
    assert!(
        at_least <= 0.25,
        "the app used at least {:.0} % of a core under a 20 % quota",
        at_least * 100.0
    );
    assert!(
        at_most >= 0.05,
        "the burner did not run ({:.1} % at most)",
        at_most * 100.0
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redeploy_switches_containers_without_a_failed_request() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let (repo, id, _) = setup
        .deploy(
            "pod-roll",
            &[("app.py", &versioned()), ("version.txt", "v1\n")],
            json!({}),
        )
        .await?;
    let old_containers = containers_of(&id).await?;
    assert_eq!(old_containers.len(), 1);
    let r = git2::Repository::open(repo.path())?;
    commit(&r, repo.path(), &[("version.txt", "v2\n")], "v2")?;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let (alice, id, stop) = (alice.clone(), id.clone(), stop.clone());
        tokio::spawn(async move {
            let (mut bodies, mut failures) = (Vec::new(), Vec::new());
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                match body(&alice, &id).await {
                    Ok(b) => bodies.push(b),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (bodies, failures)
        })
    };
    alice
        .data(
            "mutation($id: ID!) { redeployApplication(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await?;
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let shown = app(alice, &id).await?;
            if shown["deployments"][0]["status"] == "RUNNING" {
                return anyhow::Ok(());
            }
            anyhow::ensure!(shown["deployments"][0]["status"] != "FAILED", "{shown}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await??;
    tokio::time::sleep(Duration::from_secs(7)).await; // past the drain of the old container
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (bodies, failures) = poller.await?;
    assert!(
        failures.is_empty(),
        "requests failed during the switch: {failures:?}"
    );
    assert!(bodies.iter().any(|b| b == "v1") && bodies.iter().any(|b| b == "v2"));
    let now = containers_of(&id).await?;
    assert_eq!(now.len(), 1, "{now:?}");
    assert_ne!(
        now, old_containers,
        "the old container is gone, the new one serves"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_leaves_no_container_and_no_image() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let (_r, id, seen) = setup
        .deploy("pod-gone", &[("app.py", &hello())], json!({}))
        .await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"));
    assert_eq!(containers_of(&id).await?.len(), 1);
    assert_eq!(images_of(&id).await?.len(), 1);
    let del = alice
        .data(
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(del["deleteApplication"], true);
    assert!(
        containers_of(&id).await?.is_empty(),
        "a container was left behind"
    );
    assert!(images_of(&id).await?.is_empty(), "an image was left behind");
    Ok(())
}

/// Prints numbered lines on stdout and one on stderr, then serves.
fn printing_app() -> String {
    PythonApp::new()
        .prelude(
            "for i in range(200):\n    print(\"out %d\" % i)\nsys.stdout.flush()\nprint(\"oops on stderr\", file=sys.stderr, flush=True)",
        )
        // Each request prints a line too.
        .body("(print(\"request \" + self.path, flush=True), \"ok\")[1]")
        .source()
}

const POD_LOGS: &str = "query($app: ID!, $from: String, $last: String) {
  logs(appId: $app, streams: [STDOUT, STDERR], from: $from, lastNano: $last, limit: 50) {
    lines { timestamp stream text } lastNano
  }
}";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_output_is_read_from_podman_into_the_log() -> anyhow::Result<()> {
    let setup = server().await?;
    let alice = &setup.alice;
    let (_r, id, seen) = setup
        .deploy("pod-logs", &[("app.py", &printing_app())], json!({}))
        .await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"));
    // A request while the container runs: its line arrives live, after the start-up lines.
    assert_eq!(body(alice, &id).await?, "ok");
    let lines = paas_tests::eventually(Duration::from_secs(30), || async {
        let mut all: Vec<Value> = Vec::new();
        let mut cursor = Value::Null;
        loop {
            let page = alice
                .data(
                    POD_LOGS,
                    json!({ "app": id, "from": cursor, "last": cursor }),
                )
                .await?["logs"]
                .clone();
            let lines = page["lines"].as_array().cloned().unwrap_or_default();
            if lines.is_empty() {
                break;
            }
            cursor = page["lastNano"].clone();
            all.extend(lines);
        }
        let done = all.iter().any(|l| l["text"] == "request /");
        Ok(done.then_some(all))
    })
    .await?;
    let stdout: Vec<&str> = lines
        .iter()
        .filter(|l| l["stream"] == "STDOUT")
        .filter_map(|l| l["text"].as_str())
        .collect();
    let expected: Vec<String> = (0..200).map(|i| format!("out {i}")).collect();
    assert_eq!(stdout[..200], expected[..], "every line once, in order");
    assert_eq!(stdout[200..], ["request /"]);
    let stderr: Vec<&str> = lines
        .iter()
        .filter(|l| l["stream"] == "STDERR")
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert_eq!(stderr, ["oops on stderr"]);
    // Podman's own timestamps (nanoseconds), made unique: strictly increasing.
    let stamps: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["timestamp"].as_str())
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] < w[1]));
    Ok(())
}

/// `paas serve` stopped gracefully leaves containers running (only local processes stop with
/// the server); the next start adopts them: the same container serves, through the new
/// server's router, none is added, and what it printed while no server ran is in its log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_adopts_the_containers_it_left_running() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = TestDb::Sqlite.url(dir.path()).await?;
    let args = serve_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = TestServer::spawn_in(dir.path(), &url, &args, &[]).await?;
    let alice = server.user("alice").await?;
    let cleanup = Cleanup::default();
    // It prints every path it serves.
    let source = PythonApp::new()
        .body("(print('served ' + self.path, flush=True), 'hello')[1]")
        .source();
    let (_repo, id, seen) = deploy(
        &alice,
        &cleanup,
        "pod-kept",
        &[("app.py", &source)],
        json!({}),
    )
    .await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let before = app(&alice, &id).await?["instances"].clone();
    let published = instance_url(&alice, &id).await?;

    let status = server.stop().await?;
    assert!(status.success(), "paas serve exited with {status}");
    let answer = reqwest::get(format!("{published}while-down")).await?;
    assert_eq!(
        answer.text().await?,
        "hello",
        "the container stopped with the server"
    );

    let server = TestServer::spawn_in(dir.path(), &url, &args, &[]).await?;
    let alice =
        Client::new(&server.url, alice.token().map(str::to_owned)).with_router(server.router);
    reqwest::get(format!("{published}after-restart")).await?;
    // Its output is followed again once recovery has adopted it.
    let texts = eventually(Duration::from_secs(60), || async {
        let lines = page(&alice, json!({ "app": id })).await?["lines"].clone();
        let texts = texts(lines.as_array().map_or(&[], Vec::as_slice));
        Ok(texts
            .iter()
            .any(|t| t == "served /after-restart")
            .then_some(texts))
    })
    .await?;
    assert!(
        texts.iter().any(|t| t == "served /while-down"),
        "a line printed while no server ran was lost: {texts:?}"
    );
    let shown = app(&alice, &id).await?;
    assert_eq!(shown["status"], "RUNNING");
    assert_eq!(shown["instances"], before, "adopted, not replaced");
    assert_eq!(shown["deployments"].as_array().map(Vec::len), Some(1));
    assert_eq!(body(&alice, &id).await?, "hello");
    assert_eq!(
        containers_of(&id).await?.len(),
        1,
        "one container, the adopted one"
    );
    Ok(())
}
