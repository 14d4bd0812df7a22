//! The client's operations, typed by `graphql_client` against `schema.graphql` (the SDL `paas
//! schema` prints; a test keeps it current), so a query that no longer matches the API does
//! not compile. The documents are in `queries/*.graphql`.

use graphql_client::GraphQLQuery;

/// The API's `DateTime` scalar: RFC 3339, shown as it came.
type DateTime = String;

/// One typed operation per name, from the document in `queries/<file>.graphql` that defines it
/// (the path is a `tt`: the derive reads it as a plain literal, not a macro fragment).
macro_rules! operations {
    ($($file:tt => [$($name:ident),+ $(,)?]),+ $(,)?) => {
        $($(
            #[derive(GraphQLQuery)]
            #[graphql(
                schema_path = "schema.graphql",
                query_path = $file,
                response_derives = "Debug, Clone",
                variables_derives = "Debug",
                skip_serializing_none
            )]
            pub struct $name;
        )+)+
    };
}

operations! {
    "src/client/queries/viewer.graphql" => [Me],
    "src/client/queries/apps.graphql" => [AppList, AppShow, CreateApp, DeleteApp],
    "src/client/queries/lifecycle.graphql" => [Redeploy, Restart, Rollback, UpdateEnv, TaskState, StatusChanges],
    "src/client/queries/logs.graphql" => [LogPage, FollowLogs, BuildLog],
    "src/client/queries/git.graphql" => [CreateWebhook, DeleteWebhook, SetGitHostToken, GitRepos],
}
