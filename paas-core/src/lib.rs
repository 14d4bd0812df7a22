//! # paas-core
//!
//! The reusable heart of paas: the domain, the flows, and the ports every backend plugs into.
//! It knows no HTTP framework, no Podman and no Nomad; it does hold the storage adapters every
//! deployment needs (sea-orm store, in-memory cache, queue and bus), since they are part of
//! embedding it.
//!
//! ## Layout
//! - [`model`]: validated newtypes and the domain structs (`Application`, `Deployment`, `User`).
//! - [`status`]: the `AppStatus` state machine, every transition in one place.
//! - [`error`]: one error enum; each error knows its [`Fault`] and its API code, an [`ErrorCode`]
//!   (`error/code.rs`), whose strings clients see.
//! - [`retry`]: the one `RetryPolicy`.
//! - [`lock`]: locks in the database (a row per key, compare-and-set, leases); [`task`]: the
//!   records of what the platform does to an app; [`logs`]: build, instance and system lines.
//! - Ports, one trait per file: [`store`], [`cache`], [`queue`], [`events`], [`git`],
//!   [`builder`], [`runtime`]. Their adapters live in the folder of the same name.
//! - [`secrets`]: the keys and the sealing of env values and git tokens at rest; the data
//!   dir's modes.
//! - [`event_log`]: what the event log holds ([`Platform::record`] writes it); [`notify`]: users'
//!   notifications, de-duplicated while their condition lasts, and the sinks that carry them.
//! - [`hooks`]: webhooks in: which git host sent a delivery, its signature checked, its push
//!   event read (the flow acting on it is `flow/hooks.rs`).
//! - [`health`]: one health check of an instance (TCP, HTTP), the per-replica counting rules
//!   and the events checks raise; the warden loop that runs them is `flow/warden.rs`.
//! - [`mail`]: the `Mailer` port (one message to one address) and its SMTP adapter (`lettre`).
//! - [`outbox`]: notifications out of the platform: urgent ones by email (`MailSink`), every
//!   one as a signed JSON POST to the user's webhooks (`WebhookSink`), both queued and sent in
//!   the background.
//! - [`redis_conn`]: connecting to Redis so that a dead one costs little, and the circuit
//!   breaker that skips it until it answers again.
//! - [`router`]: the route table the HTTP router reads (the port and its default, in memory,
//!   fed by the store and the bus), make-before-break drains, per-app traffic counters.
//! - [`metrics`]: every metric's name and the helpers that move it; `GET /metrics` renders
//!   them ([`metrics::render`]).
//! - [`platform`]: [`Platform`], the handle that holds the chosen adapters, built with
//!   [`Platform::builder`].
//! - [`flow`]: the flows of the design card, the whole pipeline in one place: `create` (app and
//!   first deployment) → `build` (build requests in, images out) → `deploy` (images in, running
//!   instances out), both halves on the one consume loop of `consume` (pull, delivery limit,
//!   dead letter, app lock, renew, ack); `capture` (build and instance output into the log
//!   store, one loop); `tasks`, `supervise`, `reconcile`, `requeue`; `scale` (sleep) and
//!   `wake` (a sleeping app started for a request the router holds); `autodeploy` (the
//!   branches of apps with `autoDeploy` watched) and `pushed` (a new commit → a redeploy task);
//!   `hooks` (an app's webhook, and a delivery → `pushed`);
//!   `run` ([`Platform::run`]), which starts every background loop.
//!
//! ## Embedding
//! A runtime and an image builder (`paas-runner` has local processes, Podman and Nomad), the
//! platform around them, its loops running until `shutdown`:
//! ```no_run
//! # use std::sync::Arc;
//! # async fn embed(
//! #     runtime: Arc<dyn paas_core::runtime::Runtime>,
//! #     images: Arc<dyn paas_core::builder::ImageBuilder>,
//! #     shutdown: impl std::future::Future<Output = ()>,
//! # ) -> paas_core::Result<()> {
//! let platform = paas_core::Platform::builder().data_dir("./paas-data").runtime(runtime).images(images).build().await?;
//! platform.run(shutdown).await;
//! # Ok(()) }
//! ```

pub mod builder;
pub mod cache;
pub mod error;
pub mod event_log;
pub mod events;
pub mod flow;
pub mod git;
pub mod health;
pub mod hooks;
pub mod lock;
pub mod logs;
pub mod mail;
pub mod metrics;
pub mod model;
pub mod notify;
pub mod outbox;
pub mod platform;
pub mod queue;
pub mod redis_conn;
pub mod retry;
pub mod router;
pub mod runtime;
pub mod scaler;
pub mod secrets;
pub mod status;
pub mod store;
pub mod task;

pub use error::{Error, ErrorCode, Fault, Result};
pub use platform::{Platform, PlatformBuilder, PlatformConfig, RouterConfig, ScalerConfig};
pub use status::AppStatus;
