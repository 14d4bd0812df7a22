//! `POST /hooks/git/{hookId}`: push webhooks from GitHub, Gitea/Forgejo and GitLab, handed to
//! [`paas_core::Platform::receive_hook`] with the raw body (its signature is over those bytes).
//! Answers JSON `{ "outcome": ..., "reason": ..., "commit": ... }`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use paas_core::flow::{HookAnswer, HookStatus};
use paas_core::hooks::Delivery;
use paas_core::model::HookId;

use crate::server::AppState;

/// The largest delivery read (GitHub caps its payloads at 25 MB, but a push of a few commits is
/// a few kB).
pub const MAX_BODY: usize = 1024 * 1024;

pub(crate) async fn receive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let unauthorized = || {
        answer(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            Some("unknown hook or bad signature"),
            None,
        )
    };
    let Ok(id) = id.parse::<HookId>() else {
        return unauthorized();
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let delivery = Delivery::from_headers(header, &body);
    match state.platform.receive_hook(id, delivery).await {
        Ok(a) => from_answer(a),
        Err(e) => {
            tracing::warn!(error = %e, "webhook delivery failed");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "error",
                Some("the delivery could not be handled; try again"),
                None,
            )
        }
    }
}

fn from_answer(a: HookAnswer) -> Response {
    let status = match a.status {
        HookStatus::Ok => StatusCode::OK,
        HookStatus::Accepted => StatusCode::ACCEPTED,
        HookStatus::Unauthorized => StatusCode::UNAUTHORIZED,
        HookStatus::BadRequest => StatusCode::BAD_REQUEST,
        HookStatus::Busy => StatusCode::SERVICE_UNAVAILABLE,
    };
    answer(status, a.outcome, a.reason.as_deref(), a.commit.as_deref())
}

fn answer(
    status: StatusCode,
    outcome: &str,
    reason: Option<&str>,
    commit: Option<&str>,
) -> Response {
    let body = serde_json::json!({ "outcome": outcome, "reason": reason, "commit": commit });
    (status, axum::Json(body)).into_response()
}
