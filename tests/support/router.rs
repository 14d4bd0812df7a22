//! Reaching apps through the router, as a browser does: `http://<name>.localhost:<port>/` with
//! the name resolved to the router's loopback address. `*.localhost` need not resolve through
//! this machine's resolver, so the client is told where the host is
//! (`reqwest::ClientBuilder::resolve`), and the URL (its `Host` header) stays the app's.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;

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
