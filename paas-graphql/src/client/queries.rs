//! The client's operations, typed by `graphql_client` against `schema.graphql` (the SDL `paas
//! schema` prints; a test keeps it current), so a query that no longer matches the API does
//! not compile. The documents are in `queries/*.graphql`.

use graphql_client::GraphQLQuery;

/// The API's `DateTime` scalar: RFC 3339, shown as it came.
type DateTime = String;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/viewer.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct Me;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/apps.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct AppList;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/apps.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct AppShow;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/apps.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct CreateApp;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/apps.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct DeleteApp;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/lifecycle.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct Redeploy;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/lifecycle.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct Restart;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/lifecycle.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct Rollback;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/lifecycle.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct UpdateEnv;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/lifecycle.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct TaskState;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/lifecycle.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct StatusChanges;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/logs.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct LogPage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/logs.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct FollowLogs;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "schema.graphql",
    query_path = "src/client/queries/logs.graphql",
    response_derives = "Debug, Clone",
    variables_derives = "Debug",
    skip_serializing_none
)]
pub struct BuildLog;
