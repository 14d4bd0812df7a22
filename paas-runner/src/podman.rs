//! Podman: apps built into images and run as containers, through the libpod REST API (the
//! `podman-api` crate) on Podman's unix socket.

mod builder;
pub mod containerfile;
mod logs;
mod runtime;

use std::path::Path;

pub use builder::{PodmanBuilder, Registry};
pub use containerfile::BaseImages;
use paas_core::Error;
use podman_api::Podman;
pub use runtime::PodmanRuntime;

/// A client of the Podman service listening on `socket`.
pub fn connect(socket: &Path) -> Podman {
    Podman::unix(socket)
}

/// The HTTP status of a failed call, if the service answered at all.
fn status(e: &podman_api::Error) -> Option<u16> {
    match e {
        podman_api::Error::Fault { code, .. } => Some(code.as_u16()),
        podman_api::Error::Error(podman_api::conn::Error::Fault { code, .. }) => {
            Some(code.as_u16())
        }
        _ => None,
    }
}

/// Podman's own message for an error, without the crate's wrapping.
fn message(e: &podman_api::Error) -> String {
    match e {
        podman_api::Error::Fault { message, .. } => message.clone(),
        podman_api::Error::Error(podman_api::conn::Error::Fault { message, .. }) => message.clone(),
        other => other.to_string(),
    }
}

/// A Podman call that failed: the platform's fault (socket down, disk full), retried by policy.
fn platform(what: &str, e: &podman_api::Error) -> Error {
    Error::Runtime(format!("podman {what}: {}", message(e)))
}
