//! # paas-graphql
//!
//! The edge of paas: a GraphQL API (async-graphql) served by axum, and the `paas` binary.
//!
//! ## Layout
//! - [`config`]: every setting as one flat set of keys, read in layers (defaults, TOML file,
//!   environment, flags) with the source of each value, printed without secrets.
//! - [`flags`]: the command-line flags of `serve` and `worker`, one per key of the
//!   configuration, and [`flags::serve_settings`] for a server started in-process.
//! - [`settings`]: the configuration in the types the server uses.
//! - `start_checks`: the database, Redis and Nomad answer before the server says it is ready.
//! - [`auth`]: bearer tokens to users, for HTTP requests and websocket connections.
//! - [`error`]: core errors to GraphQL errors with a stable `extensions.code`.
//! - [`schema`]: queries, mutations, subscriptions and the GraphQL object types.
//! - `http_logs`: `GET /apps/{id}/logs`, an app's log as JSON for clients without GraphQL.
//! - `git_http`: `git push` to `/git/<app>.git` (smart HTTP), the deploy told back as `remote:`.
//! - `hooks`: `POST /hooks/git/{hookId}`, push webhooks from GitHub, Gitea/Forgejo and GitLab.
//! - [`router`]: the HTTP router (apps by name, HTTP and HTTPS); `routes_api`: `GET /routes`,
//!   the route table for the operator's own front.
//! - `metrics`: `GET /metrics` (Prometheus text) on the API or its own listener, the API's
//!   request counter and the GraphQL operation counter.
//! - [`rotate`]: `paas secrets rotate`.
//! - [`server`]: `Server::build(settings)` then `.run(shutdown)`, the same in `main` and tests.
//! - `conn`: the accept loop with the connection cap, header and idle timeouts ([`limits`]).
//! - `ws`: `/graphql/ws`, with the `connection_init` timeout; [`subscriptions`]: the bounds on
//!   running subscriptions per connection and per user.
//! - `playground`: GraphiQL, served from files embedded in the binary.
//! - `ui`: the web dashboard (built from `web/` into `ui/`), served from the binary under `/ui/`.
//! - [`nofile`]: the open-file limit raised at start.
//! - [`client`]: `paas` as a client of a server (`login`, `apps`, `create`, `logs`, …): typed
//!   GraphQL over HTTP and websockets, tables for people and JSON for scripts.

pub mod auth;
pub mod client;
pub mod config;
mod conn;
mod documents;
pub mod error;
pub mod flags;
mod git_http;
mod hooks;
mod http_logs;
pub mod limits;
mod metrics;
pub mod nofile;
mod playground;
pub mod rotate;
pub mod router;
mod routes_api;
pub mod schema;
pub mod server;
pub mod settings;
mod start_checks;
pub mod subscriptions;
mod ui;
mod ws;

pub use server::Server;
pub use settings::Settings;
