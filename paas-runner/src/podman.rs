//! Podman: apps built into images and run as containers, through the libpod REST API (the
//! `podman-api` crate) on Podman's unix socket.

mod builder;
pub mod containerfile;
mod logs;
mod ports;
mod runtime;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use builder::{PodmanBuilder, Registry};
pub use containerfile::BaseImages;
use paas_core::Error;
pub use ports::PortRange;
pub use runtime::PodmanRuntime;

/// A client of the Podman service on one unix socket, which it names in its errors (a
/// connection error from the HTTP client names no path, and a wrong socket is the usual cause).
#[derive(Clone, Debug)]
pub struct Podman {
    api: podman_api::Podman,
    socket: Arc<PathBuf>,
}

impl std::ops::Deref for Podman {
    type Target = podman_api::Podman;
    fn deref(&self) -> &podman_api::Podman {
        &self.api
    }
}

impl Podman {
    /// The socket this client talks to.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Asks the service whether it answers: start-up checks the socket before it says it is
    /// ready, so a wrong path fails the start instead of every app later.
    pub async fn ping(&self) -> Result<(), Error> {
        self.api
            .ping()
            .await
            .map(drop)
            .map_err(|e| platform(self, "ping", e))
    }
}

/// A client of the Podman service listening on `socket`.
pub fn connect(socket: &Path) -> Podman {
    Podman {
        api: podman_api::Podman::unix(socket),
        socket: Arc::new(socket.to_path_buf()),
    }
}

/// Podman's socket as given by an operator: a path, or a `unix://` URL (`unix:///run/podman.sock`,
/// the form `podman system service` and `CONTAINER_HOST` use).
pub fn socket_path(value: &str) -> Result<PathBuf, String> {
    let path = match value.split_once("://") {
        None => value,
        Some(("unix", path)) => path,
        Some((scheme, _)) => {
            return Err(format!(
                "{value}: Podman is reached through a unix socket (a path or unix:///path), not {scheme}://"
            ));
        }
    };
    if path.is_empty() {
        return Err("the Podman socket path is empty".to_owned());
    }
    Ok(PathBuf::from(path))
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
/// When the service did not answer at all, the error names the socket.
fn platform(podman: &Podman, what: &str, e: podman_api::Error) -> Error {
    let message = if status(&e).is_some() {
        format!("podman {what}: {}", message(&e))
    } else {
        format!(
            "podman {what}: {} (socket {})",
            message(&e),
            podman.socket.display()
        )
    };
    Error::Runtime {
        message,
        source: Some(Box::new(e)),
    }
}

#[cfg(test)]
mod socket_tests {
    use super::*;

    #[test]
    fn a_socket_is_a_path_or_a_unix_url() {
        assert_eq!(
            socket_path("/run/paas/podman.sock"),
            Ok(PathBuf::from("/run/paas/podman.sock"))
        );
        assert_eq!(
            socket_path("unix:///run/paas/podman.sock"),
            Ok(PathBuf::from("/run/paas/podman.sock"))
        );
        assert!(socket_path("tcp://127.0.0.1:8888").is_err());
        assert!(socket_path("unix://").is_err());
    }
}
