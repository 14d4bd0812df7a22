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
//! - [`redis_conn`]: connecting to Redis so that a dead one costs little, and the circuit
//!   breaker that skips it until it answers again.
//! - [`platform`]: [`Platform`], the handle that holds the chosen adapters, built with
//!   [`Platform::builder`].
//! - [`flow`]: the flows of the design card: create an application, deploy a built image.
//!
//! ## Embedding
//! ```no_run
//! # async fn run(runtime: std::sync::Arc<dyn paas_core::runtime::Runtime>) -> paas_core::Result<()> {
//! let platform = paas_core::Platform::builder().data_dir("./paas-data").runtime(runtime).build().await?;
//! # Ok(()) }
//! ```

pub mod builder;
pub mod cache;
pub mod error;
pub mod events;
pub mod flow;
pub mod git;
pub mod lock;
pub mod logs;
pub mod model;
pub mod platform;
pub mod queue;
pub mod redis_conn;
pub mod retry;
pub mod runtime;
pub mod secrets;
pub mod status;
pub mod store;
pub mod task;

pub use error::{Error, ErrorCode, Fault, Result};
pub use platform::{Platform, PlatformBuilder, PlatformConfig};
pub use status::AppStatus;
