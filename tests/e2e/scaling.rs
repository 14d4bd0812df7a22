//! Scaling as users see it: the settings (checked, echoed, refused with `INVALID_SCALING`
//! without a change), an idle app put to sleep (`RUNNING → SLEEPING`, its process gone, a
//! `SCALE` task and `SYSTEM` lines with the reason), what keeps an app awake (requests, an open
//! websocket, a request in flight), and activity counted across routers: requests on router B
//! keep awake an app router A's process never saw a request for, and while Redis is away no
//! process sleeps an app on silence it cannot vouch for. A sleeping app is stopped, started,
//! changed and deleted as any. Autoscaling: ~4 requests in flight with `targetConcurrency: 1`
//! run three instances (processes or containers, counted), one again once the load stops;
//! bounds moved by new settings apply at once. The idle bound, the scaler's period and its
//! windows are lowered with the server's flags (`--scaling-min-idle-seconds`,
//! `--scale-every-ms`, `--scale-up-after-ms`, `--scale-down-after-ms`,
//! `--scale-cooldown-ms`), never waited out at their defaults.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use nix::sys::signal::killpg;
use nix::unistd::Pid;
use paas_tests::apps::{PythonApp, hello};
use paas_tests::podman;
use paas_tests::redis::{PrivateRedis, unique_prefix, url as redis_url};
use paas_tests::repo::file_url;
use paas_tests::steps::{
    CREATE, STATUS, create, delete_app, deployed_with, live_processes, page, show, until_status,
};
use paas_tests::{Client, TestApp, TestDb, TestServer, TestWorker, eventually, git_repo, router};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::on_both_databases;

const APP: &str = "query($id: ID!) {
  application(id: $id) {
    status version
    scaling { minInstances maxInstances idleSeconds targetConcurrency }
    tasks { id kind state progress error deployment }
  }
}";

const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input) {
    version scaling { minInstances maxInstances idleSeconds targetConcurrency }
  }
}";

/// A server whose apps may sleep after a second, looked at five times a second.
const QUICK: &[&str] = &["--scaling-min-idle-seconds", "1", "--scale-every-ms", "200"];

/// An app's settings as `Application.scaling` shows them: `(min, max, idle, target)`.
fn settings(app: &Value) -> (i64, i64, i64, i64) {
    let s = &app["scaling"];
    let n = |k: &str| s[k].as_i64().unwrap_or(-1);
    (
        n("minInstances"),
        n("maxInstances"),
        n("idleSeconds"),
        n("targetConcurrency"),
    )
}

async fn read(client: &Client, id: &str) -> anyhow::Result<Value> {
    Ok(client.data(APP, json!({ "id": id })).await?["application"].clone())
}

async fn scaling_settings_are_checked_and_echoed(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &["--scaling-max-instances", "3"]).await?;
    let alice = server.user("alice").await?;
    let files = [("app.py", hello())];
    let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();

    // Without settings: one instance that never sleeps.
    let (repo, plain) = deployed_with(&alice, "plain", &files, json!({})).await?;
    assert_eq!(settings(&read(&alice, &plain).await?), (1, 1, 300, 20));

    // With settings: echoed as given.
    let url = file_url(repo.path());
    let input = |name: &str, scaling: Value| json!({ "input": { "name": name, "repository": { "url": url }, "scaling": scaling } });
    let tuned = alice
        .data(
            CREATE,
            input(
                "tuned",
                json!({ "minInstances": 0, "maxInstances": 3, "idleSeconds": 10,
                        "targetConcurrency": 2 }),
            ),
        )
        .await?["createApplication"]["application"]["id"]
        .as_str()
        .context("no id")?
        .to_owned();
    assert_eq!(settings(&read(&alice, &tuned).await?), (0, 3, 10, 2));
    // A maximum left out grows to the minimum asked for.
    let three = create(
        &alice,
        json!({ "name": "three", "repository": { "url": url }, "scaling": { "minInstances": 3 } }),
    )
    .await?;
    assert_eq!(settings(&read(&alice, &three).await?), (3, 3, 300, 20));

    // Out of bounds: refused, nothing written.
    let refused = [
        json!({ "minInstances": 3, "maxInstances": 2 }),
        json!({ "maxInstances": 4 }), // above this server's cap of 3
        json!({ "minInstances": 4 }),
        json!({ "maxInstances": 0 }),
        json!({ "minInstances": 0, "idleSeconds": 9 }), // under the default bound of 10
        json!({ "targetConcurrency": 0 }),
        json!({ "minInstances": -1 }),
        json!({ "idleSeconds": -10 }),
        json!({ "targetConcurrency": -1 }),
    ];
    for scaling in &refused {
        let code = alice
            .error_code(CREATE, input("refused", scaling.clone()))
            .await?;
        assert_eq!(code, "INVALID_SCALING", "create with {scaling}");
    }
    assert_eq!(server.count_rows("applications").await?, 3);

    // A partial update changes what it names and keeps the rest.
    let before = read(&alice, &plain).await?;
    let v0 = before["version"].as_i64().context("no version")?;
    let out = alice
        .data(
            UPDATE,
            json!({ "id": plain, "input": { "scaling": { "targetConcurrency": 5 } } }),
        )
        .await?;
    assert_eq!(settings(&out["updateApplication"]), (1, 1, 300, 5));
    alice
        .data(
            UPDATE,
            json!({ "id": plain, "input": { "scaling": { "maxInstances": 3, "idleSeconds": 60 } } }),
        )
        .await?;
    let after = read(&alice, &plain).await?;
    assert_eq!(settings(&after), (1, 3, 60, 5));
    let v2 = after["version"].as_i64().context("no version")?;
    assert!(v2 > v0, "{v0} → {v2}");
    let tasks = after["tasks"].as_array().map_or(0, Vec::len);

    // Refused updates: same code, and the app is as it was (same version, no task).
    for scaling in &refused {
        let code = alice
            .error_code(
                UPDATE,
                json!({ "id": plain, "input": { "scaling": scaling } }),
            )
            .await?;
        assert_eq!(code, "INVALID_SCALING", "update with {scaling}");
    }
    // `minInstances: 2` above the stored max of 3 is fine; 4 is above the cap.
    let code = alice
        .error_code(
            UPDATE,
            json!({ "id": plain, "input": { "scaling": { "minInstances": 4, "maxInstances": 4 } } }),
        )
        .await?;
    assert_eq!(code, "INVALID_SCALING");
    // On local processes replicas of an app on a fixed port would share it: refused, both
    // ways round (a fixed port for an app that may scale, replicas for one on a fixed port).
    let code = alice
        .error_code(UPDATE, json!({ "id": plain, "input": { "port": 8080 } }))
        .await?;
    assert_eq!(
        code, "INVALID_SCALING",
        "a fixed port for an app of up to 3"
    );
    let fixed = json!({ "name": "fixed", "repository": { "url": url }, "port": 8080,
                        "scaling": { "maxInstances": 2 } });
    let code = alice.error_code(CREATE, json!({ "input": fixed })).await?;
    assert_eq!(
        code, "INVALID_SCALING",
        "replicas of a new app on a fixed port"
    );
    let unchanged = read(&alice, &plain).await?;
    assert_eq!(settings(&unchanged), (1, 3, 60, 5));
    assert_eq!(unchanged["version"].as_i64(), Some(v2));
    assert_eq!(unchanged["tasks"].as_array().map_or(0, Vec::len), tasks);
    assert_eq!(unchanged["status"], "RUNNING");
    Ok(())
}

/// The process group of the app `name`'s one live instance.
fn process_of(data_dir: &std::path::Path, name: &str) -> anyhow::Result<i32> {
    let mine = live_processes(data_dir, name)?;
    match mine.as_slice() {
        [one] => Ok(*one),
        other => anyhow::bail!("{name} runs {} instances: {other:?}", other.len()),
    }
}

fn alive(pgid: i32) -> bool {
    killpg(Pid::from_raw(pgid), None).is_ok()
}

/// The app's `SYSTEM` log lines.
async fn system_lines(client: &Client, id: &str) -> anyhow::Result<Vec<String>> {
    let lines = page(
        client,
        json!({ "app": id, "streams": ["SYSTEM"], "limit": 1000 }),
    )
    .await?;
    Ok(lines["lines"]
        .as_array()
        .map(|ls| {
            ls.iter()
                .map(|l| l["text"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default())
}

/// `GET /` through `router` every 300 ms for `spell` (from a task of its own, so the pace
/// does not hang on the API), each answered 200; the app `RUNNING` all along.
async fn keep_calling(
    client: &Client,
    router: SocketAddr,
    id: &str,
    name: &str,
    spell: Duration,
) -> anyhow::Result<()> {
    let url = router::app_url(router, name);
    let caller = tokio::spawn(async move {
        let http = router::client_for(router, &url)?;
        let start = Instant::now();
        let mut calls = 0;
        while start.elapsed() < spell {
            let res = http.get(&url).send().await?;
            let status = res.status().as_u16();
            let body = res.text().await?;
            anyhow::ensure!(status == 200, "call {calls}: {status} {body}");
            calls += 1;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        anyhow::Ok(calls)
    });
    let start = Instant::now();
    while start.elapsed() < spell {
        let status = read(client, id).await?["status"].clone();
        assert_eq!(status, "RUNNING", "after {:?} of calls", start.elapsed());
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let calls = caller.await??;
    assert!(calls > 0);
    Ok(())
}

async fn an_idle_app_sleeps_and_requests_keep_it_awake(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, QUICK).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let files = [("app.py", hello())];
    let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // Two that must not sleep, whatever the short bound: the default, and a minimum of one.
    let (_r1, steady) = deployed_with(&alice, "steady", &files, json!({})).await?;
    let (_r2, floor) = deployed_with(
        &alice,
        "floor",
        &files,
        json!({ "scaling": { "minInstances": 1, "idleSeconds": 1 } }),
    )
    .await?;
    let (_r3, sleepy) = deployed_with(
        &alice,
        "sleepy",
        &files,
        json!({ "scaling": { "minInstances": 0, "idleSeconds": 2 } }),
    )
    .await?;
    let mut statuses = alice.subscribe(STATUS, json!({ "id": sleepy })).await?;
    let pgid = process_of(&server.data_dir, "sleepy")?;
    assert!(alive(pgid));

    // Requests every 300 ms for three idle periods: awake all along.
    keep_calling(&alice, router, &sleepy, "sleepy", Duration::from_secs(6)).await?;
    assert_eq!(
        scale_tasks(&read(&alice, &sleepy).await?)?,
        0,
        "no scaling while called"
    );

    // Quiet: asleep, its process gone, its deployment kept.
    let asleep = until_status(&alice, &sleepy, "SLEEPING").await?;
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("SLEEPING") {
        let msg = statuses.next(Duration::from_secs(30)).await?;
        seen.push(
            msg["data"]["applicationStatus"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert!(
        seen.ends_with(&["RUNNING".into(), "SLEEPING".into()]),
        "{seen:?}"
    );
    eventually(Duration::from_secs(30), || async {
        Ok((!alive(pgid)).then_some(()))
    })
    .await
    .context("the sleeping app's process is still there")?;
    let tasks = asleep["tasks"].as_array().context("no tasks")?;
    let scale: Vec<&Value> = tasks.iter().filter(|t| t["kind"] == "SCALE").collect();
    assert_eq!(scale.len(), 1, "{tasks:?}");
    let progress = scale[0]["progress"].as_str().unwrap_or_default();
    assert!(
        progress.starts_with("no request for") && progress.contains("idleSeconds 2"),
        "{progress}"
    );
    let state = eventually(Duration::from_secs(30), || async {
        let app = read(&alice, &sleepy).await?;
        let t = app["tasks"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["kind"] == "SCALE").cloned());
        Ok(t.filter(|t| t["state"] != "RUNNING"))
    })
    .await?;
    assert_eq!(state["state"], "SUCCEEDED", "{state}");
    let system = system_lines(&alice, &sleepy).await?;
    for expected in [
        "going to sleep: no request for",
        "status SLEEPING",
        "asleep: 1 instance(s) removed",
    ] {
        assert!(
            system.iter().any(|l| l.starts_with(expected)),
            "{expected}: {system:?}"
        );
    }
    let shown = show(&alice, &sleepy).await?;
    assert_eq!(shown["instances"], json!([]), "{shown}");
    assert_eq!(shown["deployments"][0]["status"], "RUNNING", "{shown}");
    assert_eq!(
        state["deployment"], shown["deployments"][0]["id"],
        "{state}"
    );

    // A minimum raised on a sleeping app starts it again (the scaler's SCALE task), from its
    // image: no new deployment.
    let deployments = shown["deployments"].as_array().map_or(0, Vec::len);
    let mut statuses = alice
        .subscribe(
            "subscription($id: ID!, $after: Int) {
               applicationStatus(id: $id, afterVersion: $after) { status }
             }",
            json!({ "id": sleepy, "after": asleep["version"] }),
        )
        .await?;
    alice
        .data(
            UPDATE,
            json!({ "id": sleepy, "input": { "scaling": { "minInstances": 1 } } }),
        )
        .await?;
    let mut seen = Vec::new();
    while seen.last().map(String::as_str) != Some("RUNNING") {
        let msg = statuses.next(Duration::from_secs(60)).await?;
        let status = msg["data"]["applicationStatus"]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(status != "FAILED", "{seen:?} then FAILED");
        seen.push(status);
    }
    assert_eq!(seen, ["STARTING", "RUNNING"]);
    router::routed(router, "sleepy.localhost").await?;
    let (status, body) = router::get(router, &router::app_url(router, "sleepy")).await?;
    assert_eq!((status, body.as_str()), (200, "hello"));
    let awake = show(&alice, &sleepy).await?;
    assert_eq!(
        awake["deployments"].as_array().map_or(0, Vec::len),
        deployments
    );
    assert!(alive(process_of(&server.data_dir, "sleepy")?));
    let scale: Vec<&Value> = awake["tasks"]
        .as_array()
        .context("no tasks")?
        .iter()
        .filter(|t| t["kind"] == "SCALE")
        .collect();
    assert_eq!(scale.len(), 2, "{awake}");
    assert_eq!(scale[0]["progress"], "minInstances is 1", "{awake}");
    let system = system_lines(&alice, &sleepy).await?;
    assert!(
        system
            .iter()
            .any(|l| l.starts_with("waking with 1 instance(s): minInstances is 1")),
        "{system:?}"
    );

    // The others, idle as long, still run.
    for (id, name) in [(&steady, "steady"), (&floor, "floor")] {
        let app = read(&alice, id).await?;
        assert_eq!(app["status"], "RUNNING", "{name}: {app}");
        assert!(alive(process_of(&server.data_dir, name)?), "{name}");
        assert!(
            !app["tasks"]
                .as_array()
                .context("no tasks")?
                .iter()
                .any(|t| t["kind"] == "SCALE"),
            "{name}: {app}"
        );
    }
    Ok(())
}

/// Answers `GET /<seconds>` after that many seconds, and websockets with an echo.
fn slow_echo() -> String {
    PythonApp::websocket_echo()
        .body("(time.sleep(float(self.path.strip('/') or 0)), 'done')[1]")
        .source()
}

async fn an_open_websocket_or_a_request_in_flight_keeps_an_app_awake(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, QUICK).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let source = slow_echo();
    let (_repo, id) = deployed_with(
        &alice,
        "held",
        &[("app.py", &source)],
        json!({ "scaling": { "minInstances": 0, "idleSeconds": 2 } }),
    )
    .await?;
    let url = router::app_url(router, "held");

    // A websocket open and silent for four idle periods. (Two seconds each: the app starts
    // idling when it is RUNNING, so with one a loaded machine could take a whole idle period
    // between seeing RUNNING and the router's first report of the open websocket.)
    let mut ws = router::websocket(router, &url).await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(read(&alice, &id).await?["status"], "RUNNING");
    ws.send(Message::Text("still there".into())).await?;
    let echo = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await?
        .context("the websocket closed")??;
    assert_eq!(echo, Message::Text("still there".into()));

    // A request that takes four idle periods, begun before the websocket closes.
    let call = {
        let url = format!("{url}8");
        tokio::spawn(async move { router::get(router, &url).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    ws.close(None).await?;
    drop(ws);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(read(&alice, &id).await?["status"], "RUNNING");
    let (status, body) = call.await??;
    assert_eq!((status, body.as_str()), (200, "done"));

    // Then quiet: asleep.
    until_status(&alice, &id, "SLEEPING").await?;
    Ok(())
}

/// Instances of the app as `Application.instances` shows them: `(id, state)`.
async fn instances(client: &Client, id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let data = client
        .data(
            "query($id: ID!) { application(id: $id) { instances { id state } } }",
            json!({ "id": id }),
        )
        .await?;
    Ok(data["application"]["instances"]
        .as_array()
        .map(|is| {
            is.iter()
                .map(|i| {
                    (
                        i["id"].as_str().unwrap_or_default().to_owned(),
                        i["state"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Where an app's instances run, to count them there.
#[derive(Clone, Copy)]
enum Runs {
    Processes,
    Containers,
}

/// The app's instances alive on the machine: processes of the local runtime, or running
/// containers.
async fn alive_instances(
    runs: Runs,
    data_dir: &std::path::Path,
    id: &str,
    name: &str,
) -> anyhow::Result<usize> {
    Ok(match runs {
        Runs::Processes => live_processes(data_dir, name)?.len(),
        Runs::Containers => podman::cli(&[
            "ps",
            "--filter",
            &format!("label=paas.app={id}"),
            "--format",
            "{{.Names}}",
        ])
        .await?
        .lines()
        .count(),
    })
}

/// Waits until the app runs `n` instances: `n` running in `Application.instances` and `n`
/// alive on the machine.
async fn until_instances(
    client: &Client,
    runs: Runs,
    data_dir: &std::path::Path,
    id: &str,
    name: &str,
    n: usize,
) -> anyhow::Result<()> {
    eventually(Duration::from_secs(90), || async {
        let running = instances(client, id)
            .await?
            .iter()
            .filter(|(_, state)| state == "RUNNING")
            .count();
        let alive = alive_instances(runs, data_dir, id, name).await?;
        Ok((running == n && alive == n).then_some(()))
    })
    .await
    .with_context(|| format!("{name} never ran {n} instance(s)"))
}

/// Server flags for windows short enough to watch: looks five times a second, up after a
/// second above the target, down after a second under half of it and a second since the last
/// change.
const BRISK: &[&str] = &[
    "--scale-every-ms",
    "200",
    "--scale-up-after-ms",
    "1000",
    "--scale-down-after-ms",
    "1000",
    "--scale-cooldown-ms",
    "1000",
];

async fn a_load_above_the_target_adds_instances_and_they_go_when_it_stops(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, BRISK).await?;
    autoscales(&server, Runs::Processes, None).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_podman_a_load_above_the_target_adds_containers() -> anyhow::Result<()> {
    let mut args = podman::serve_args();
    args.extend(BRISK.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Declared first, dropped last: the containers go once the server stopped.
    let cleanup = podman::Cleanup::default();
    let server = TestApp::spawn(TestDb::Sqlite, &args).await?;
    autoscales(&server, Runs::Containers, Some(&cleanup)).await
}

/// ~4 requests in flight on an app with `targetConcurrency: 1, maxInstances: 3`: three
/// instances; none once the load stops but the minimum of one.
async fn autoscales(
    server: &TestApp,
    runs: Runs,
    cleanup: Option<&podman::Cleanup>,
) -> anyhow::Result<()> {
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let source = slow_echo();
    let repo = git_repo(&[("app.py", &source)])?;
    let id = create(
        &alice,
        json!({ "name": "busy", "repository": { "url": file_url(repo.path()) },
                "scaling": { "minInstances": 1, "maxInstances": 3, "targetConcurrency": 1 } }),
    )
    .await?;
    if let Some(cleanup) = cleanup {
        cleanup.track(&id);
    }
    until_status(&alice, &id, "RUNNING").await?;
    let data_dir = server.data_dir.clone();
    until_instances(&alice, runs, &data_dir, &id, "busy", 1).await?;

    // Four clients, each with a 200 ms request in flight at all times: ~4 in flight.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = format!("{}0.2", router::app_url(router, "busy"));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (stop, url) = (stop.clone(), url.clone());
            tokio::spawn(async move {
                let http = router::client_for(router, &url)?;
                let (mut ok, mut failed) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = http.get(&url).send().await?;
                    let status = res.status().as_u16();
                    let body = res.text().await?;
                    if status == 200 && body == "done" {
                        ok += 1;
                    } else if failed.len() < 5 {
                        failed.push(format!("{status} {body}"));
                    }
                }
                anyhow::Ok((ok, failed))
            })
        })
        .collect();
    let scaled_up = until_instances(&alice, runs, &data_dir, &id, "busy", 3).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if scaled_up.is_err() {
        eprintln!("SYSTEM log: {:#?}", system_lines(&alice, &id).await?);
        eprintln!("instances: {:?}", instances(&alice, &id).await?);
    }
    let mut answered = 0;
    for c in clients {
        let (ok, failed) = c.await??;
        assert!(failed.is_empty(), "failed under load: {failed:?}");
        answered += ok;
    }
    scaled_up?;
    assert!(answered > 0);

    // The load is gone: back to the minimum, one instance at a time.
    until_instances(&alice, runs, &data_dir, &id, "busy", 1).await?;
    let app = eventually(Duration::from_secs(30), || async {
        let app = read(&alice, &id).await?;
        let over = app["tasks"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["state"] != "RUNNING"));
        Ok(over.then_some(app))
    })
    .await?;
    assert_eq!(app["status"], "RUNNING");
    let scale: Vec<&Value> = app["tasks"]
        .as_array()
        .context("no tasks")?
        .iter()
        .filter(|t| t["kind"] == "SCALE")
        .collect();
    assert!(scale.iter().all(|t| t["state"] == "SUCCEEDED"), "{scale:?}");
    let progress: Vec<&str> = scale
        .iter()
        .map(|t| t["progress"].as_str().unwrap_or_default())
        .collect();
    assert!(
        progress
            .iter()
            .any(|p| p.contains("above the target of 1 per instance")),
        "{progress:?}"
    );
    assert!(
        progress
            .iter()
            .filter(|p| p.contains("under half the target of 1 per instance"))
            .count()
            >= 2,
        "{progress:?}"
    );
    // The SYSTEM log tells the way up to three and down to one, in order.
    let system = system_lines(&alice, &id).await?;
    let counts: Vec<(u32, u32)> = system
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("scaled from ")?;
            let (from, rest) = rest.split_once(" to ")?;
            let (to, _) = rest.split_once(" instance(s)")?;
            Some((from.parse().ok()?, to.parse().ok()?))
        })
        .collect();
    let top = counts.iter().position(|(_, to)| *to == 3);
    assert!(top.is_some(), "{system:?}");
    let (up, down) = counts.split_at(top.map_or(0, |t| t + 1));
    assert!(up.iter().all(|(f, t)| f < t), "{counts:?}");
    assert_eq!(down, [(3, 2), (2, 1)], "{counts:?}");

    // Bounds apply at once, no load needed: a minimum raised adds, a maximum lowered removes.
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "scaling": { "minInstances": 2 } } }),
        )
        .await?;
    until_instances(&alice, runs, &data_dir, &id, "busy", 2).await?;
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "scaling": { "minInstances": 1, "maxInstances": 1 } } }),
        )
        .await?;
    until_instances(&alice, runs, &data_dir, &id, "busy", 1).await?;
    let progress: Vec<String> = eventually(Duration::from_secs(30), || async {
        let app = read(&alice, &id).await?;
        let tasks = app["tasks"].as_array().cloned().unwrap_or_default();
        let over = tasks.iter().all(|t| t["state"] != "RUNNING");
        Ok(over.then(|| {
            tasks
                .iter()
                .filter(|t| t["kind"] == "SCALE")
                .take(2)
                .map(|t| t["progress"].as_str().unwrap_or_default().to_owned())
                .collect()
        }))
    })
    .await?;
    assert_eq!(progress, ["maxInstances is 1", "minInstances is 2"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_called_on_router_b_while_redis_is_away_is_not_put_to_sleep() -> anyhow::Result<()> {
    let mut redis = PrivateRedis::start().await?;
    let shared = TwoRouters::start(&redis.url(), "unheard").await?;
    let (alice, id, router_b) = (&shared.alice, &shared.id, shared.router_b);

    // B's reports cannot reach A's scaler: A cannot vouch for the silence, and does not act
    // on it.
    redis.kill().await?;
    keep_calling(alice, router_b, id, "unheard", Duration::from_secs(6)).await?;
    redis.restart().await?;
    keep_calling(alice, router_b, id, "unheard", Duration::from_secs(3)).await?;

    // Reports heard again: quiet, it sleeps.
    until_status(alice, id, "SLEEPING").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_podman_a_sleeping_app_has_no_container_and_keeps_its_image() -> anyhow::Result<()> {
    let mut args = podman::serve_args();
    args.extend(QUICK.iter().map(|a| (*a).to_owned()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Declared first, dropped last: the containers go once the server stopped.
    let cleanup = podman::Cleanup::default();
    let server = TestApp::spawn(TestDb::Sqlite, &args).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &hello())])?;
    let id = create(
        &alice,
        json!({ "name": "pod-sleepy", "repository": { "url": file_url(repo.path()) },
                "scaling": { "minInstances": 0, "idleSeconds": 1 } }),
    )
    .await?;
    cleanup.track(&id);
    until_status(&alice, &id, "RUNNING").await?;
    let before = podman::containers_of(&id).await?;
    assert_eq!(before.len(), 1, "{before:?}");

    until_status(&alice, &id, "SLEEPING").await?;
    eventually(Duration::from_secs(30), || async {
        Ok(podman::containers_of(&id).await?.is_empty().then_some(()))
    })
    .await
    .context("the sleeping app's container is still there")?;
    assert!(!podman::images_of(&id).await?.is_empty(), "its image stays");

    // Woken (its minimum raised): a container of the same image, no build.
    let deployments = show(&alice, &id).await?["deployments"]
        .as_array()
        .map_or(0, Vec::len);
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "scaling": { "minInstances": 1 } } }),
        )
        .await?;
    until_status(&alice, &id, "RUNNING").await?;
    let after = podman::containers_of(&id).await?;
    assert_eq!(after.len(), 1, "{after:?}");
    let router = server.router.context("no router")?;
    router::routed(router, "pod-sleepy.localhost").await?;
    let (status, body) = router::get(router, &router::app_url(router, "pod-sleepy")).await?;
    assert_eq!((status, body.as_str()), (200, "hello"));
    let shown = show(&alice, &id).await?;
    assert_eq!(
        shown["deployments"].as_array().map_or(0, Vec::len),
        deployments
    );
    Ok(())
}

/// Waits until the app is `SLEEPING` and its `SCALE` task over (the instances removed: until
/// then the task holds the app, and a user's task waits for it or is refused `APP_BUSY`).
async fn until_asleep(client: &Client, id: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(60), || async {
        let app = read(client, id).await?;
        let over = app["tasks"]
            .as_array()
            .is_some_and(|ts| ts.iter().all(|t| t["state"] != "RUNNING"));
        Ok((app["status"] == "SLEEPING" && over).then_some(app))
    })
    .await
    .with_context(|| format!("app {id} never fell asleep"))
}

/// Puts a fresh `minInstances: 0, idleSeconds: 1` app named `name` to sleep; returns its id.
async fn asleep(client: &Client, name: &str) -> anyhow::Result<String> {
    let files = [("app.py", hello())];
    let files: Vec<(&str, &str)> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_repo, id) = deployed_with(
        client,
        name,
        &files,
        json!({ "scaling": { "minInstances": 0, "idleSeconds": 1 } }),
    )
    .await?;
    until_asleep(client, &id).await?;
    Ok(id)
}

async fn a_sleeping_app_is_stopped_started_changed_and_deleted_as_any(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, QUICK).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;

    // Stopped: STOPPED, and it stays so (no sleep, no wake); started: it runs.
    let id = asleep(&alice, "napper").await?;
    let stopped = alice
        .data(
            "mutation($id: ID!) { stopApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    assert_ne!(stopped["stopApplication"]["status"], "RUNNING");
    until_status(&alice, &id, "STOPPED").await?;
    alice
        .data(
            "mutation($id: ID!) { startApplication(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await?;
    until_status(&alice, &id, "RUNNING").await?;
    router::routed(router, "napper.localhost").await?;
    let (status, body) = router::get(router, &router::app_url(router, "napper")).await?;
    assert_eq!((status, body.as_str()), (200, "hello"));
    // … and being still allowed to, it sleeps again once quiet.
    until_asleep(&alice, &id).await?;

    // A change that needs a restart is kept for the wake: the app sleeps on (it costs
    // nothing), and the request that wakes it is answered with the new settings.
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "env": [{ "key": "GREETING", "value": "changed" }] } }),
        )
        .await?;
    assert_eq!(read(&alice, &id).await?["status"], "SLEEPING");
    assert!(live_processes(&server.data_dir, "napper")?.is_empty());
    let (status, body) = router::get(router, &router::app_url(router, "napper")).await?;
    assert_eq!((status, body.as_str()), (200, "changed"));
    assert_eq!(live_processes(&server.data_dir, "napper")?.len(), 1);

    // Deleted while asleep: gone.
    until_asleep(&alice, &id).await?;
    delete_app(&alice, &id).await?;
    assert!(live_processes(&server.data_dir, "napper")?.is_empty());
    Ok(())
}

on_both_databases!(
    a_sleeping_app_is_stopped_started_changed_and_deleted_as_any,
    a_load_above_the_target_adds_instances_and_they_go_when_it_stops,
    scaling_settings_are_checked_and_echoed,
    an_idle_app_sleeps_and_requests_keep_it_awake,
    an_open_websocket_or_a_request_in_flight_keeps_an_app_awake,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_on_router_b_keep_awake_an_app_router_a_never_sees() -> anyhow::Result<()> {
    let shared = TwoRouters::start(&redis_url(), "shared").await?;
    let (alice, id, router_b) = (&shared.alice, &shared.id, shared.router_b);

    // Through B only, for four idle periods: A's scaler hears B's reports on the bus.
    keep_calling(alice, router_b, id, "shared", Duration::from_secs(8)).await?;
    let app = read(alice, id).await?;
    assert_eq!(scale_tasks(&app)?, 0, "{app}");

    // Quiet: asleep, by one of the two (one SCALE task, not one per process).
    let asleep = until_status(alice, id, "SLEEPING").await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(scale_tasks(&read(alice, id).await?)?, 1, "{asleep}");
    Ok(())
}

/// How many `SCALE` tasks an app (as [`read`] answers) has.
fn scale_tasks(app: &Value) -> anyhow::Result<usize> {
    Ok(app["tasks"]
        .as_array()
        .context("no tasks")?
        .iter()
        .filter(|t| t["kind"] == "SCALE")
        .count())
}

/// Two servers (A and B) and a build worker on one PostgreSQL and the Redis at `redis`, with a
/// `minInstances: 0, idleSeconds: 2` app `name` of alice's running and routed on B.
struct TwoRouters {
    alice: Client,
    id: String,
    router_b: SocketAddr,
    // Kept for the test's length: dropping them stops the processes and removes the files.
    _servers: (TestServer, TestServer, TestWorker),
    _repo: tempfile::TempDir,
    // Dropped last: the database, then the directory.
    _database: paas_tests::TestDatabase,
    _dir: tempfile::TempDir,
}

impl TwoRouters {
    async fn start(redis: &str, name: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let database_url = TestDb::Postgres.url(dir.path()).await?;
        let prefix = unique_prefix();
        let env = [("REDIS_URL", redis), ("PAAS_REDIS_PREFIX", prefix.as_str())];
        let mut args = vec!["--no-worker"];
        args.extend_from_slice(QUICK);
        let a = TestServer::spawn_in(dir.path(), &database_url, &args, &env).await?;
        let b = TestServer::spawn_in(dir.path(), &database_url, &args, &env).await?;
        let worker = TestWorker::spawn(dir.path(), &database_url, &env)?;
        let router_b = b.router.context("router B")?;
        let alice = a.user("alice").await?;
        let repo = git_repo(&[("app.py", &hello())])?;
        let id = create(
            &alice,
            json!({ "name": name, "repository": { "url": file_url(repo.path()) },
                    "scaling": { "minInstances": 0, "idleSeconds": 2 } }),
        )
        .await?;
        until_status(&alice, &id, "RUNNING").await?;
        router::routed(router_b, &format!("{name}.localhost")).await?;
        Ok(Self {
            alice,
            id,
            router_b,
            _servers: (a, b, worker),
            _repo: repo,
            _database: database_url,
            _dir: dir,
        })
    }
}
