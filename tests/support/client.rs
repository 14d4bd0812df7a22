//! A GraphQL client for tests: queries over HTTP, subscriptions over graphql-transport-ws.

use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Talks to one server as one user.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    /// The server's router, where apps answer by name.
    router: Option<std::net::SocketAddr>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            base: base.to_owned(),
            token,
            http: reqwest::Client::new(),
            router: None,
        }
    }

    /// The same client, knowing the server's router (apps are reached through it).
    pub fn with_router(mut self, router: Option<std::net::SocketAddr>) -> Self {
        self.router = router;
        self
    }

    /// The server's router address, if it runs one.
    pub fn router(&self) -> Option<std::net::SocketAddr> {
        self.router
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The server's base URL (`http://127.0.0.1:<port>`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Runs a query; returns the whole response (`data` and `errors`).
    pub async fn gql(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        Ok(req.send().await?.error_for_status()?.json().await?)
    }

    /// Runs a query that must succeed; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> anyhow::Result<Value> {
        let resp = self.gql(query, variables).await?;
        if let Some(errors) = resp.get("errors") {
            bail!("GraphQL errors: {errors}");
        }
        Ok(resp["data"].clone())
    }

    /// Runs a query that must fail; returns the first error's `extensions.code`.
    pub async fn error_code(&self, query: &str, variables: Value) -> anyhow::Result<String> {
        let resp = self.gql(query, variables).await?;
        resp["errors"][0]["extensions"]["code"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("expected an error with a code, got {resp}"))
    }

    /// Opens a subscription.
    pub async fn subscribe(&self, query: &str, variables: Value) -> anyhow::Result<Subscription> {
        let ws_url = format!("{}/graphql/ws", self.base.replacen("http://", "ws://", 1));
        let mut req = ws_url.into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
        let payload = match &self.token {
            Some(t) => json!({ "Authorization": format!("Bearer {t}") }),
            None => json!({}),
        };
        ws.send(Message::text(
            json!({"type": "connection_init", "payload": payload}).to_string(),
        ))
        .await?;
        loop {
            let msg = next_json(&mut ws).await?;
            match msg["type"].as_str() {
                Some("connection_ack") => break,
                Some("ping") => continue,
                _ => bail!("connection refused: {msg}"),
            }
        }
        ws.send(Message::text(
            json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}})
                .to_string(),
        ))
        .await?;
        Ok(Subscription { ws })
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> anyhow::Result<Value> {
    loop {
        match ws.next().await.context("websocket closed")?? {
            Message::Text(t) => return Ok(serde_json::from_str(&t)?),
            Message::Close(frame) => bail!("websocket closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// An open subscription.
pub struct Subscription {
    ws: Ws,
}

impl Subscription {
    /// The next `data` payload, waiting up to `timeout`; an `error` message or the end fails.
    pub async fn next(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        match self.next_or_end(timeout).await? {
            Some(v) => Ok(v),
            None => bail!("the subscription completed"),
        }
    }

    /// The next `data` payload, or `None` once the server completed the subscription; an
    /// `error` message fails.
    pub async fn next_or_end(&mut self, timeout: Duration) -> anyhow::Result<Option<Value>> {
        tokio::time::timeout(timeout, async {
            loop {
                let msg = next_json(&mut self.ws).await?;
                match msg["type"].as_str() {
                    Some("next") => return Ok(Some(msg["payload"].clone())),
                    Some("complete") => return Ok(None),
                    Some("ping") => {
                        self.ws
                            .send(Message::text(json!({"type": "pong"}).to_string()))
                            .await?;
                    }
                    _ => bail!("subscription ended: {msg}"),
                }
            }
        })
        .await
        .context("no subscription message in time")?
    }
}
