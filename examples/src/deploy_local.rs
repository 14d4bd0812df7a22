//! Embedding paas as a library: deploy a local git repository with no HTTP, no server, no
//! database to set up.
//!
//! ```text
//! cargo run -p paas-examples --bin deploy-local -- /path/to/repo [name]
//! ```
//!
//! It runs the whole platform in this process (SQLite in a temp dir, local processes), prints
//! every status change of the app, and keeps it running, supervised, until Ctrl-C.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let repo = args
        .next()
        .context("usage: deploy-local <path-to-git-repo> [name]")?;
    let name = args.next().unwrap_or_else(|| "example".into());
    let data = std::env::temp_dir().join(format!("paas-example-{}", std::process::id()));
    std::fs::create_dir_all(&data)?;

    let deployed = paas_examples::deploy_local(repo.as_ref(), &name, &data, |change| {
        let reason = change.reason.as_deref().unwrap_or_default();
        println!("{:>9}  {reason}", change.status.as_str());
    })
    .await?;
    let serving = deployed.platform.serving_instances(&deployed.app).await?;
    for instance in &serving {
        println!("running at {} (Ctrl-C stops it)", instance.endpoint.url());
    }
    tokio::signal::ctrl_c().await?;
    deployed.stop().await
}
