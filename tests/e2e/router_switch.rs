//! Zero-downtime switching, through the router: an app keeps one stable URL
//! (`http://<name>.localhost:<router port>/`) across redeploys, restarts, rollbacks and env
//! changes; clients calling it across redeploys see no failed request and no reset connection;
//! a websocket opened before a redeploy keeps working until the drain timeout ends it; a slow
//! request in flight on the old instance completes after the switch.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use paas_tests::apps::PythonApp;
use paas_tests::router;
use paas_tests::steps::{commit_version, instance, settled, show};
use paas_tests::{Client, TestApp, TestDb, eventually};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::on_both_databases;

// Queued when the app is still busy with the step before (its lock is given back a moment
// after the API shows it settled).
const REDEPLOY: &str =
    "mutation($id: ID!) { redeployApplication(id: $id, queue: true) { status } }";
const RESTART: &str = "mutation($id: ID!) { restartApplication(id: $id, queue: true) { status } }";
const ROLLBACK: &str = "mutation($id: ID!, $d: ID!) {
  rollbackApplication(id: $id, deployment: $d, queue: true) { status }
}";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input, queue: true) { status }
}";

/// Answers `<version.txt>/<$GREETING or ->`; `GET /slow` first connects to `$GATE` and waits
/// for a byte from it, so a request stays in flight as long as a test wants (apps run in a
/// sandbox of their own files; the network is the way in).
fn app() -> PythonApp {
    PythonApp::new()
        .prelude(
            "version = open(\"version.txt\").read().strip()\n\
             def gate():\n    \
                 import socket\n    \
                 host, port = os.environ[\"GATE\"].rsplit(\":\", 1)\n    \
                 with socket.create_connection((host, int(port))) as s:\n        \
                     s.recv(1)\n    \
                 return \"slow \"",
        )
        .body(
            "(gate() if self.path == \"/slow\" else \"\") + version + \"/\" \
             + os.environ.get(\"GREETING\", \"-\")",
        )
}

/// Deploys `app` as `name` at `v1` (with no `$GREETING`), until the router serves it; returns the repository, the app's id and its URL.
async fn deploy(
    alice: &Client,
    router: SocketAddr,
    name: &str,
    app: &PythonApp,
    extra: serde_json::Value,
) -> anyhow::Result<(tempfile::TempDir, String, String)> {
    let (repo, id) = paas_tests::steps::deployed_with(
        alice,
        name,
        &[("app.py", &app.source()), ("version.txt", "v1\n")],
        extra,
    )
    .await?;
    let url = show(alice, &id).await?["endpoint"]["url"]
        .as_str()
        .context("no URL")?
        .to_owned();
    // The router hears of RUNNING on the bus, a moment after the API shows it.
    answers(router, &url, "v1/-").await?;
    Ok((repo, id, url))
}

/// Waits until the app answers `expected` at `url` through the router.
async fn answers(router: SocketAddr, url: &str, expected: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(120), || async {
        let got = router::get(router, url).await.ok();
        Ok(got
            .filter(|(status, body)| *status == 200 && body == expected)
            .map(|_| ()))
    })
    .await
    .with_context(|| format!("{url} never answered {expected:?}"))
}

/// Commits `version` and redeploys, once the app is settled (no task holds it).
async fn redeploy(
    alice: &Client,
    id: &str,
    repo: &tempfile::TempDir,
    version: &str,
) -> anyhow::Result<()> {
    settled(alice, id).await?;
    commit_version(repo.path(), &[("version.txt", &format!("{version}\n"))])?;
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    Ok(())
}

async fn one_url_across_redeploy_restart_rollback_and_env(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let (repo, id, url) = deploy(&alice, router, "stable", &app(), json!({})).await?;
    assert_eq!(url, router::app_url(router, "stable"));
    answers(router, &url, "v1/-").await?;
    let first = show(&alice, &id).await?["deployments"][0]["id"].clone();

    redeploy(&alice, &id, &repo, "v2").await?;
    answers(router, &url, "v2/-").await?;

    settled(&alice, &id).await?;
    let before = instance(&alice, &id).await?.context("no instance")?;
    alice.data(RESTART, json!({ "id": id })).await?;
    let after = eventually(Duration::from_secs(60), || async {
        let now = instance(&alice, &id).await?;
        Ok(now.filter(|i| i["id"] != before["id"]))
    })
    .await?;
    assert_ne!(after["port"], before["port"], "a new instance");
    answers(router, &url, "v2/-").await?;

    settled(&alice, &id).await?;
    alice
        .data(ROLLBACK, json!({ "id": id, "d": first }))
        .await?;
    answers(router, &url, "v1/-").await?;

    settled(&alice, &id).await?;
    let env = json!({ "env": [{ "key": "GREETING", "value": "hi" }] });
    alice
        .data(UPDATE, json!({ "id": id, "input": env }))
        .await?;
    answers(router, &url, "v1/hi").await?;

    let shown = settled(&alice, &id).await?;
    assert_eq!(
        shown["endpoint"]["url"],
        url.as_str(),
        "the URL never moved"
    );
    Ok(())
}
on_both_databases!(one_url_across_redeploy_restart_rollback_and_env);

/// Clients calling the app while it is redeployed again and again: every request answered 200.
async fn redeploys_fail_no_request(db: TestDb) -> anyhow::Result<()> {
    const CLIENTS: usize = 4;
    const MAX_PER_CLIENT: usize = 2_000;
    const REDEPLOYS: usize = 10;
    let server = TestApp::spawn(db, &[]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let (repo, id, url) = deploy(&alice, router, "busy", &app(), json!({})).await?;
    answers(router, &url, "v1/-").await?;

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (stop, sent, url) = (stop.clone(), sent.clone(), url.clone());
        let http = router::client_for(router, &url)?;
        clients.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            let mut last = String::new();
            // Paced, so that the bounded number of requests spans every redeploy.
            let mut pace = tokio::time::interval(Duration::from_millis(10));
            for _ in 0..MAX_PER_CLIENT {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                pace.tick().await;
                sent.fetch_add(1, Ordering::SeqCst);
                match http.get(&url).send().await {
                    Ok(r) if r.status() == 200 => match r.text().await {
                        Ok(body) => last = body,
                        Err(e) => failures.push(format!("body: {e:?}")),
                    },
                    Ok(r) => failures.push(format!("status {}", r.status())),
                    Err(e) => failures.push(format!("{e:?}")),
                }
            }
            (failures, last)
        }));
    }
    for n in 2..=REDEPLOYS + 1 {
        let version = format!("v{n}");
        redeploy(&alice, &id, &repo, &version).await?;
        answers(router, &url, &format!("{version}/-")).await?;
    }
    stop.store(true, Ordering::SeqCst);
    let last = format!("v{}/-", REDEPLOYS + 1);
    for client in clients {
        let (failures, seen) = client.await?;
        assert!(failures.is_empty(), "failed requests: {failures:?}");
        assert!(
            seen.is_empty() || seen.starts_with('v'),
            "an answer of the app: {seen}"
        );
    }
    assert!(sent.load(Ordering::SeqCst) > CLIENTS, "the clients called");
    answers(router, &url, &last).await?;
    Ok(())
}
on_both_databases!(redeploys_fail_no_request);

/// A websocket opened before a redeploy keeps echoing after the new instance went live, until
/// the drain timeout removes the old instance.
async fn a_websocket_lives_until_the_drain_timeout(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &["--drain-timeout-ms", "4000"]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let echo = app().websocket();
    let (repo, id, url) = deploy(&alice, router, "echo", &echo, json!({})).await?;
    let mut ws = router::websocket(router, &url).await?;
    ws.send(Message::text("before")).await?;
    assert_eq!(next_text(&mut ws).await?, "before");

    redeploy(&alice, &id, &repo, "v2").await?;
    answers(router, &url, "v2/-").await?;
    // New requests go to the new instance; the websocket still reaches the old one.
    ws.send(Message::text("after the switch")).await?;
    assert_eq!(next_text(&mut ws).await?, "after the switch");

    // The drain timeout passes: the old instance is removed, and the socket with it.
    let closed = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the websocket outlived the drain timeout");
    answers(router, &url, "v2/-").await?;
    Ok(())
}
on_both_databases!(a_websocket_lives_until_the_drain_timeout);

async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> anyhow::Result<String> {
    let next = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match ws.next().await.context("the websocket closed")?? {
                Message::Text(t) => return Ok::<_, anyhow::Error>(t.to_string()),
                Message::Close(frame) => anyhow::bail!("the websocket closed: {frame:?}"),
                _ => {}
            }
        }
    })
    .await
    .context("no echo in time")??;
    Ok(next)
}

/// A request in flight on the old instance when the route switches completes, with 200.
async fn a_slow_request_outlives_the_switch(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let gate = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let env = json!({ "env": [{ "key": "GATE", "value": gate.local_addr()?.to_string() }] });
    let (repo, id, url) = deploy(&alice, router, "slow", &app(), env).await?;

    let mut slow = {
        let (http, url) = (
            router::client_for(router, &url)?,
            format!("{}slow", url.as_str()),
        );
        tokio::spawn(async move {
            let response = http.get(&url).send().await?;
            let status = response.status().as_u16();
            Ok::<_, anyhow::Error>((status, response.text().await?))
        })
    };
    let (mut held, _) = tokio::select! {
        accepted = tokio::time::timeout(Duration::from_secs(30), gate.accept()) => {
            accepted.context("the slow request never reached the app")??
        }
        answer = &mut slow => anyhow::bail!("the slow request ended at once: {:?}", answer?),
    };

    redeploy(&alice, &id, &repo, "v2").await?;
    answers(router, &url, "v2/-").await?;
    assert!(!slow.is_finished(), "the slow request still waits");
    tokio::io::AsyncWriteExt::write_all(&mut held, b"go").await?;
    let (status, body) = slow.await??;
    assert_eq!((status, body.as_str()), (200, "slow v1/-"));
    Ok(())
}
on_both_databases!(a_slow_request_outlives_the_switch);
