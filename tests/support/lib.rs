//! Helpers shared by every test suite of the workspace: a database per test (SQLite file or a
//! fresh PostgreSQL database), git repositories on disk, a client for the real `paas` binary
//! (GraphQL over HTTP and websockets), and headless Chromium for the browser tests.

pub mod app;
pub mod apps;
pub mod bench;
pub mod browser;
pub mod cli;
pub mod client;
pub mod counting_store;
pub mod db;
pub mod dump;
pub mod git_hosts;
pub mod git_http;
pub mod hooks;
pub mod hostile;
pub mod metrics;
pub mod nomad;
pub mod notify;
pub mod operations;
pub mod podman;
pub mod redis;
pub mod repo;
pub mod router;
pub mod server;
pub mod steps;
pub mod sweep;
pub mod tls;
pub mod wait;
pub mod wrk;
pub mod ws;

pub use app::TestApp;
pub use client::{Client, Subscription};
pub use db::{TestDatabase, TestDb};
pub use repo::git_repo;
pub use server::{TestServer, TestWorker};
pub use wait::eventually;

/// Declares scenarios `async fn(TestDb) -> anyhow::Result<()>` as one test per database each
/// (the calling crate needs `tokio` and `anyhow`).
#[macro_export]
macro_rules! on_both_databases {
    ($($scenario:ident),* $(,)?) => {
        $(mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                super::$scenario($crate::TestDb::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                super::$scenario($crate::TestDb::Postgres).await
            }
        })*
    };
}
