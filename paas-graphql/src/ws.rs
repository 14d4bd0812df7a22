//! `/graphql/ws`: GraphQL over websockets (graphql-transport-ws and the older graphql-ws).
//! A socket that has not sent `connection_init` within the configured time is closed with 4408,
//! as graphql-transport-ws asks (an open socket costs memory and a file descriptor, and an
//! unauthenticated one must not hold them); messages are bounded like request bodies; every
//! connection carries its subscription budget (see `subscriptions`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};

use crate::auth::{Viewer, authenticate, token_from_init_payload};
use crate::server::{AppState, viewer_from_headers};
use crate::subscriptions::ConnectionBudget;

/// graphql-transport-ws: "Connection initialisation timeout".
const INIT_TIMEOUT_CODE: u16 = 4408;

pub(crate) async fn graphql_ws(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let from_headers = viewer_from_headers(&state.platform, &headers).await;
    let max = state.limits.max_body_bytes;
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(max)
        .max_frame_size(max)
        .on_upgrade(move |socket| serve(socket, state, protocol, from_headers))
}

async fn serve(
    socket: WebSocket,
    state: AppState,
    protocol: GraphQLProtocol,
    from_headers: Option<Viewer>,
) {
    let (mut to_client, from_client) = socket.split();
    // The GraphQL side writes into a channel and this task forwards it, so that the timeout
    // below can still write its close frame once the GraphQL side is dropped.
    let (out_tx, mut out_rx) = futures::channel::mpsc::channel::<Message>(16);
    let initialised = Arc::new(AtomicBool::new(false));
    let platform = state.platform.clone();
    let budget = ConnectionBudget::new(state.limits.max_subscriptions_per_connection);
    let init_seen = initialised.clone();
    let graphql =
        GraphQLWebSocket::new_with_pair(out_tx, from_client, state.schema.clone(), protocol)
            .on_connection_init(move |payload| async move {
                init_seen.store(true, Ordering::Release);
                let viewer = match token_from_init_payload(&payload) {
                    Some(token) => authenticate(&platform, &token).await.ok().map(Viewer),
                    None => from_headers,
                };
                // No valid token, no connection: every subscription needs one.
                let viewer =
                    viewer.ok_or_else(|| crate::error::gql(paas_core::Error::Unauthenticated))?;
                let mut data = Data::default();
                data.insert(viewer);
                data.insert(budget);
                Ok(data)
            })
            .serve();
    let init_deadline = async {
        tokio::time::sleep(state.limits.ws_init_timeout).await;
        if initialised.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
    };
    let timed_out = {
        let forward = async {
            while let Some(message) = out_rx.next().await {
                if to_client.send(message).await.is_err() {
                    break;
                }
            }
        };
        tokio::select! {
            _ = futures::future::join(graphql, forward) => false,
            _ = init_deadline => true,
        }
    };
    if timed_out {
        tracing::debug!("websocket closed: no connection_init in time");
        let close = CloseFrame {
            code: INIT_TIMEOUT_CODE,
            reason: "Connection initialisation timeout".into(),
        };
        let _ = to_client.send(Message::Close(Some(close))).await;
        let _ = to_client.close().await;
    }
}
