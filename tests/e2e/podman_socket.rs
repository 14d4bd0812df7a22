//! Start-up with `--runtime podman` checks the socket: a wrong one fails the start with an error
//! naming it (instead of a healthy server whose every app fails later), and the socket may be
//! given as a path or as a `unix://` URL.

use std::time::Duration;

use anyhow::{Context, ensure};
use paas_tests::server::paas_bin;
use paas_tests::{TestDb, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_podman_socket_fails_the_start_naming_it() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        tokio::process::Command::new(paas_bin()?)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .args([
                "--runtime",
                "podman",
                "--podman-socket",
                "/nonexistent.sock",
            ])
            .env_remove("DATABASE_URL")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("paas serve did not exit")??;
    ensure!(!out.status.success(), "paas serve started with no Podman");
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(stderr.contains("/nonexistent.sock"), "{stderr}");
    ensure!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "it said it was listening"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_url_names_the_socket() -> anyhow::Result<()> {
    let socket = format!("unix://{}", paas_tests::podman::socket());
    let server = TestServer::spawn(
        TestDb::Sqlite,
        &["--runtime", "podman", "--podman-socket", &socket],
    )
    .await?;
    let resp = reqwest::get(format!("{}/healthz", server.url)).await?;
    ensure!(resp.status() == 200, "{}", resp.status());
    // A scheme Podman is not reached by is refused at once.
    let dir = tempfile::tempdir()?;
    let out = tokio::process::Command::new(paas_bin()?)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .args([
            "--runtime",
            "podman",
            "--podman-socket",
            "tcp://127.0.0.1:1",
        ])
        .output()
        .await?;
    ensure!(!out.status.success(), "a tcp:// socket was taken");
    Ok(())
}
