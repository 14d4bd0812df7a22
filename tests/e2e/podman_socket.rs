//! Start-up with `--runtime podman` checks the socket: a wrong one fails the start with an error
//! naming it (instead of a healthy server whose every app fails later), and the socket may be
//! given as a path or as a `unix://` URL.

use std::time::Duration;

use anyhow::{Context, ensure};
use paas_tests::{TestDb, TestServer};

/// Runs `paas serve --runtime podman --podman-socket <socket>` expecting it to exit (not
/// serve); returns whether it succeeded and its stderr.
async fn serve_expecting_exit(socket: &str) -> anyhow::Result<(bool, String)> {
    let dir = tempfile::tempdir()?;
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        paas_tests::server::serve_command(dir.path())?
            .args(["--runtime", "podman", "--podman-socket", socket])
            .env_remove("DATABASE_URL")
            .env_remove("PODMAN_SOCKET")
            .env("RUST_BACKTRACE", "0")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("paas serve started instead of refusing the socket")??;
    ensure!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "it said it was listening"
    );
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_podman_socket_fails_the_start_naming_it() -> anyhow::Result<()> {
    let (ok, stderr) = serve_expecting_exit("/nonexistent.sock").await?;
    ensure!(!ok, "paas serve succeeded with no Podman");
    ensure!(stderr.contains("/nonexistent.sock"), "{stderr}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_may_be_a_unix_url() -> anyhow::Result<()> {
    let socket = format!("unix://{}", paas_tests::podman::socket());
    let server = TestServer::spawn(
        TestDb::Sqlite,
        &["--runtime", "podman", "--podman-socket", &socket],
    )
    .await?;
    let resp = reqwest::get(format!("{}/healthz", server.url)).await?;
    ensure!(resp.status() == 200, "{}", resp.status());
    // The URL's path is the socket: a wrong one is named without the scheme.
    let (ok, stderr) = serve_expecting_exit("unix:///nonexistent.sock").await?;
    ensure!(!ok, "paas serve succeeded with no Podman");
    ensure!(stderr.contains("socket /nonexistent.sock"), "{stderr}");
    // A scheme Podman is not reached by is refused at once.
    let (ok, stderr) = serve_expecting_exit("tcp://127.0.0.1:1").await?;
    ensure!(!ok, "a tcp:// socket was taken");
    ensure!(stderr.contains("unix socket"), "{stderr}");
    Ok(())
}
