//! Embedding paas as a library: the whole platform in one process, with no HTTP, no server and no
//! database to set up (SQLite in a data dir, apps as local processes).
//!
//! [`deploy_local`] builds the platform, starts every loop it needs with
//! [`Platform::run`](paas_core::Platform::run) (builder, deployer, supervisor, task queue, log
//! retention, requeue), creates a user and an app from a local git repository, and returns once
//! the app is `RUNNING`. The `deploy-local` binary calls it; `tests/deploy_local.rs` proves
//! that the loops run (tasks complete, a killed instance comes back).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use futures::StreamExt;
use paas_core::events::StatusEvent;
use paas_core::model::{AppName, Application, GitUrl, NewApplication, SourcePolicy, User, UserId};
use paas_core::{AppStatus, Platform};
use paas_runner::local::{LocalBuilder, LocalRuntime};

/// A platform running in this process, with the app it deployed.
pub struct Deployed {
    pub platform: Platform,
    /// The user the app belongs to.
    pub user: User,
    /// The app as it was when it reached `RUNNING`.
    pub app: Application,
    stop: tokio::sync::watch::Sender<bool>,
    running: tokio::task::JoinHandle<()>,
}

impl Deployed {
    /// Stops every loop, then the app's instance (it dies with the platform's process).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        self.running.await.context("the platform's loops")?;
        Ok(())
    }
}

/// Deploys the git repository at `repo` as the app `name`, keeping the platform's files in
/// `data_dir`; `progress` sees every status change until the app is `RUNNING`.
pub async fn deploy_local(
    repo: &Path,
    name: &str,
    data_dir: &Path,
    mut progress: impl FnMut(&StatusEvent),
) -> anyhow::Result<Deployed> {
    let repo = std::fs::canonicalize(repo)
        .with_context(|| format!("{} does not exist", repo.display()))?;

    // Embedding: a runtime and a builder, the platform around them, its loops running.
    let platform = Platform::builder()
        .data_dir(data_dir)
        .runtime(Arc::new(LocalRuntime::new(data_dir.join("logs"))))
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn({
        let platform = platform.clone();
        async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|s| *s).await;
            };
            platform.run(shutdown).await;
        }
    });
    let deployed = async {
        let user = User {
            id: UserId::new(),
            name: "me".into(),
            created_at: chrono::Utc::now(),
        };
        platform
            .store()
            .create_user(&user, "example-token-hash")
            .await?;
        let url = format!("file://{}", repo.display());
        let new = NewApplication::new(
            AppName::parse(name)?,
            GitUrl::parse(&url, SourcePolicy::default())?,
        );
        let app = platform.create_application(&user, new).await?;
        let mut changes = platform.status_changes(app.id, None).await?;
        while let Some(change) = changes.next().await {
            progress(&change);
            match change.status {
                AppStatus::Running => break,
                AppStatus::Failed => bail!("the app failed: {}", change.reason.unwrap_or_default()),
                _ => {}
            }
        }
        let app = platform.app(app.id).await?.context("the app vanished")?;
        anyhow::Ok((user, app))
    };
    match deployed.await {
        Ok((user, app)) => Ok(Deployed {
            platform,
            user,
            app,
            stop,
            running,
        }),
        Err(e) => {
            let _ = stop.send(true);
            let _ = running.await;
            Err(e)
        }
    }
}
