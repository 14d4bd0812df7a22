//! Talking to the router as clients do: by name, as a browser does with
//! `http://<name>.localhost:<port>/`. `*.localhost` need not resolve through this machine's
//! resolver, so clients are told where the host is (`reqwest::ClientBuilder::resolve`) and the
//! URL (its `Host` header) stays the app's. Also raw bytes, for heads no well-behaved client
//! sends.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A client sending `http(s)://<host>:<port>/…` to `addr` whatever the name (no DNS), following
/// no redirect; trusting `ca` (PEM) for HTTPS.
pub fn client(
    hosts: &[&str],
    addr: SocketAddr,
    ca: Option<&str>,
) -> anyhow::Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .tls_info(true);
    for host in hosts {
        b = b.resolve(host, addr);
    }
    if let Some(ca) = ca {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes())?);
    }
    Ok(b.build()?)
}

/// `http://<host>:<router port><path>`.
pub fn url(host: &str, addr: SocketAddr, path: &str) -> String {
    format!("http://{host}:{}{path}", addr.port())
}

/// Sends `head` (and `body`) as they are and reads the answer until the router closes or has
/// sent a whole head and `Content-Length` of body; returns the status and the body.
pub async fn raw(addr: SocketAddr, head: &str, body: &[u8]) -> anyhow::Result<(u16, String)> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    let (mut stream, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await?;
    // The router may answer (and close) before taking the whole body: that is the point of
    // some tests. So the body goes out while the answer is read.
    let body = body.to_vec();
    let _writing = tokio::spawn(async move {
        let _ = writer.write_all(&body).await;
        writer
    });
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if let Some(whole) = complete(&got) {
                got.truncate(whole);
                break;
            }
        }
    })
    .await?;
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("no HTTP answer: {text:?}"))?;
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// The length of a whole response in `got` (head and `Content-Length` body), if there is one.
fn complete(got: &[u8]) -> Option<usize> {
    let text = String::from_utf8_lossy(got);
    let (head, _) = text.split_once("\r\n\r\n")?;
    let length = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<usize>().ok())?
        })
        .unwrap_or(0);
    let whole = head.len() + 4 + length;
    (got.len() >= whole).then_some(whole)
}

/// Waits until the router sends `host` to a live instance (its table has heard the app went
/// live: it learns that from the bus, a moment after the status).
pub async fn routed(router: SocketAddr, host: &str) -> anyhow::Result<()> {
    let http = client(&[host], router, None)?;
    crate::eventually(Duration::from_secs(30), || async {
        let res = http.get(url(host, router, "/")).send().await?;
        Ok((res.status() != 503).then_some(()))
    })
    .await
}

/// A client that sends requests for the host of `url` to the router at `router`.
pub fn client_for(router: SocketAddr, url: &str) -> anyhow::Result<reqwest::Client> {
    let parsed = reqwest::Url::parse(url)?;
    let host = parsed.host_str().context("a URL without a host")?;
    Ok(reqwest::Client::builder()
        .resolve(host, router)
        .timeout(Duration::from_secs(30))
        .build()?)
}

/// GETs `url` through the router: the status and the body.
pub async fn get(router: SocketAddr, url: &str) -> anyhow::Result<(u16, String)> {
    let response = client_for(router, url)?.get(url).send().await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

/// GETs `path` from the router with `Host: host` (a custom domain, a host the router does not
/// know): the status and the body.
pub async fn get_host(router: SocketAddr, host: &str, path: &str) -> anyhow::Result<(u16, String)> {
    let url = format!("http://{host}:{}{path}", router.port());
    get(router, &url).await
}

/// A websocket through the router to the app at `url` (`http://<name>.<domain>:<port>/`).
pub async fn websocket(
    router: SocketAddr,
    url: &str,
) -> anyhow::Result<
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let request = url.replacen("http://", "ws://", 1).into_client_request()?;
    let tcp = tokio::net::TcpStream::connect(router).await?;
    let (ws, _) =
        tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
            .await?;
    Ok(ws)
}

/// The URL of the app `name` on a router with the default domain (`localhost`).
pub fn app_url(router: SocketAddr, name: &str) -> String {
    format!("http://{name}.localhost:{}/", router.port())
}
