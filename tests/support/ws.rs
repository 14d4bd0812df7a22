//! A raw graphql-transport-ws connection, message by message, for tests that look at what the
//! protocol does (init timeouts, refusals, several subscriptions on one socket); `Client::
//! subscribe` is the one-subscription shortcut.

use std::time::Duration;

use anyhow::Context;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the server sent next.
#[derive(Debug)]
pub enum WsEvent {
    /// A protocol message.
    Message(Value),
    /// A close frame (its code), or the socket ending without one (`None`).
    Closed(Option<u16>),
}

/// An open websocket on `/graphql/ws`, before or after `connection_init`.
pub struct RawWs {
    ws: Ws,
}

impl RawWs {
    /// Opens the socket (graphql-transport-ws) and sends nothing.
    pub async fn connect(base: &str) -> anyhow::Result<Self> {
        let url = format!("{}/graphql/ws", base.replacen("http://", "ws://", 1));
        let mut req = url.into_client_request()?;
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
        let (ws, _) = tokio_tungstenite::connect_async(req).await?;
        Ok(Self { ws })
    }

    /// Sends `connection_init` with the bearer token and waits for the ack.
    pub async fn init(&mut self, token: &str) -> anyhow::Result<()> {
        self.send(json!({"type": "connection_init",
                         "payload": {"Authorization": format!("Bearer {token}")}}))
            .await?;
        match self.next(Duration::from_secs(10)).await? {
            WsEvent::Message(m) if m["type"] == "connection_ack" => Ok(()),
            other => anyhow::bail!("no connection_ack: {other:?}"),
        }
    }

    /// Starts a subscription under `id`.
    pub async fn subscribe(
        &mut self,
        id: &str,
        query: &str,
        variables: Value,
    ) -> anyhow::Result<()> {
        self.send(json!({"id": id, "type": "subscribe",
                         "payload": {"query": query, "variables": variables}}))
            .await
    }

    pub async fn send(&mut self, message: Value) -> anyhow::Result<()> {
        self.ws.send(Message::text(message.to_string())).await?;
        Ok(())
    }

    /// The next message or the close, answering pings, within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> anyhow::Result<WsEvent> {
        tokio::time::timeout(timeout, async {
            loop {
                match self.ws.next().await {
                    None | Some(Err(_)) => return Ok(WsEvent::Closed(None)),
                    Some(Ok(Message::Close(frame))) => {
                        return Ok(WsEvent::Closed(frame.map(|f| u16::from(f.code))));
                    }
                    Some(Ok(Message::Text(t))) => {
                        let v: Value = serde_json::from_str(&t)?;
                        if v["type"] == "ping" {
                            self.send(json!({"type": "pong"})).await?;
                            continue;
                        }
                        return Ok(WsEvent::Message(v));
                    }
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await
        .context("nothing from the server in time")?
    }
}
