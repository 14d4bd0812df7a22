//! `GET /routes`: the route table as JSON, for an operator who runs their own front (Traefik,
//! Caddy) instead of the router: every app's hosts, status and live instances
//! ([`paas_core::router::RouteView`]). Only the operator may read it: `Authorization: Bearer
//! <admin_token>`; no token is 401, another token 403, and with no `admin_token` configured
//! everyone gets 403.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::auth::bearer;
use crate::server::AppState;

pub(crate) async fn routes(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(refused) = not_the_operator(&state, &headers, "GET /routes") {
        return refused;
    }
    Json(state.routes.routes()).into_response()
}

/// `None` when the request carries the operator's token (`admin_token`); else the refusal: 401
/// without a token, 403 with another one (or with no `admin_token` configured). `what` names
/// the endpoint in that answer.
pub(crate) fn not_the_operator(
    state: &AppState,
    headers: &HeaderMap,
    what: &str,
) -> Option<Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let Some(token) = token else {
        let mut res = (
            StatusCode::UNAUTHORIZED,
            format!("{what} needs the operator's token: Authorization: Bearer <admin_token>\n"),
        )
            .into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Some(res);
    };
    // Digests compared, not the tokens: the time taken says nothing about the token.
    let admin = state
        .admin_token
        .as_ref()
        .is_some_and(|admin| admin.hash() == token.hash());
    if !admin {
        return Some(
            (
                StatusCode::FORBIDDEN,
                format!("{what} is for the operator (admin_token) only\n"),
            )
                .into_response(),
        );
    }
    None
}
