//! `GET /metrics`: the platform's metrics as Prometheus text ([`paas_core::metrics`]).
//!
//! Where it answers (`metrics_listen`): empty (the default), on the API listener for the
//! operator only, `Authorization: Bearer <admin_token>` as `GET /routes` (no token 401, another
//! token 403); an address, on a listener of its own there without a token (keep it private:
//! `127.0.0.1` or an internal network), and the API's `/metrics` answers 404.
//!
//! Also here, what the edge counts: every API request by route pattern and status class (a
//! route layer), and every GraphQL request by operation and outcome (a schema extension).

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationDefinition, OperationType, Selection,
};
use async_graphql::{Response, ServerResult, Variables};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response as HttpResponse};
use paas_core::Platform;
use paas_core::router::RouteTable;

use crate::server::AppState;

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics` on the API listener.
pub(crate) async fn api_metrics(State(state): State<AppState>, headers: HeaderMap) -> HttpResponse {
    if !state.metrics_on_api {
        return StatusCode::NOT_FOUND.into_response();
    }
    if let Some(refused) = crate::routes_api::not_the_operator(&state, &headers, "GET /metrics") {
        return refused;
    }
    render(&state.platform, state.routes.as_ref()).await
}

async fn render(platform: &Platform, routes: &dyn RouteTable) -> HttpResponse {
    let text = paas_core::metrics::render(platform, routes).await;
    let mut res = text.into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    res
}

/// The router of the `metrics_listen` listener: `GET /metrics`, nothing else, no token.
pub(crate) fn own_listener(platform: Platform, routes: Arc<dyn RouteTable>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let (platform, routes) = (platform.clone(), routes.clone());
            async move { render(&platform, routes.as_ref()).await }
        }),
    )
}

/// Route layer: counts each API request by its route pattern and status class.
pub(crate) async fn count_requests(req: Request, next: Next) -> HttpResponse {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let res = next.run(req).await;
    paas_core::metrics::http_request(&route, res.status().as_u16());
    res
}

/// The operation label of requests whose root field is not one of the schema's.
const ANONYMOUS: &str = "anonymous";
/// The outcome of a request refused without an error code (a syntax or validation error).
const INVALID: &str = "INVALID";

/// Schema extension: counts every GraphQL request run over HTTP by its operation (the first
/// root field it selects, checked against the schema: the label's values are the schema's
/// fields, whatever names clients give their operations) and its outcome (`ok`, or the first
/// error's `extensions.code`).
pub struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Counting::default())
    }
}

#[derive(Default)]
struct Counting {
    /// The operations of the parsed document: name and root field.
    operations: Mutex<Vec<(Option<String>, Option<String>)>>,
    chosen: Mutex<Option<String>>,
}

impl Counting {
    fn label(&self) -> String {
        let operations = self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let chosen = self.chosen.lock().unwrap_or_else(PoisonError::into_inner);
        let op = match chosen.as_deref() {
            Some(name) => operations.iter().find(|(n, _)| n.as_deref() == Some(name)),
            None if operations.len() == 1 => operations.first(),
            None => None,
        };
        op.and_then(|(_, field)| field.clone())
            .unwrap_or_else(|| ANONYMOUS.to_owned())
    }
}

/// The first root field `op` selects, if the schema's root type has it.
fn root_field(
    registry: &async_graphql::registry::Registry,
    op: &OperationDefinition,
) -> Option<String> {
    let root = match op.ty {
        OperationType::Query => Some(registry.query_type.as_str()),
        OperationType::Mutation => registry.mutation_type.as_deref(),
        OperationType::Subscription => registry.subscription_type.as_deref(),
    }?;
    let root = registry.types.get(root)?;
    op.selection_set
        .node
        .items
        .iter()
        .find_map(|s| match &s.node {
            Selection::Field(f) => Some(f.node.name.node.as_str()),
            _ => None,
        })
        .filter(|name| root.field_by_name(name).is_some())
        .map(str::to_owned)
}

fn outcome(res: &Response) -> String {
    let Some(error) = res.errors.first() else {
        return "ok".to_owned();
    };
    let code = error
        .extensions
        .as_ref()
        .and_then(|x| x.get("code"))
        .and_then(|v| match v {
            async_graphql::Value::String(s) => Some(s.clone()),
            async_graphql::Value::Enum(e) => Some(e.to_string()),
            _ => None,
        });
    // Codes are the platform's (upper case, a closed set); anything else counts as invalid.
    match code {
        Some(c)
            if !c.is_empty()
                && c.len() <= 40
                && c.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') =>
        {
            c
        }
        _ => INVALID.to_owned(),
    }
}

#[async_trait::async_trait]
impl Extension for Counting {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let res = next.run(ctx).await;
        paas_core::metrics::graphql_operation(&self.label(), &outcome(&res));
        res
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        let registry = &ctx.schema_env.registry;
        let ops = match &doc.operations {
            DocumentOperations::Single(op) => vec![(None, root_field(registry, &op.node))],
            DocumentOperations::Multiple(ops) => ops
                .iter()
                .map(|(name, op)| (Some(name.to_string()), root_field(registry, &op.node)))
                .collect(),
        };
        *self
            .operations
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = ops;
        Ok(doc)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        *self.chosen.lock().unwrap_or_else(PoisonError::into_inner) =
            operation_name.map(str::to_owned);
        next.run(ctx, operation_name).await
    }
}
