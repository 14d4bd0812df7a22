//! Embedding paas as a library: deploy a local git repository with no HTTP, no server, no
//! database to set up.
//!
//! ```text
//! cargo run -p paas-examples --bin deploy-local -- /path/to/repo [name]
//! ```
//!
//! It builds the platform (SQLite in a temp dir, local processes), creates a user and the app,
//! runs the build worker and the deployer in this process, prints every status change, and keeps
//! the app running until Ctrl-C.

use std::sync::Arc;

use anyhow::{Context, bail};
use futures::StreamExt;
use paas_core::model::{AppName, GitUrl, NewApplication, SourcePolicy, User, UserId};
use paas_core::{AppStatus, Platform};
use paas_runner::BuildWorker;
use paas_runner::local::{LocalBuilder, LocalRuntime};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let repo = args
        .next()
        .context("usage: deploy-local <path-to-git-repo> [name]")?;
    let name = args.next().unwrap_or_else(|| "example".into());
    let repo = std::fs::canonicalize(&repo).with_context(|| format!("{repo} does not exist"))?;
    let data = tempfile_dir()?;

    // Embedding: a runtime and a builder, the platform around them, a worker.
    let runtime = Arc::new(LocalRuntime::new(data.join("logs")));
    let platform = Platform::builder()
        .data_dir(&data)
        .runtime(runtime)
        .images(Arc::new(LocalBuilder::default()))
        .build()
        .await?;
    let worker = BuildWorker::new(platform.clone(), data.join("builds"));

    let user = User {
        id: UserId::new(),
        name: "me".into(),
        created_at: chrono::Utc::now(),
    };
    platform
        .store()
        .create_user(&user, "example-token-hash")
        .await?;

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let worker_task = tokio::spawn({
        let stop = stopped(stop_rx.clone());
        async move { worker.run(stop).await }
    });
    let deployer_task = tokio::spawn({
        let platform = platform.clone();
        let stop = stopped(stop_rx.clone());
        async move { platform.run_deployer(stop).await }
    });

    let app = platform
        .create_application(
            &user,
            NewApplication::new(
                AppName::parse(&name)?,
                GitUrl::parse(
                    &format!("file://{}", repo.display()),
                    SourcePolicy::default(),
                )?,
            ),
        )
        .await?;
    let mut changes = platform.status_changes(app.id, None).await?;
    while let Some(change) = changes.next().await {
        println!(
            "{:>9}  {}",
            change.status.as_str(),
            change.reason.unwrap_or_default()
        );
        match change.status {
            AppStatus::Running => break,
            AppStatus::Failed => {
                let _ = stop_tx.send(true);
                bail!("the app failed");
            }
            _ => {}
        }
    }
    let app = platform.app(app.id).await?.context("the app vanished")?;
    if let Some(endpoint) = app.endpoint {
        println!("running at {} (Ctrl-C stops it)", endpoint.url());
    }
    tokio::signal::ctrl_c().await?;
    let _ = stop_tx.send(true);
    let _ = tokio::join!(worker_task, deployer_task);
    platform.shutdown().await?;
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("paas-example-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
