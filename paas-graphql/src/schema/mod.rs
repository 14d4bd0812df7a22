//! The GraphQL schema: root objects in their own files, object types in `types`.

mod activity;
mod contact;
mod health;
mod hooks;
mod lifecycle;
mod logs;
mod mutation;
mod previews;
mod query;
mod repos;
mod subscription;
mod traffic;
mod types;

use async_graphql::{Schema, SchemaBuilder};
use paas_core::Platform;

pub use mutation::MutationRoot;
pub use query::QueryRoot;
pub use subscription::SubscriptionRoot;
pub use traffic::RouteTableHandle;

/// The schema type served.
pub type PaasSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Builds the schema around a platform.
pub fn build(platform: Platform) -> PaasSchema {
    builder(platform).finish()
}

/// The schema as SDL: what `paas schema` prints and `paas-graphql/schema.graphql` holds (the
/// client's typed queries and the dashboard are checked against that file).
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .finish()
        .sdl()
}

/// How deep a query may nest: the standard introspection query (graphql-js's, which GraphiQL and
/// most clients send) is 15 deep, and the playground's docs and completion need it to answer.
const MAX_DEPTH: usize = 15;

/// The schema's builder, for the server to add its extensions.
pub fn builder(platform: Platform) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(platform)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(2_000)
}

#[cfg(test)]
mod tests {
    /// The committed schema file is the schema served: `paas schema > paas-graphql/schema.graphql`
    /// after changing the API.
    #[test]
    fn committed_schema_is_current() {
        let committed = include_str!("../../schema.graphql");
        assert!(
            committed == super::sdl(),
            "paas-graphql/schema.graphql is stale: run `cargo run -p paas-graphql -- schema > paas-graphql/schema.graphql`"
        );
    }
}
