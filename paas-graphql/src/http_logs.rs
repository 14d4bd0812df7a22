//! `GET /apps/{id}/logs?from=<ts>&limit=<n>` for clients that do not speak GraphQL: a JSON array
//! of `{timestamp, stream, text}`, oldest first. The `X-Last-Log-Nano` request header skips the
//! line the client already has (like `lastNano`); the response's header is the last line's
//! timestamp, to send back as both `from` and `X-Last-Log-Nano`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paas_core::Error;
use paas_core::logs::{LogQuery, LogTime};
use paas_core::model::{AppId, ValidationError};
use serde::{Deserialize, Serialize};

use crate::auth::{authenticate, bearer};
use crate::server::AppState;

/// The cursor header, in and out.
pub const LAST_LOG_NANO: &str = "x-last-log-nano";

#[derive(Deserialize)]
pub(crate) struct Params {
    from: Option<String>,
    limit: Option<i64>,
}

#[derive(Serialize)]
struct Line {
    timestamp: String,
    stream: &'static str,
    text: String,
}

#[derive(Serialize)]
struct Problem {
    code: &'static str,
    message: String,
}

fn problem(e: &Error) -> Response {
    let status = match e.code() {
        "UNAUTHENTICATED" => StatusCode::UNAUTHORIZED,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        "INTERNAL" => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = if e.code() == "INTERNAL" {
        tracing::error!(error = %e, "internal error");
        "internal error; the server log has the details".to_owned()
    } else {
        e.to_string()
    };
    let body = Problem {
        code: e.code(),
        message,
    };
    (status, Json(body)).into_response()
}

pub(crate) async fn app_logs(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(params): Query<Params>,
    headers: HeaderMap,
) -> Response {
    match page(&state, &id, params, &headers).await {
        Ok(r) => r,
        Err(e) => problem(&e),
    }
}

async fn page(
    state: &AppState,
    id: &str,
    params: Params,
    headers: &HeaderMap,
) -> Result<Response, Error> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .ok_or(Error::Unauthenticated)?;
    let user = authenticate(&state.platform, &token).await?;
    let app: AppId = id.parse()?;
    let mut query = LogQuery::app(app).with_limit(params.limit)?;
    query.from = params.from.as_deref().map(str::parse).transpose()?;
    query.last = match headers.get(LAST_LOG_NANO) {
        None => None,
        Some(v) => Some(
            v.to_str()
                .map_err(|_| ValidationError::Timestamp("X-Last-Log-Nano is not text".into()))?
                .parse::<LogTime>()?,
        ),
    };
    let page = state.platform.logs_for(&user, &query).await?;
    let lines: Vec<Line> = page
        .lines
        .into_iter()
        .map(|l| Line {
            timestamp: l.at.to_string(),
            stream: l.stream.as_str(),
            text: l.text,
        })
        .collect();
    let mut response = Json(lines).into_response();
    if let Some(last) = page.last
        && let Ok(v) = HeaderValue::from_str(&last.to_string())
    {
        response.headers_mut().insert(LAST_LOG_NANO, v);
    }
    Ok(response)
}
