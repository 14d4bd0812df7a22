//! [`TestApp`]: the server booted inside the test, through the same `Server::build` and the same
//! flags and configuration layers as `paas serve`, on its own port, data dir and database.
//! Suites that do not kill the server use it; those that do (recovery, production, Redis
//! outages) drive the real binary with [`crate::TestServer`].

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use paas_core::Platform;
use paas_core::model::{Secret, User, UserId};
use paas_graphql::Server;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::{Client, TestDatabase, TestDb};

/// How long a dropped server gets to stop its apps.
const STOP_WITHIN: Duration = Duration::from_secs(20);

/// A server running in this test's process.
pub struct TestApp {
    pub url: String,
    /// The router's address (apps by name), unless `--no-router` was given.
    pub router: Option<std::net::SocketAddr>,
    /// The router's HTTPS address, with `--router-tls-listen`.
    pub router_tls: Option<std::net::SocketAddr>,
    pub data_dir: PathBuf,
    pub database_url: String,
    platform: Platform,
    stop: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<std::io::Result<()>>>,
    _db: TestDatabase,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Boots a server on `db` with `paas serve`'s flags `args`, in a data dir of its own.
    pub async fn spawn(db: TestDb, args: &[&str]) -> anyhow::Result<Self> {
        Self::spawn_with_env(db, args, &[]).await
    }

    /// Like [`TestApp::spawn`], with environment variables (`PAAS_*` settings) read as the
    /// binary reads its environment; nothing else of the test's environment is read.
    pub async fn spawn_with_env(
        db: TestDb,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        let dir = crate::server::open_temp_dir()?;
        let data_dir = dir.path().join("data");
        let database = db.url_in(&data_dir).await?;
        let data = data_dir.display().to_string();
        let mut flags = vec![
            "--listen",
            "127.0.0.1:0",
            "--router-listen",
            "127.0.0.1:0",
            "--data-dir",
            &data,
        ];
        flags.extend_from_slice(args);
        let mut vars = vec![("DATABASE_URL".to_owned(), database.to_string())];
        vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        let settings = paas_graphql::flags::serve_settings(&flags, &vars)?;
        let server = Server::build(settings).await?;
        let url = format!("http://{}", server.local_addr()?);
        let router = server.router_addr();
        let router_tls = server.router_tls_addr();
        let platform = server.platform().clone();
        let (stop, stopped) = oneshot::channel();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));
        crate::sweep::started(&data_dir);
        Ok(Self {
            url,
            router,
            router_tls,
            data_dir,
            database_url: database.to_string(),
            platform,
            stop: Some(stop),
            serving: Some(serving),
            _db: database,
            _dir: dir,
        })
    }

    /// The platform the server runs, to look at what the API does not show.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// Creates a user (as `paas user create` does) and returns a client with its token.
    pub async fn user(&self, name: &str) -> anyhow::Result<Client> {
        let token = Secret::generate_token();
        let user = User {
            id: UserId::new(),
            name: name.to_owned(),
            created_at: Utc::now(),
        };
        self.platform
            .store()
            .create_user(&user, &token.hash())
            .await?;
        Ok(Client::new(&self.url, Some(token.expose().to_owned())).with_router(self.router))
    }

    /// A client without a token.
    pub fn anonymous(&self) -> Client {
        Client::new(&self.url, None).with_router(self.router)
    }

    /// Where this server checks out and builds ([`crate::server::builds_dir`]).
    pub fn builds_dir(&self) -> PathBuf {
        crate::server::builds_dir(&self.data_dir)
    }

    /// Counts the rows of a table straight from the database (to prove a refusal wrote nothing).
    pub async fn count_rows(&self, table: &str) -> anyhow::Result<i64> {
        crate::db::count_rows(&self.database_url, table).await
    }

    /// Stops the server as Ctrl-C stops `paas serve`, and waits until it has (its apps stopped).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(serving) = self.serving.take() {
            tokio::time::timeout(STOP_WITHIN, serving)
                .await
                .context("the server did not stop")???;
        }
        Ok(())
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // On a multi-threaded runtime the stop can be waited for here, so the apps stop as they
        // would with Ctrl-C; anything left is killed below either way.
        if let Some(serving) = self.serving.take()
            && let Ok(handle) = tokio::runtime::Handle::try_current()
            && handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        {
            tokio::task::block_in_place(|| {
                let _ = handle.block_on(tokio::time::timeout(STOP_WITHIN, serving));
            });
        }
        crate::sweep::stopped(&self.data_dir);
    }
}
