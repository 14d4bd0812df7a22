//! # paas-runner
//!
//! The backends that do the work, behind the ports of `paas-core`: adapters only. The pipeline
//! that drives them (build, deploy, supervise) is `paas-core`'s `flow`.
//!
//! ## Layout
//! - [`local`]: the zero-setup default. [`local::LocalBuilder`] runs the language's build step in
//!   the checkout; [`local::LocalRuntime`] runs the start command as a child process group with
//!   `$PORT` set.
//! - [`podman`]: images built and run as containers through the libpod API.
//! - [`nomad`]: apps run as Nomad service jobs (images built with Podman).

pub mod local;
pub mod nomad;
pub mod podman;
