//! The GraphQL schema: root objects in their own files, object types in `types`.

mod lifecycle;
mod logs;
mod mutation;
mod query;
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

/// The schema's builder, for the server to add its extensions.
pub fn builder(platform: Platform) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
        .data(platform)
        .limit_depth(12)
        .limit_complexity(2_000)
}
