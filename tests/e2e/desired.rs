//! What the user asked for (the app should run, or a user stopped it) kept apart from what is
//! observed: a restart of the server brings back every app its user wants running and keeps the
//! stopped ones stopped; `stopApplication`/`startApplication`; and a crash restart whose start
//! fails leaves the app settled, never `STARTING` with nobody at work on it.

use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use paas_tests::steps::{
    FAST_CRASH_POLICY, body, instance_url, records_of, settled, show, until_status, versioned_app,
};
use paas_tests::{Client, TestDb, TestServer};
use serde_json::json;

use crate::on_both_databases;
use paas_tests::eventually;

const STOP: &str = "mutation($id: ID!) { stopApplication(id: $id) { status desiredState } }";
const START: &str = "mutation($id: ID!) { startApplication(id: $id) { status desiredState } }";
const RESTART: &str = "mutation($id: ID!) { restartApplication(id: $id) { status } }";

/// The same user on a server started again.
fn again(server: &TestServer, user: &Client) -> Client {
    Client::new(&server.url, user.token().map(str::to_owned)).with_router(server.router)
}

/// Waits until the app answers `expected` on the endpoint the platform reports for it now.
async fn answers(client: &Client, id: &str, expected: &str) -> anyhow::Result<()> {
    eventually(Duration::from_secs(90), || async {
        Ok(body(client, id)
            .await
            .ok()
            .filter(|b| b == expected)
            .map(|_| ()))
    })
    .await
    .with_context(|| format!("app {id} never answered {expected:?}"))
}

async fn a_server_restart_brings_the_apps_back(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = db.url(dir.path()).await?;
    let mut server = TestServer::spawn_in(dir.path(), &url, &[], &[]).await?;
    let alice = server.user("alice").await?;
    let (_repo, id) = versioned_app(&alice, "upgraded").await?;

    // An operator restarting paas (to upgrade it) stops it as a service manager does.
    server.terminate().await?;
    let server = TestServer::spawn_in(dir.path(), &url, &[], &[]).await?;
    let alice = again(&server, &alice);
    answers(&alice, &id, "v1").await?;
    let app = show(&alice, &id).await?;
    assert_eq!(app["status"], "RUNNING", "{app}");
    assert_eq!(records_of(&server.data_dir, "upgraded")?.len(), 1);
    Ok(())
}
on_both_databases!(a_server_restart_brings_the_apps_back);

async fn a_stopped_app_stays_stopped_until_started(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = db.url(dir.path()).await?;
    let mut server = TestServer::spawn_in(dir.path(), &url, &[], &[]).await?;
    let alice = server.user("alice").await?;
    let (_a, paused) = versioned_app(&alice, "paused").await?;
    // Wanted running: its return shows that recovery has been through every app.
    let (_b, witness) = versioned_app(&alice, "witness").await?;
    let old_url = instance_url(&alice, &paused).await?;

    assert_eq!(
        alice.error_code(START, json!({ "id": paused })).await?,
        "NOT_STOPPED"
    );
    let answer = alice.data(STOP, json!({ "id": paused })).await?;
    assert_eq!(answer["stopApplication"]["desiredState"], "STOPPED");
    let app = until_status(&alice, &paused, "STOPPED").await?;
    assert_eq!(app["tasks"][0]["kind"], "STOP");
    assert_eq!(app["instances"], json!([]), "{app}");
    assert!(records_of(&server.data_dir, "paused")?.is_empty());
    assert!(
        reqwest::get(&old_url).await.is_err(),
        "the instance still answers"
    );
    assert_eq!(
        alice.error_code(STOP, json!({ "id": paused })).await?,
        "ALREADY_STOPPED"
    );

    server.terminate().await?;
    let server = TestServer::spawn_in(dir.path(), &url, &[], &[]).await?;
    let alice = again(&server, &alice);
    answers(&alice, &witness, "v1").await?;
    let app = show(&alice, &paused).await?;
    assert_eq!(app["status"], "STOPPED", "{app}");
    assert!(records_of(&server.data_dir, "paused")?.is_empty());

    let answer = alice.data(START, json!({ "id": paused })).await?;
    assert_eq!(answer["startApplication"]["status"], "STARTING");
    let app = settled(&alice, &paused).await?;
    assert_eq!(app["status"], "RUNNING", "{app}");
    assert_eq!(app["tasks"][0]["kind"], "START");
    assert_eq!(app["tasks"][0]["state"], "SUCCEEDED");
    assert_eq!(
        app["deployments"].as_array().map_or(0, Vec::len),
        1,
        "a start builds nothing: {app}"
    );
    answers(&alice, &paused, "v1").await?;
    Ok(())
}
on_both_databases!(a_stopped_app_stays_stopped_until_started);

async fn a_crash_restart_that_cannot_start_settles_the_app(db: TestDb) -> anyhow::Result<()> {
    let server = TestServer::spawn(db, FAST_CRASH_POLICY).await?;
    let alice = server.user("alice").await?;
    let (_repo, id) = versioned_app(&alice, "fragile").await?;
    let [(_, pgid)] = records_of(&server.data_dir, "fragile")?[..] else {
        anyhow::bail!("not one instance");
    };

    // The runtime can no longer start anything (its output directory became a file: an I/O
    // error, like running out of file descriptors), and then the app crashes.
    let logs = server.data_dir.join("logs");
    let aside = server.data_dir.join("logs.aside");
    std::fs::rename(&logs, &aside)?;
    std::fs::write(&logs, "not a directory")?;
    killpg(Pid::from_raw(pgid), Signal::SIGKILL)?;

    let app = until_status(&alice, &id, "FAILED").await?;
    let reason = app["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("logs"),
        "the reason names the cause: {reason}"
    );
    assert_eq!(app["tasks"][0]["kind"], "RESTART");
    assert_eq!(app["tasks"][0]["state"], "FAILED", "{app}");
    assert_ne!(app["deployments"][0]["status"], "STARTING", "{app}");

    // Once the cause is gone, a plain restart is taken (not APP_BUSY) and works.
    std::fs::remove_file(&logs)?;
    std::fs::rename(&aside, &logs)?;
    let answer = alice.data(RESTART, json!({ "id": id })).await?;
    assert_eq!(answer["restartApplication"]["status"], "STARTING");
    let app = settled(&alice, &id).await?;
    assert_eq!(app["status"], "RUNNING", "{app}");
    answers(&alice, &id, "v1").await?;
    Ok(())
}
on_both_databases!(a_crash_restart_that_cannot_start_settles_the_app);
