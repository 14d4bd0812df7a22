//! Scale to zero and wake on request, through the router: an app with `minInstances: 0` and
//! `idleSeconds: 1` (the server allows it: `--scaling-min-idle-seconds 1`) goes `SLEEPING` and
//! its process is gone; a request wakes it and gets the app's own answer; 50 at once wake one
//! instance; a full hold queue and a wake timeout answer 503 with `Retry-After`; an app that
//! crashes as it wakes answers the held requests 502 and ends `FAILED`; a websocket wakes it;
//! a sleeping app can be updated (kept for its wake), redeployed, stopped and deleted, and
//! stays asleep across a restart of the server. On Podman, sleep removes the container and a
//! request wakes it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use paas_tests::apps::PythonApp;
use paas_tests::steps::{STATUS, live_processes, records, show, until_status};
use paas_tests::{Client, TestApp, TestDb, TestServer, eventually, router};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::on_both_databases;

/// Sleep after a second without a request, the scaler looking every 100 ms.
const QUICK: &[&str] = &["--scaling-min-idle-seconds", "1", "--scale-every-ms", "100"];

const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input, queue: true) { status }
}";

/// Answers `$GREETING` or `hello`; sleeps `$SLOW` seconds before it listens, and exits with
/// code 3 at once when `$CRASH` is set (the way to make an app fail to start after it slept).
fn app() -> PythonApp {
    PythonApp::new().prelude(
        "if os.environ.get(\"CRASH\"):\n    print(\"crashing on purpose\", flush=True)\n    sys.exit(3)\n\
         time.sleep(float(os.environ.get(\"SLOW\", \"0\")))",
    )
}

/// A server with `QUICK` and `args`, a user, and the app `name` deployed with `minInstances:
/// 0, idleSeconds: 1` and `env`, asleep; returns the server, the user, the app's id and URL,
/// and its repository.
async fn asleep_app(
    db: TestDb,
    args: &[&str],
    name: &str,
    app: &PythonApp,
    env: Value,
) -> anyhow::Result<(TestApp, Client, String, String, tempfile::TempDir)> {
    let mut flags = QUICK.to_vec();
    flags.extend_from_slice(args);
    let server = TestApp::spawn(db, &flags).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let (repo, id) = paas_tests::steps::deployed_with(
        &alice,
        name,
        &[("app.py", &app.source())],
        json!({ "env": env, "scaling": { "minInstances": 0, "idleSeconds": 1 } }),
    )
    .await?;
    let url = router::app_url(router, name);
    sleeps(&alice, &id).await?;
    assert_eq!(processes(&server, name)?, 0, "no process left asleep");
    Ok((server, alice, id, url, repo))
}

/// Waits until the app is `SLEEPING` and its instance removed (once drained).
async fn sleeps(alice: &Client, id: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(60), || async {
        let app = show(alice, id).await?;
        let tasks = app["tasks"].as_array().cloned().unwrap_or_default();
        let sleeping = tasks
            .iter()
            .any(|t| t["kind"] == "SCALE" && t["state"] == "RUNNING");
        Ok((app["status"] == "SLEEPING" && !sleeping).then_some(app))
    })
    .await
    .context("the app never slept")
}

/// Live processes of the app `name` on `server`.
fn processes(server: &TestApp, name: &str) -> anyhow::Result<usize> {
    Ok(live_processes(&server.data_dir, name)?.len())
}

/// The app's `SCALE` tasks that woke it, once they ended (a held request is answered as soon
/// as the app runs or failed; its wake's task ends a moment later).
async fn wakes(alice: &Client, id: &str) -> anyhow::Result<Vec<Value>> {
    eventually(Duration::from_secs(10), || async {
        let app = show(alice, id).await?;
        let woke: Vec<Value> = app["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t["kind"] == "SCALE" && t["progress"] == "woken by a request")
            .collect();
        Ok(woke.iter().all(|t| t["state"] != "RUNNING").then_some(woke))
    })
    .await
}

async fn one_request_wakes_a_sleeping_app(db: TestDb) -> anyhow::Result<()> {
    let (server, alice, id, url, _repo) = asleep_app(db, &[], "nap", &app(), json!([])).await?;
    let router = server.router.context("no router")?;
    let mut statuses = alice.subscribe(STATUS, json!({ "id": id })).await?;

    let (status, body) = router::get(router, &url).await?;
    assert_eq!(
        (status, body.as_str()),
        (200, "hello"),
        "the app's own answer"
    );

    // The subscription replays the app's history first, then follows it.
    let mut seen: Vec<String> = Vec::new();
    while !(seen.iter().any(|s| s == "SLEEPING") && seen.last().is_some_and(|s| s == "RUNNING")) {
        let msg = statuses.next(Duration::from_secs(30)).await?;
        seen.push(
            msg["data"]["applicationStatus"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        seen[seen.len() - 3..],
        ["SLEEPING", "STARTING", "RUNNING"],
        "{seen:?}"
    );
    assert_eq!(processes(&server, "nap")?, 1);
    let woke = wakes(&alice, &id).await?;
    assert_eq!(woke.len(), 1, "{woke:?}");
    assert_eq!(woke[0]["state"], "SUCCEEDED");
    // And it sleeps again once idle.
    sleeps(&alice, &id).await?;
    assert_eq!(processes(&server, "nap")?, 0);
    Ok(())
}
on_both_databases!(one_request_wakes_a_sleeping_app);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_requests_wake_one_instance() -> anyhow::Result<()> {
    // A start slow enough that every request arrives while the app wakes.
    let env = json!([{ "key": "SLOW", "value": "0.5" }]);
    let (server, alice, id, url, _repo) =
        asleep_app(TestDb::Sqlite, &[], "crowd", &app(), env).await?;
    let router = server.router.context("no router")?;
    let http = router::client_for(router, &url)?;
    let requests = (0..50).map(|_| {
        let (http, url) = (http.clone(), url.clone());
        tokio::spawn(async move {
            let r = http.get(&url).send().await?;
            anyhow::Ok((r.status().as_u16(), r.text().await?))
        })
    });
    for answer in futures::future::join_all(requests).await {
        let (status, body) = answer??;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    assert_eq!(processes(&server, "crowd")?, 1, "one instance started");
    assert_eq!(wakes(&alice, &id).await?.len(), 1, "one wake");
    Ok(())
}

/// Sends a request in the background; its status and `Retry-After`.
fn send(
    http: &reqwest::Client,
    url: &str,
) -> tokio::task::JoinHandle<anyhow::Result<(u16, Option<String>)>> {
    let (http, url) = (http.clone(), url.to_owned());
    tokio::spawn(async move {
        let r = http.get(&url).send().await?;
        let retry = r
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok((r.status().as_u16(), retry))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hold_queue_answers_503_with_retry_after() -> anyhow::Result<()> {
    let env = json!([{ "key": "SLOW", "value": "3" }]);
    let (server, alice, id, url, _repo) =
        asleep_app(TestDb::Sqlite, &["--wake-queue", "2"], "full", &app(), env).await?;
    let router = server.router.context("no router")?;
    let http = router::client_for(router, &url)?;
    let held = [send(&http, &url), send(&http, &url)];
    // Both are held once the wake began (the first one asked for it).
    until_status(&alice, &id, "STARTING").await?;
    let (status, retry) = send(&http, &url).await??;
    assert_eq!(status, 503);
    assert!(retry.is_some(), "a Retry-After");
    for request in held {
        assert_eq!(request.await??.0, 200, "the held ones are answered");
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wake_timeout_answers_503_with_retry_after() -> anyhow::Result<()> {
    let env = json!([{ "key": "SLOW", "value": "3" }]);
    let args = ["--wake-timeout-ms", "300"];
    let (server, alice, id, url, _repo) =
        asleep_app(TestDb::Sqlite, &args, "late", &app(), env).await?;
    let router = server.router.context("no router")?;
    let (status, retry) = send(&router::client_for(router, &url)?, &url).await??;
    assert_eq!(status, 503);
    assert!(retry.is_some(), "a Retry-After");
    // The wake went on: the app comes up and answers.
    until_status(&alice, &id, "RUNNING").await?;
    assert_eq!(router::get(router, &url).await?, (200, "hello".to_owned()));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_that_crashes_as_it_wakes_answers_502_and_fails() -> anyhow::Result<()> {
    let (server, alice, id, url, _repo) =
        asleep_app(TestDb::Sqlite, &[], "boom", &app(), json!([])).await?;
    let router = server.router.context("no router")?;
    // An env change of a sleeping app is kept for its wake: nothing starts now.
    let input = json!({ "env": [{ "key": "CRASH", "value": "1" }] });
    alice
        .data(UPDATE, json!({ "id": id, "input": input }))
        .await?;
    eventually(Duration::from_secs(30), || async {
        let app = show(&alice, &id).await?;
        Ok((app["env"].as_array().map(Vec::len) == Some(1)).then_some(()))
    })
    .await?;
    assert_eq!(show(&alice, &id).await?["status"], "SLEEPING");
    assert_eq!(processes(&server, "boom")?, 0);

    let http = router::client_for(router, &url)?;
    let held = [send(&http, &url), send(&http, &url)];
    for request in held {
        let (status, _) = request.await??;
        assert_eq!(status, 502);
    }
    let app = until_status(&alice, &id, "FAILED").await?;
    let (_, body) = router::get(router, &url).await?;
    assert!(
        !body.contains("crashing on purpose"),
        "not the app's output: {body}"
    );
    assert!(
        app["statusReason"]
            .as_str()
            .is_some_and(|r| r.contains("code 3")),
        "{app}"
    );
    let woke = wakes(&alice, &id).await?;
    assert_eq!(woke.len(), 1);
    assert_eq!(woke[0]["state"], "FAILED");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_wakes_a_sleeping_app() -> anyhow::Result<()> {
    let (server, _alice, _id, url, _repo) = asleep_app(
        TestDb::Sqlite,
        &[],
        "sock",
        &PythonApp::websocket_echo(),
        json!([]),
    )
    .await?;
    let router: SocketAddr = server.router.context("no router")?;
    let mut ws = router::websocket(router, &url).await?;
    ws.send(Message::text("are you up?")).await?;
    let echo = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await?
        .context("closed")??;
    assert_eq!(echo, Message::text("are you up?"));
    assert_eq!(processes(&server, "sock")?, 1);
    Ok(())
}

async fn a_sleeping_app_is_redeployed_stopped_and_deleted(db: TestDb) -> anyhow::Result<()> {
    let (server, alice, id, url, _repo) = asleep_app(db, &[], "dozy", &app(), json!([])).await?;
    let router = server.router.context("no router")?;
    let slept_with = show(&alice, &id).await?["deployments"][0]["id"].clone();

    // Redeploy: SLEEPING → PENDING → … → RUNNING; the deployment it slept with is STOPPED.
    let redeploy = "mutation($id: ID!) { redeployApplication(id: $id, queue: true) { status } }";
    alice.data(redeploy, json!({ "id": id })).await?;
    let app = eventually(Duration::from_secs(60), || async {
        let app = show(&alice, &id).await?;
        let fresh = app["deployments"][0]["id"] != slept_with;
        // The roll-out ends (its task SUCCEEDED) once the deployment it replaced is stopped.
        let rolled_out = app["status"] == "RUNNING" && app["tasks"][0]["state"] == "SUCCEEDED";
        Ok((fresh && app["deployments"][0]["status"] == "RUNNING" && rolled_out).then_some(app))
    })
    .await?;
    let old = app["deployments"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["id"] == slept_with))
        .context("the old deployment")?;
    assert_eq!(old["status"], "STOPPED", "{app}");
    assert_eq!(router::get(router, &url).await?, (200, "hello".to_owned()));

    // Asleep again, then stopped: STOPPED, and a request is not held (nothing wakes it).
    sleeps(&alice, &id).await?;
    let stop = "mutation($id: ID!) { stopApplication(id: $id, queue: true) { status } }";
    alice.data(stop, json!({ "id": id })).await?;
    until_status(&alice, &id, "STOPPED").await?;
    let (status, _) = eventually(Duration::from_secs(10), || async {
        let got = router::get(router, &url).await?;
        Ok((got.0 == 503).then_some(got))
    })
    .await?;
    assert_eq!(status, 503);
    assert_eq!(processes(&server, "dozy")?, 0);

    // Started again it runs, sleeps once idle, and a sleeping app is deleted.
    let start = "mutation($id: ID!) { startApplication(id: $id, queue: true) { status } }";
    alice.data(start, json!({ "id": id })).await?;
    until_status(&alice, &id, "RUNNING").await?;
    sleeps(&alice, &id).await?;
    let del = "mutation($id: ID!) { deleteApplication(id: $id, queue: true) }";
    alice.data(del, json!({ "id": id })).await?;
    eventually(Duration::from_secs(30), || async {
        let found = alice
            .gql(
                "query($id: ID!) { application(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await?;
        Ok(found["data"]["application"].is_null().then_some(()))
    })
    .await?;
    assert_eq!(processes(&server, "dozy")?, 0);
    Ok(())
}
on_both_databases!(a_sleeping_app_is_redeployed_stopped_and_deleted);

/// The server killed while an app sleeps: started again, recovery leaves it asleep (it
/// restarts an app whose process died meanwhile), and a request wakes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sleeping_app_stays_asleep_across_a_restart_of_the_server() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = TestDb::Sqlite.url(dir.path()).await?;
    let mut server = TestServer::spawn_in(dir.path(), db.as_ref(), QUICK, &[]).await?;
    let alice = server.user("alice").await?;
    let files = [("app.py", app().source())];
    let files: Vec<(&str, &str)> = files.iter().map(|(n, s)| (*n, s.as_str())).collect();
    let (_a, dreamer) = paas_tests::steps::deployed_with(
        &alice,
        "dreamer",
        &files,
        json!({ "scaling": { "minInstances": 0, "idleSeconds": 1 } }),
    )
    .await?;
    let (_b, watcher) = paas_tests::steps::deployed(&alice, "watcher", &files).await?;
    sleeps(&alice, &dreamer).await?;
    let before = show(&alice, &watcher).await?["instances"][0]["id"].clone();

    server.kill9().await?;
    for (id, pgid) in records(&server.data_dir)? {
        if id.starts_with("watcher-") {
            killpg(Pid::from_raw(pgid), nix::sys::signal::Signal::SIGKILL)?;
        }
    }
    let server = TestServer::spawn_in(dir.path(), db.as_ref(), QUICK, &[]).await?;
    let router = server.router.context("no router")?;
    let alice =
        Client::new(&server.url, alice.token().map(str::to_owned)).with_router(Some(router));
    // Recovery ran: the watcher's dead instance was replaced.
    eventually(Duration::from_secs(60), || async {
        let app = show(&alice, &watcher).await?;
        let id = &app["instances"][0]["id"];
        Ok((app["status"] == "RUNNING" && !id.is_null() && *id != before).then_some(()))
    })
    .await?;
    assert_eq!(show(&alice, &dreamer).await?["status"], "SLEEPING");
    assert_eq!(live_processes(&server.data_dir, "dreamer")?.len(), 0);
    let url = router::app_url(router, "dreamer");
    assert_eq!(router::get(router, &url).await?, (200, "hello".to_owned()));
    assert_eq!(live_processes(&server.data_dir, "dreamer")?.len(), 1);
    Ok(())
}

/// On Podman: sleep removes the container, a request through the router wakes it (a new
/// container of the same image, no build) and gets the app's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_podman_sleep_removes_the_container_and_a_request_wakes_it() -> anyhow::Result<()> {
    use paas_tests::podman::{Cleanup, containers_of, images_of, serve_args};
    let cleanup = Cleanup::default();
    let mut args: Vec<String> = serve_args();
    args.extend(QUICK.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = TestApp::spawn(TestDb::Sqlite, &args).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let repo = paas_tests::git_repo(&[("app.py", &app().source())])?;
    let input = json!({
        "name": "pod-nap",
        "repository": { "url": paas_tests::repo::file_url(repo.path()) },
        "scaling": { "minInstances": 0, "idleSeconds": 1 },
    });
    let id = paas_tests::steps::create(&alice, input).await?;
    cleanup.track(&id);
    let seen = paas_tests::steps::statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    let images = images_of(&id).await?;

    sleeps(&alice, &id).await?;
    assert!(
        containers_of(&id).await?.is_empty(),
        "the container is gone"
    );
    assert_eq!(images_of(&id).await?, images, "the image stays");

    let url = router::app_url(router, "pod-nap");
    assert_eq!(router::get(router, &url).await?, (200, "hello".to_owned()));
    assert_eq!(containers_of(&id).await?.len(), 1, "one container woke");
    assert_eq!(wakes(&alice, &id).await?.len(), 1);
    Ok(())
}

/// Two servers on one PostgreSQL and one Redis, each with its router: requests for a sleeping
/// app through both at once are all answered by the app, and one instance was started (the
/// router that got the app's lock woke it; the other waited for the route).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_routers_waking_at_once_start_one_instance() -> anyhow::Result<()> {
    use paas_tests::redis::{unique_prefix, url};
    const ADMIN: &str = "scale-to-zero-admin";
    let dir = tempfile::tempdir()?;
    let db = TestDb::Postgres.url(dir.path()).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let mut args = QUICK.to_vec();
    args.extend(["--no-worker", "--admin-token", ADMIN]);
    let a = TestServer::spawn_in(dir.path(), db.as_ref(), &args, &env).await?;
    let b = TestServer::spawn_in(dir.path(), db.as_ref(), &args, &env).await?;
    let _worker = paas_tests::TestWorker::spawn(dir.path(), db.as_ref(), &env)?;
    let (router_a, router_b) = (a.router.context("router A")?, b.router.context("router B")?);
    let alice = a.user("alice").await?;
    let source = app().source();
    let (_repo, id) = paas_tests::steps::deployed_with(
        &alice,
        "pair",
        &[("app.py", &source)],
        json!({
            "env": [{ "key": "SLOW", "value": "0.5" }],
            "scaling": { "minInstances": 0, "idleSeconds": 1 },
        }),
    )
    .await?;
    sleeps(&alice, &id).await?;
    // Both routers know it sleeps (they hear it on the bus).
    for server in [&a, &b] {
        eventually(Duration::from_secs(10), || async {
            let routes: Value = reqwest::Client::new()
                .get(format!("{}/routes", server.url))
                .bearer_auth(ADMIN)
                .send()
                .await?
                .json()
                .await?;
            let asleep = routes.as_array().is_some_and(|r| {
                r.iter()
                    .any(|r| r["name"] == "pair" && r["status"] == "SLEEPING")
            });
            Ok(asleep.then_some(()))
        })
        .await?;
    }
    assert_eq!(live_processes(dir.path(), "pair")?.len(), 0);

    let mut requests = Vec::new();
    for n in 0..20 {
        let router = if n % 2 == 0 { router_a } else { router_b };
        let url = router::app_url(router, "pair");
        let http = router::client_for(router, &url)?;
        requests.push(tokio::spawn(async move {
            let r = http.get(&url).send().await?;
            anyhow::Ok((r.status().as_u16(), r.text().await?))
        }));
    }
    for answer in futures::future::join_all(requests).await {
        let (status, body) = answer??;
        assert_eq!((status, body.as_str()), (200, "hello"));
    }
    assert_eq!(
        live_processes(dir.path(), "pair")?.len(),
        1,
        "one instance started"
    );
    assert_eq!(wakes(&alice, &id).await?.len(), 1, "one wake");
    Ok(())
}
