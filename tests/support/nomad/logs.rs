//! `GET /v1/client/fs/logs/:alloc`: framed (JSON frames back to back, base64 `Data`, `{}`
//! heartbeats every second), and a followed log that does not end when the task dies.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde_json::json;

use super::{Shared, StateInner, text};

pub(super) async fn logs(
    shared: Arc<Shared>,
    id: &str,
    query: &HashMap<String, String>,
) -> Response {
    // Refusals as Nomad's: command/agent/fs_endpoint.go `Logs` (400s) and client/fs_endpoint.go
    // `logs` (unknown task, task not started).
    let task = query.get("task").cloned().unwrap_or_default();
    if task.is_empty() {
        return text(StatusCode::BAD_REQUEST, "must provide task name");
    }
    let kind = query.get("type").cloned().unwrap_or_default();
    if kind != "stdout" && kind != "stderr" {
        return text(
            StatusCode::BAD_REQUEST,
            "must provide log type (stdout/stderr)",
        );
    }
    let Ok(offset) = query.get("offset").map_or(Ok(0), |o| o.parse::<usize>()) else {
        return text(StatusCode::BAD_REQUEST, "error parsing offset");
    };
    let origin = query
        .get("origin")
        .cloned()
        .unwrap_or_else(|| "start".into());
    if origin != "start" && origin != "end" {
        return text(StatusCode::BAD_REQUEST, "origin must be start or end");
    }
    if task != "app" {
        return text(
            StatusCode::BAD_REQUEST,
            format!("unknown task name {task:?}"),
        );
    }
    let started = shared.with(|s| {
        s.allocs
            .get(id)
            .map(|a| a.events.iter().any(|e| e["Type"] == "Started"))
    });
    match started {
        None => {
            return text(StatusCode::NOT_FOUND, format!("Unknown allocation {id:?}"));
        }
        Some(false) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("task {task:?} not started yet. No logs available"),
            );
        }
        Some(true) => {}
    }
    if query.get("plain").is_some_and(|p| p == "true") {
        shared.with(|s| {
            s.problems
                .push("logs asked plain; the runtime reads frames".into())
        });
    }
    // The file a frame comes from, relative to the allocation dir: `<task>.<type>.<index>` under
    // `alloc/logs` (Nomad's client/fs_endpoint.go `logsImpl`).
    let file = format!("alloc/logs/app.{kind}.0");
    let follow = query.get("follow").is_some_and(|f| f == "true");
    let id = id.to_owned();
    let content = move |s: &StateInner| -> Option<Vec<u8>> {
        let a = s.allocs.get(&id)?;
        Some(if kind == "stdout" {
            a.stdout.clone()
        } else {
            a.stderr.clone()
        })
    };
    let Some(now) = shared.with(|s| content(s)) else {
        return text(StatusCode::NOT_FOUND, "Unknown allocation");
    };
    let start = if origin == "end" {
        now.len().saturating_sub(offset)
    } else {
        offset.min(now.len())
    };
    let frame = move |data: &[u8], at: usize| {
        json!({
            "Offset": at,
            "Data": base64::engine::general_purpose::STANDARD.encode(data),
            "File": file,
        })
        .to_string()
    };
    if !follow {
        let body = if start < now.len() {
            frame(&now[start..], now.len())
        } else {
            String::new()
        };
        return Response::builder()
            .header("Content-Type", "application/json")
            .body(Body::from(body))
            .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response"));
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(16);
    tokio::spawn(async move {
        let mut sent = start;
        let mut beat = tokio::time::Instant::now();
        loop {
            let current = shared.with(|s| content(s)).unwrap_or_default();
            if current.len() > sent {
                if tx
                    .send(Ok(frame(&current[sent..], current.len())))
                    .await
                    .is_err()
                {
                    return;
                }
                sent = current.len();
            }
            if beat.elapsed() >= Duration::from_secs(1) {
                // Nomad's heartbeat; the stream goes on after the task died.
                if tx.send(Ok("{}".to_owned())).await.is_err() {
                    return;
                }
                beat = tokio::time::Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    Response::builder()
        .header("Content-Type", "application/json")
        .body(Body::from_stream(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
        .unwrap_or_else(|_| text(StatusCode::INTERNAL_SERVER_ERROR, "response"))
}
