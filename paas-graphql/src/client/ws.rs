//! Subscriptions over graphql-transport-ws on `/graphql/ws`: the token goes in the
//! `connection_init` payload; each `next` message is one typed event.

use futures::{SinkExt, StreamExt};
use graphql_client::GraphQLQuery;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::failure::Failure;
use super::http::{Answer, Api, api_error, root_cause};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One running subscription (one per connection).
pub struct Subscription<T> {
    socket: Socket,
    /// The server, named when the connection goes away.
    server: String,
    _data: std::marker::PhantomData<T>,
}

impl Api {
    /// Opens a connection, authenticates and starts `Q`.
    pub async fn subscribe<Q: GraphQLQuery>(
        &self,
        variables: Q::Variables,
    ) -> Result<Subscription<Q::ResponseData>, Failure> {
        let url = format!(
            "{}/graphql/ws",
            self.server()
                .replacen("https://", "wss://", 1)
                .replacen("http://", "ws://", 1)
        );
        let unreachable = |detail: String| Failure::Unreachable {
            server: self.server().to_owned(),
            detail,
        };
        let mut request = url
            .into_client_request()
            .map_err(|e| Failure::Usage(format!("{}: {e}", self.server())))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            http_value("graphql-transport-ws")?,
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request)
            .await
            .map_err(|e| unreachable(root_cause(&e)))?;
        let payload = match self.token() {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": payload }),
        )
        .await?;
        loop {
            match receive(&mut socket).await? {
                Some(m) if m["type"] == "connection_ack" => break,
                Some(m) if m["type"] == "ping" => {
                    send(&mut socket, json!({"type": "pong"})).await?
                }
                Some(_) => continue,
                // Refused at `connection_init`: the only reason is the token.
                None => {
                    return Err(Failure::api(
                        paas_core::ErrorCode::Unauthenticated,
                        "the server refused the token",
                    ));
                }
            }
        }
        let query = Q::build_query(variables);
        send(
            &mut socket,
            json!({ "id": "1", "type": "subscribe", "payload": query }),
        )
        .await?;
        Ok(Subscription {
            socket,
            server: self.server().to_owned(),
            _data: std::marker::PhantomData,
        })
    }
}

impl<T: DeserializeOwned> Subscription<T> {
    /// The next event, or `None` once the server completed the subscription.
    pub async fn next(&mut self) -> Result<Option<Answer<T>>, Failure> {
        loop {
            // Gone before it completed the subscription: the server stopped or the network
            // broke, as when it cannot be reached.
            let gone = |detail: String| Failure::Unreachable {
                server: self.server.clone(),
                detail,
            };
            let message = match receive(&mut self.socket).await {
                Ok(Some(message)) => message,
                Ok(None) => return Err(gone("the connection closed".into())),
                Err(Failure::Local(detail)) => return Err(gone(detail)),
                Err(other) => return Err(other),
            };
            match message["type"].as_str() {
                Some("next") => {
                    let payload = &message["payload"];
                    if let Some(failure) = api_error(payload.get("errors")) {
                        return Err(failure);
                    }
                    let raw = payload.get("data").cloned().unwrap_or(Value::Null);
                    let data = serde_json::from_value(raw.clone()).map_err(|e| {
                        Failure::Local(format!("an event of an unexpected shape: {e}"))
                    })?;
                    return Ok(Some(Answer { data, raw }));
                }
                Some("error") => {
                    return Err(
                        api_error(Some(&message["payload"])).unwrap_or(Failure::Api {
                            code: "ERROR".into(),
                            message: message["payload"].to_string(),
                        }),
                    );
                }
                Some("complete") => return Ok(None),
                Some("ping") => send(&mut self.socket, json!({"type": "pong"})).await?,
                _ => continue,
            }
        }
    }
}

fn http_value(
    text: &'static str,
) -> Result<tokio_tungstenite::tungstenite::http::HeaderValue, Failure> {
    tokio_tungstenite::tungstenite::http::HeaderValue::from_str(text)
        .map_err(|e| Failure::Local(e.to_string()))
}

async fn send(socket: &mut Socket, message: Value) -> Result<(), Failure> {
    socket
        .send(Message::text(message.to_string()))
        .await
        .map_err(|e| Failure::Local(format!("the subscription's connection broke: {e}")))
}

/// The next JSON message, or `None` when the socket closed.
async fn receive(socket: &mut Socket) -> Result<Option<Value>, Failure> {
    loop {
        match socket.next().await {
            None | Some(Ok(Message::Close(_))) => return Ok(None),
            Some(Err(e)) => {
                return Err(Failure::Local(format!(
                    "the subscription's connection broke: {e}"
                )));
            }
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text).map(Some).map_err(|e| {
                    Failure::Local(format!("not a graphql-transport-ws message: {e}"))
                });
            }
            Some(Ok(_)) => continue,
        }
    }
}
