//! What one client may hold of the server: connections that stall or idle are closed, the
//! connection cap refuses the extra ones and frees with them, websockets must initialise in
//! time, subscriptions are capped, bodies are bounded, and errors never echo a huge input.
//! Timeouts are configured short here (as `PAAS_*` variables, which a server without these
//! settings ignores, so each test shows what it does); the defaults are in the README.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use paas_tests::apps::hello;
use paas_tests::repo::file_url;
use paas_tests::steps::{CREATE, create};
use paas_tests::ws::{RawWs, WsEvent};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest a test waits for something that should happen within the configured timeouts.
const DEADLINE: Duration = Duration::from_secs(10);

fn addr(server: &TestApp) -> String {
    server.url.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes the connection; fails if it is still open after `within`.
async fn read_until_closed(stream: &mut TcpStream, within: Duration) -> anyhow::Result<Vec<u8>> {
    let mut got = Vec::new();
    tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .context("the server kept the connection open")?;
    Ok(got)
}

async fn healthz_on_a_fresh_connection(server: &TestApp) -> anyhow::Result<bool> {
    let mut s = TcpStream::connect(addr(server)).await?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        .await?;
    let got = read_until_closed(&mut s, DEADLINE).await?;
    Ok(got.starts_with(b"HTTP/1.1 200"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_half_sent_request_head_is_cut_off_after_the_header_timeout() -> anyhow::Result<()> {
    let server =
        TestApp::spawn_with_env(TestDb::Sqlite, &[], &[("PAAS_HEADER_TIMEOUT_MS", "500")]).await?;
    let mut s = TcpStream::connect(addr(&server)).await?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\nx-slow: ")
        .await?;
    let started = Instant::now();
    read_until_closed(&mut s, DEADLINE).await?;
    ensure!(
        started.elapsed() >= Duration::from_millis(400),
        "closed too early"
    );
    ensure!(healthz_on_a_fresh_connection(&server).await?, "healthz");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() -> anyhow::Result<()> {
    let server =
        TestApp::spawn_with_env(TestDb::Sqlite, &[], &[("PAAS_IDLE_TIMEOUT_MS", "500")]).await?;
    let mut s = TcpStream::connect(addr(&server)).await?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
        .await?;
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await?;
    ensure!(buf[..n].starts_with(b"HTTP/1.1 200"), "healthz answered");
    let started = Instant::now();
    read_until_closed(&mut s, DEADLINE).await?;
    ensure!(
        started.elapsed() >= Duration::from_millis(400),
        "closed too early"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_refused_and_the_slots_free() -> anyhow::Result<()> {
    let server =
        TestApp::spawn_with_env(TestDb::Sqlite, &[], &[("PAAS_MAX_CONNECTIONS", "20")]).await?;
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(addr(&server)).await?);
    }
    // The held ones are accepted in order; every further one is answered 503 and closed.
    for _ in 0..3 {
        let mut extra = TcpStream::connect(addr(&server)).await?;
        let _ = extra
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n")
            .await;
        let got = read_until_closed(&mut extra, DEADLINE).await?;
        ensure!(
            got.is_empty() || got.starts_with(b"HTTP/1.1 503"),
            "an extra connection was served: {}",
            String::from_utf8_lossy(&got)
        );
    }
    drop(held);
    let deadline = Instant::now() + DEADLINE;
    while !healthz_on_a_fresh_connection(&server).await? {
        ensure!(Instant::now() < deadline, "the slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_without_connection_init_is_closed_with_4408() -> anyhow::Result<()> {
    let server =
        TestApp::spawn_with_env(TestDb::Sqlite, &[], &[("PAAS_WS_INIT_TIMEOUT_MS", "500")]).await?;
    let mut ws = RawWs::connect(&server.url).await?;
    match ws.next(DEADLINE).await? {
        WsEvent::Closed(Some(4408)) => {}
        other => bail!("expected a close with 4408, got {other:?}"),
    }
    // One that initialises in time stays open past the timeout.
    let alice = server.user("alice").await?;
    let mut ws = RawWs::connect(&server.url).await?;
    ws.init(alice.token().context("token")?).await?;
    tokio::time::sleep(Duration::from_millis(800)).await;
    ws.send(json!({"type": "ping"})).await?;
    match ws.next(DEADLINE).await? {
        WsEvent::Message(m) if m["type"] == "pong" => Ok(()),
        other => bail!("an initialised socket was closed: {other:?}"),
    }
}

const STATUS: &str = "subscription($id: ID!) { applicationStatus(id: $id) { status } }";

/// Waits for what the server says about subscription `id` first; returns its error message if
/// it was refused, `None` if it was served.
async fn first_word_on(ws: &mut RawWs, id: &str) -> anyhow::Result<Option<String>> {
    loop {
        let WsEvent::Message(m) = ws.next(DEADLINE).await? else {
            bail!("the socket closed");
        };
        if m["id"] != id {
            continue;
        }
        let errors = match m["type"].as_str() {
            Some("error") => m["payload"].clone(),
            Some("next") => m["payload"]["errors"].clone(),
            _ => Value::Null,
        };
        return Ok(errors[0]["message"].as_str().map(str::to_owned));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_capped_per_connection_and_per_user() -> anyhow::Result<()> {
    // Given as variables (the flags are the same settings), so that a server without the caps
    // still starts and the test shows what it does.
    let env = [
        ("PAAS_MAX_SUBSCRIPTIONS_PER_CONNECTION", "2"),
        ("PAAS_MAX_SUBSCRIPTIONS_PER_USER", "3"),
    ];
    let server = TestApp::spawn_with_env(TestDb::Sqlite, &[], &env).await?;
    let alice = server.user("alice").await?;
    let token = alice.token().context("token")?.to_owned();
    let repo = git_repo(&[("app.py", &hello())])?;
    let url = file_url(repo.path());
    let app = create(
        &alice,
        json!({ "name": "capped", "repository": { "url": url } }),
    )
    .await?;
    let vars = json!({ "id": app });

    let mut first = RawWs::connect(&server.url).await?;
    first.init(&token).await?;
    for id in ["a", "b"] {
        first.subscribe(id, STATUS, vars.clone()).await?;
        ensure!(
            first_word_on(&mut first, id).await?.is_none(),
            "{id} refused"
        );
    }
    first.subscribe("c", STATUS, vars.clone()).await?;
    let refused = first_word_on(&mut first, "c")
        .await?
        .context("c was served")?;
    ensure!(refused.contains("this connection"), "{refused}");

    let mut second = RawWs::connect(&server.url).await?;
    second.init(&token).await?;
    second.subscribe("d", STATUS, vars.clone()).await?;
    ensure!(
        first_word_on(&mut second, "d").await?.is_none(),
        "d refused"
    );
    second.subscribe("e", STATUS, vars.clone()).await?;
    let refused = first_word_on(&mut second, "e")
        .await?
        .context("e was served")?;
    ensure!(refused.contains("this user"), "{refused}");

    // Ending one gives its slot back.
    first.send(json!({"id": "a", "type": "complete"})).await?;
    let deadline = Instant::now() + DEADLINE;
    let mut n = 0;
    loop {
        n += 1;
        let id = format!("f{n}");
        second.subscribe(&id, STATUS, vars.clone()).await?;
        if first_word_on(&mut second, &id).await?.is_none() {
            break;
        }
        ensure!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_gets_413_and_the_server_goes_on() -> anyhow::Result<()> {
    let server =
        TestApp::spawn_with_env(TestDb::Sqlite, &[], &[("PAAS_MAX_BODY_BYTES", "100000")]).await?;
    let http = reqwest::Client::new();
    let big = format!(
        r#"{{"query": "{{ __typename }}", "variables": {{"pad": "{}"}}}}"#,
        "x".repeat(200_000)
    );
    let resp = http
        .post(format!("{}/graphql", server.url))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await?;
    ensure!(resp.status() == 413, "with a length: {}", resp.status());
    // Without a length (chunked), the limit holds while reading.
    let chunks = futures::stream::iter(
        big.into_bytes()
            .chunks(10_000)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    // The server answers 413 as soon as the limit is crossed and closes the connection; a
    // client still writing its body may see that close (a broken pipe) before it reads the
    // answer. Either way the server stopped reading: had it taken the body, it would answer 200.
    let sent = http
        .post(format!("{}/graphql", server.url))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await;
    match sent {
        Ok(resp) => ensure!(resp.status() == 413, "chunked: {}", resp.status()),
        Err(e) => ensure!(e.is_request() || e.is_body(), "chunked: {e:?}"),
    }
    let ok = server.anonymous().gql("{ __typename }", json!({})).await?;
    ensure!(ok["data"]["__typename"] == "QueryRoot", "{ok}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_name_gets_a_short_validation_error() -> anyhow::Result<()> {
    let server = TestApp::spawn(TestDb::Sqlite, &[]).await?;
    let alice = server.user("alice").await?;
    let name = "N".repeat(100_000);
    let input =
        json!({ "input": { "name": name, "repository": { "url": "https://example.com/r.git" } } });
    let resp = alice.gql(CREATE, input).await?;
    let error = &resp["errors"][0];
    ensure!(error["extensions"]["code"] == "INVALID_NAME", "{error}");
    let message = error["message"].as_str().context("message")?;
    ensure!(
        message.len() < 300,
        "{} bytes: {}",
        message.len(),
        &message[..300]
    );
    ensure!(message.contains("NNNN"), "{message}");
    Ok(())
}
