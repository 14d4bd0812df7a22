//! `GET /apps/{id}/logs?from=<ts>&limit=<n>` for clients that do not speak GraphQL: a JSON array
//! of `{timestamp, stream, text}`, oldest first. The `X-Last-Log-Nano` request header skips the
//! line the client already has (like `lastNano`); the response's header is the last line's
//! timestamp, to send back as both `from` and `X-Last-Log-Nano`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paas_core::logs::{LogQuery, LogTime};
use paas_core::model::{AppId, ValidationError};
use paas_core::{Error, ErrorCode};
use serde::{Deserialize, Serialize};

use crate::auth::{authenticate, bearer};
use crate::error::INTERNAL_MESSAGE;
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

/// The HTTP status of a code: the one place this endpoint maps codes to statuses.
fn status_of(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

fn problem(e: &Error) -> Response {
    let code = e.code();
    let message = if code.is_internal() {
        tracing::error!(error = %e, source = ?std::error::Error::source(e), "internal error");
        INTERNAL_MESSAGE.to_owned()
    } else {
        e.to_string()
    };
    let body = Problem {
        code: code.as_str(),
        message,
    };
    (status_of(code), Json(body)).into_response()
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

#[cfg(test)]
mod tests {
    use super::*;
    use paas_core::model::ValidationError;

    #[tokio::test]
    async fn errors_map_to_their_status_and_code() -> anyhow::Result<()> {
        let cases = [
            (
                Error::Unauthenticated,
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
            ),
            (
                Error::NotFound("application"),
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            ),
            (
                Error::Invalid(ValidationError::Limit("0".into())),
                StatusCode::BAD_REQUEST,
                "INVALID_LIMIT",
            ),
            (
                Error::runtime("socket down"),
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
            ),
        ];
        for (error, status, code) in cases {
            let response = problem(&error);
            assert_eq!(response.status(), status, "{error}");
            let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await?;
            let body: serde_json::Value = serde_json::from_slice(&body)?;
            assert_eq!(body["code"], code, "{error}");
            if status == StatusCode::INTERNAL_SERVER_ERROR {
                assert_eq!(body["message"], INTERNAL_MESSAGE);
            }
        }
        Ok(())
    }
}
