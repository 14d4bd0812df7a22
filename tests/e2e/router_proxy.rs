//! The router's HTTP adapter end to end, with apps deployed through GraphQL and answering by
//! name on the router's port: forwarding headers, pooled upstream connections and the
//! keep-alive race, streaming both ways, HTTP/2 without TLS, websockets past the idle timeout,
//! slowloris, the body limit, bad input that never reaches an app, traffic in GraphQL, access
//! lines and `GET /routes`. HTTPS is in `router_tls`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use paas_tests::apps::{self, PythonApp};
use paas_tests::router::{client, raw, routed, url};
use paas_tests::steps::deployed;
use paas_tests::{TestApp, TestDb, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

use crate::on_both_databases;

const ADMIN: &str = "operator-token-for-routes";
const WAIT: Duration = Duration::from_secs(30);

on_both_databases!(
    proxies_by_name_with_forwarding_and_pooling,
    bad_input_gets_4xx_and_never_reaches_an_app,
    bodies_stream_both_ways_and_h2c_works,
    websockets_outlive_the_idle_timeout_and_slow_heads_are_cut,
);

/// `GET /routes` on the API: status and JSON.
async fn routes(app: &TestApp, token: Option<&str>) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new().get(format!("{}/routes", app.url));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

async fn get_json(http: &reqwest::Client, url: String) -> anyhow::Result<Value> {
    let res = http.get(url).send().await?;
    anyhow::ensure!(res.status() == 200, "status {}", res.status());
    Ok(res.json().await?)
}

const TRAFFIC: &str = "query($id: ID!) { application(id: $id) {
  traffic { windowSeconds requests errors p50Ms p99Ms bytesIn bytesOut } } }";

async fn proxies_by_name_with_forwarding_and_pooling(db: TestDb) -> anyhow::Result<()> {
    let app = TestApp::spawn(db, &["--admin-token", ADMIN, "--router-access-log", "all"]).await?;
    let alice = app.user("alice").await?;
    let (_repo, id) = deployed(&alice, "insp", &[("app.py", &apps::inspector())]).await?;
    let router = app.router.context("no router")?;
    routed(router, "insp.localhost").await?;
    let http = client(&["insp.localhost"], router, None)?;
    // The router may have answered 503 while its table caught up with the deploy.
    let errors_before =
        alice.data(TRAFFIC, json!({ "id": id })).await?["application"]["traffic"]["errors"].clone();

    // Who asked, as the app sees it; what belongs to one connection stays there.
    let seen: Value = http
        .get(url("insp.localhost", router, "/headers"))
        .header("Connection", "keep-alive, x-drop-me")
        .header("X-Drop-Me", "1")
        .header("Keep-Alive", "timeout=5")
        .header("Proxy-Authorization", "Basic eDp5")
        .header("X-Forwarded-For", "10.0.0.9")
        .send()
        .await?
        .json()
        .await?;
    let h = &seen["headers"];
    assert_eq!(
        h["x-forwarded-for"],
        json!(["10.0.0.9, 127.0.0.1"]),
        "{seen}"
    );
    assert_eq!(h["x-forwarded-proto"], json!(["http"]));
    assert_eq!(h["x-forwarded-host"], json!(["insp.localhost"]));
    assert_eq!(
        h["forwarded"],
        json!(["for=127.0.0.1;host=insp.localhost;proto=http"])
    );
    assert_eq!(
        h["host"],
        json!([format!("insp.localhost:{}", router.port())])
    );
    for gone in [
        "x-drop-me",
        "keep-alive",
        "proxy-authorization",
        "connection",
    ] {
        assert!(h.get(gone).is_none(), "{gone} reached the app: {seen}");
    }

    // Upstream connections are pooled: sequential requests reuse one.
    let mut ports = std::collections::BTreeSet::new();
    for _ in 0..5 {
        let s = get_json(&http, url("insp.localhost", router, "/headers")).await?;
        ports.insert(s["peer_port"].as_u64());
    }
    assert!(
        ports.len() < 5,
        "no upstream connection was reused: {ports:?}"
    );

    // The keep-alive race: the app closes a reused connection as the request arrives; the
    // client never sees it.
    for _ in 0..6 {
        let res = http
            .get(url("insp.localhost", router, "/once"))
            .send()
            .await?;
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await?, "hello");
    }
    let record = get_json(&http, url("insp.localhost", router, "/seen")).await?;
    let onces = record
        .as_array()
        .map_or(0, |a| a.iter().filter(|r| r["path"] == "/once").count());
    assert!(
        onces > 6,
        "the app never closed a reused connection: {record}"
    );

    // Bytes both ways are counted; the traffic shows in GraphQL.
    let sent = http
        .post(url("insp.localhost", router, "/upload"))
        .body(vec![7u8; 1000])
        .send()
        .await?;
    assert_eq!(sent.json::<Value>().await?["bytes"], 1000);
    let traffic = eventually(WAIT, || async {
        let t = alice.data(TRAFFIC, json!({ "id": id })).await?["application"]["traffic"].clone();
        Ok(
            (t["requests"].as_u64() >= Some(14) && t["bytesIn"].as_u64() >= Some(1000))
                .then_some(t),
        )
    })
    .await?;
    assert_eq!(traffic["windowSeconds"], 300);
    assert_eq!(traffic["errors"], errors_before, "{traffic}");
    assert!(traffic["bytesOut"].as_u64() > Some(0), "{traffic}");
    assert!(traffic["p50Ms"].as_f64().is_some() && traffic["p99Ms"].as_f64().is_some());

    // Access lines in the app's own log (ROUTER stream).
    eventually(WAIT, || async {
        let page = paas_tests::steps::page(
            &alice,
            json!({ "app": id, "streams": ["ROUTER"], "limit": 500 }),
        )
        .await?;
        let lines = page["lines"].as_array().cloned().unwrap_or_default();
        Ok(lines
            .iter()
            .any(|l| {
                let t = l["text"].as_str().unwrap_or("");
                t.contains("\"POST /upload HTTP/1.1\" 200") && t.contains("insp.localhost")
            })
            .then_some(()))
    })
    .await?;

    // The route table, for the operator only.
    assert_eq!(routes(&app, None).await?.0, 401);
    assert_eq!(routes(&app, alice.token()).await?.0, 403);
    assert_eq!(routes(&app, Some("wrong")).await?.0, 403);
    let (status, table) = routes(&app, Some(ADMIN)).await?;
    assert_eq!(status, 200);
    let route = table
        .as_array()
        .and_then(|r| r.iter().find(|r| r["name"] == "insp"))
        .context("insp in GET /routes")?;
    assert_eq!(route["hosts"], json!(["insp.localhost"]));
    assert_eq!(route["backends"].as_array().map(Vec::len), Some(1));
    Ok(())
}

async fn bad_input_gets_4xx_and_never_reaches_an_app(db: TestDb) -> anyhow::Result<()> {
    let app = TestApp::spawn(db, &["--admin-token", ADMIN, "--router-max-body-mb", "1"]).await?;
    let alice = app.user("alice").await?;
    let (_repo, _id) = deployed(&alice, "insp", &[("app.py", &apps::inspector())]).await?;
    let router = app.router.context("no router")?;
    routed(router, "insp.localhost").await?;
    let before = routes(&app, Some(ADMIN)).await?.1;

    let flood: String = (0..150).map(|i| format!("X-Flood-{i}: v\r\n")).collect();
    let deluge: String = (0..300).map(|i| format!("X-Flood-{i}: v\r\n")).collect();
    let huge = "h".repeat(40_000);
    let cases: Vec<(String, u16, &str)> = vec![
        (
            "GET /bad-host HTTP/1.1\r\nHost: bad_host!\r\n".into(),
            400,
            "not a valid name",
        ),
        ("GET /bad-nohost HTTP/1.1\r\n".into(), 400, ""),
        (
            "GET http://evil.example/bad-open HTTP/1.1\r\nHost: insp.localhost\r\n".into(),
            400,
            "not a forward proxy",
        ),
        (
            "GET http://insp.localhost/bad-other HTTP/1.1\r\nHost: other.localhost\r\n".into(),
            400,
            "not a forward proxy",
        ),
        (
            "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n".into(),
            405,
            "not a forward proxy",
        ),
        (
            format!("GET /bad-flood HTTP/1.1\r\nHost: insp.localhost\r\n{flood}"),
            431,
            "too many headers",
        ),
        (
            format!("GET /bad-huge HTTP/1.1\r\nHost: insp.localhost\r\nX-Huge: {huge}\r\n"),
            431,
            "too many headers",
        ),
        (
            format!("GET /bad-deluge HTTP/1.1\r\nHost: insp.localhost\r\n{deluge}"),
            431,
            "",
        ),
        (
            "POST /bad-big HTTP/1.1\r\nHost: insp.localhost\r\nContent-Length: 2097152\r\n".into(),
            413,
            "over this router's limit",
        ),
    ];
    for (head, status, says) in &cases {
        let (got, body) = raw(router, &format!("{head}Connection: close\r\n\r\n"), b"").await?;
        assert_eq!(got, *status, "{head:.80}: {body}");
        assert!(body.contains(says), "{head:.80}: {body}");
    }

    // None of it reached the app, and the table is as it was.
    let http = client(&["insp.localhost"], router, None)?;
    let record = get_json(&http, url("insp.localhost", router, "/seen")).await?;
    for r in record.as_array().context("a record")? {
        let path = r["path"].as_str().unwrap_or("");
        assert!(
            !path.contains("bad"),
            "a refused request reached the app: {r}"
        );
        assert_ne!(r["host"], "evil.example", "{r}");
    }
    assert_eq!(routes(&app, Some(ADMIN)).await?.1, before);

    // A chunked body growing past the limit is cut: 413 to the client, the app gets less.
    let chunk = vec![b'x'; 64 * 1024];
    let mut body = Vec::new();
    for _ in 0..32 {
        body.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend_from_slice(&chunk);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let head = "POST /upload HTTP/1.1\r\nHost: insp.localhost\r\nTransfer-Encoding: chunked\r\n\
                Connection: close\r\n\r\n";
    let (got, text) = raw(router, head, &body).await?;
    assert_eq!(got, 413, "{text}");
    let progress = get_json(&http, url("insp.localhost", router, "/progress")).await?;
    assert!(
        progress["bytes"].as_u64() <= Some(1024 * 1024),
        "the app got more than the limit: {progress}"
    );
    assert_eq!(
        http.get(url("insp.localhost", router, "/"))
            .send()
            .await?
            .status(),
        200
    );
    Ok(())
}

async fn bodies_stream_both_ways_and_h2c_works(db: TestDb) -> anyhow::Result<()> {
    let app = TestApp::spawn(db, &[]).await?;
    let alice = app.user("alice").await?;
    let (_repo, _id) = deployed(&alice, "insp", &[("app.py", &apps::inspector())]).await?;
    let router = app.router.context("no router")?;
    routed(router, "insp.localhost").await?;
    let http = client(&["insp.localhost"], router, None)?;

    // An upload is not buffered: the app counts the first chunk while the rest is unsent.
    let mut upload = tokio::net::TcpStream::connect(router).await?;
    let head =
        "POST /upload HTTP/1.1\r\nHost: insp.localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
    upload.write_all(head.as_bytes()).await?;
    let chunk = |n: usize| {
        let mut c = format!("{n:x}\r\n").into_bytes();
        c.extend(std::iter::repeat_n(b'u', n));
        c.extend_from_slice(b"\r\n");
        c
    };
    upload.write_all(&chunk(64 * 1024)).await?;
    eventually(WAIT, || async {
        let p = get_json(&http, url("insp.localhost", router, "/progress")).await?;
        Ok((p["bytes"].as_u64() >= Some(64 * 1024)).then_some(()))
    })
    .await
    .context("the app did not see the first chunk before the last was sent")?;
    for _ in 0..3 {
        upload.write_all(&chunk(64 * 1024)).await?;
    }
    upload.write_all(b"0\r\n\r\n").await?;
    let expected = format!("{{\"bytes\": {}}}", 4 * 64 * 1024);
    let (mut answer, mut buf) = (String::new(), vec![0u8; 4096]);
    while !answer.contains(&expected) {
        let n = tokio::time::timeout(WAIT, upload.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "closed before the whole answer: {answer}");
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A response streams back as the app writes it.
    let mut stream = http
        .get(url("insp.localhost", router, "/stream"))
        .send()
        .await?;
    let first = tokio::time::timeout(WAIT, stream.chunk()).await??;
    assert_eq!(first.as_deref(), Some(&b"first\n"[..]));
    get_json(&http, url("insp.localhost", router, "/release")).await?;
    let mut rest = Vec::new();
    while let Some(c) = stream.chunk().await? {
        rest.extend_from_slice(&c);
    }
    assert_eq!(rest, b"last\n");

    // HTTP/2 without TLS (prior knowledge).
    let h2 = reqwest::Client::builder()
        .http2_prior_knowledge()
        .resolve("insp.localhost", router)
        .build()?;
    let res = h2
        .get(url("insp.localhost", router, "/headers"))
        .send()
        .await?;
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    let seen: Value = res.json().await?;
    assert_eq!(
        seen["headers"]["x-forwarded-host"],
        json!(["insp.localhost"])
    );
    assert_eq!(
        seen["version"], "HTTP/1.1",
        "the app is spoken to in HTTP/1.1"
    );
    Ok(())
}

/// Opens a websocket to `host` through the router.
async fn websocket(
    router: SocketAddr,
    host: &str,
) -> anyhow::Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>> {
    let tcp = tokio::net::TcpStream::connect(router).await?;
    let uri = format!("ws://{host}:{}/", router.port());
    let (ws, _) = tokio_tungstenite::client_async(uri, tcp).await?;
    Ok(ws)
}

async fn echo(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    text: &str,
) -> anyhow::Result<()> {
    ws.send(Message::text(text)).await?;
    match tokio::time::timeout(WAIT, ws.next()).await? {
        Some(Ok(Message::Text(t))) if t.as_str() == text => Ok(()),
        other => anyhow::bail!("no echo of {text}: {other:?}"),
    }
}

async fn websockets_outlive_the_idle_timeout_and_slow_heads_are_cut(
    db: TestDb,
) -> anyhow::Result<()> {
    let app = TestApp::spawn(
        db,
        &[
            "--router-idle-timeout-ms",
            "400",
            "--router-header-timeout-ms",
            "400",
        ],
    )
    .await?;
    let alice = app.user("alice").await?;
    let source = PythonApp::websocket_echo().source();
    let (_repo, _id) = deployed(&alice, "echo", &[("app.py", &source)]).await?;
    let router = app.router.context("no router")?;
    routed(router, "echo.localhost").await?;

    let mut ws = websocket(router, "echo.localhost").await?;
    echo(&mut ws, "before").await?;
    // Quiet for longer than the router's idle timeout: the websocket is the app's to end.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    echo(&mut ws, "after").await?;
    ws.close(None).await?;

    // A plain connection idle as long is closed.
    let mut idle = tokio::net::TcpStream::connect(router).await?;
    idle.write_all(b"GET / HTTP/1.1\r\nHost: echo.localhost\r\n\r\n")
        .await?;
    let mut buf = vec![0u8; 4096];
    let mut answer = String::new();
    while !answer.ends_with("hello") {
        let n = tokio::time::timeout(WAIT, idle.read(&mut buf)).await??;
        anyhow::ensure!(n > 0, "closed before the answer: {answer}");
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let closed = tokio::time::timeout(WAIT, idle.read(&mut buf)).await?;
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");

    // A head that never completes (slowloris) is dropped after the header timeout.
    let mut slow = tokio::net::TcpStream::connect(router).await?;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: echo.lo").await?;
    let cut = tokio::time::timeout(WAIT, slow.read(&mut buf)).await?;
    assert!(matches!(cut, Ok(0) | Err(_)), "{cut:?}");
    Ok(())
}
