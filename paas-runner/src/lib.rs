//! # paas-runner
//!
//! The backends that do the work, behind the ports of `paas-core`.
//!
//! ## Layout
//! - [`local`]: the zero-setup default. [`local::LocalBuilder`] runs the language's build step in
//!   the checkout; [`local::LocalRuntime`] runs the start command as a child process group with
//!   `$PORT` set.
//! - [`podman`]: images built and run as containers through the libpod API.
//! - [`nomad`]: apps run as Nomad service jobs (images built with Podman).
//! - [`worker`]: the build worker loop: build requests in, checkouts built, results out.

pub mod local;
pub mod nomad;
pub mod podman;
pub mod worker;

pub use worker::BuildWorker;
