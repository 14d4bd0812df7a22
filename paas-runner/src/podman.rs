//! Podman: apps built into images and run as containers, through the libpod REST API.

pub mod containerfile;
