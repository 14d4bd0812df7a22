//! End-to-end: the real `paas` binary on a random port, a fresh data dir and database, driven
//! over GraphQL as a user would. Every scenario runs on SQLite and on PostgreSQL.

mod apps;
mod auth;
mod create;
mod failures;
mod http;
mod lifecycle;
mod locks;
mod log_access;
mod logs;
mod nomad;
mod podman;
mod private;
mod production;
mod recovery;
mod tasks;
mod validation;

/// Declares a scenario `async fn(TestDb) -> anyhow::Result<()>` as one test per database.
#[macro_export]
macro_rules! on_both_databases {
    ($scenario:ident) => {
        mod $scenario {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() -> anyhow::Result<()> {
                super::$scenario(paas_tests::TestDb::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() -> anyhow::Result<()> {
                super::$scenario(paas_tests::TestDb::Postgres).await
            }
        }
    };
}
