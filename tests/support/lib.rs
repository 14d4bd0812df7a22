//! Helpers shared by every test suite of the workspace: a database per test (SQLite file or a
//! fresh PostgreSQL database), git repositories on disk, and a client for the real `paas`
//! binary (GraphQL over HTTP and websockets).

pub mod client;
pub mod db;
pub mod git_http;
pub mod nomad;
pub mod podman;
pub mod redis;
pub mod repo;
pub mod server;

pub use client::{Client, Subscription};
pub use db::TestDb;
pub use repo::git_repo;
pub use server::{TestServer, TestWorker};
