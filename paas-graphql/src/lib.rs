//! # paas-graphql
//!
//! The edge of paas: a GraphQL API (async-graphql) served by axum, and the `paas` binary.
//!
//! ## Layout
//! - [`settings`]: the one `Settings` struct (defaults, then environment, then flags).
//! - [`auth`]: bearer tokens to users, for HTTP requests and websocket connections.
//! - [`error`]: core errors to GraphQL errors with a stable `extensions.code`.
//! - [`schema`]: queries, mutations, subscriptions and the GraphQL object types.
//! - `http_logs`: `GET /apps/{id}/logs`, an app's log as JSON for clients without GraphQL.
//! - [`rotate`]: `paas secrets rotate`.
//! - [`server`]: `Server::build(settings)` then `.run(shutdown)`, the same in `main` and tests.

pub mod auth;
pub mod error;
mod http_logs;
pub mod rotate;
pub mod schema;
pub mod server;
pub mod settings;

pub use server::Server;
pub use settings::Settings;
