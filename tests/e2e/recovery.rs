//! The restart policy (a crashed instance is restarted with backoff, a crash loop fails the
//! app) and recovery when the server starts again after `kill -9` in the middle of deploys.

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use paas_tests::apps::{crashing, versioned};
use paas_tests::repo::file_url;
use paas_tests::steps::{FAST_CRASH_POLICY, body, create, records, show, versioned_app};
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

use crate::on_both_databases;
use paas_tests::eventually;

async fn a_crash_loop_fails_the_app_with_the_reason(db: TestDb) -> anyhow::Result<()> {
    let server = TestServer::spawn(db, FAST_CRASH_POLICY).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &crashing())])?;
    let id = create(
        &alice,
        json!({ "name": "crashy", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let app = eventually(Duration::from_secs(90), || async {
        let app = show(&alice, &id).await?;
        Ok((app["status"] == "FAILED").then_some(app))
    })
    .await?;
    let reason = app["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("crashed 3 times") && reason.contains("code 3") && reason.contains("boom"),
        "{reason}"
    );
    let restarts = app["tasks"]
        .as_array()
        .map_or(0, |t| t.iter().filter(|t| t["kind"] == "RESTART").count());
    assert_eq!(
        restarts, 3,
        "two restarts and the one that gave up: {}",
        app["tasks"]
    );
    assert_eq!(app["deployments"][0]["status"], "FAILED");
    assert_eq!(app["deployments"][0]["restarts"], 2);
    Ok(())
}
on_both_databases!(a_crash_loop_fails_the_app_with_the_reason);

async fn a_single_crash_is_restarted(db: TestDb) -> anyhow::Result<()> {
    let server = TestServer::spawn(db, FAST_CRASH_POLICY).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &crashing())])?;
    let id = create(
        &alice,
        json!({
            "name": "wobbly",
            "repository": { "url": file_url(repo.path()) },
            "env": [{ "key": "CRASH", "value": "once" }],
        }),
    )
    .await?;
    let app = eventually(Duration::from_secs(60), || async {
        let app = show(&alice, &id).await?;
        let restarted = app["deployments"][0]["restarts"] == 1
            && app["status"] == "RUNNING"
            && app["tasks"][0]["state"] == "SUCCEEDED";
        Ok(restarted.then_some(app))
    })
    .await?;
    assert_eq!(app["tasks"][0]["kind"], "RESTART");
    assert_eq!(body(&alice, &id).await?, "ok");
    Ok(())
}
on_both_databases!(a_single_crash_is_restarted);

async fn nothing_stays_stuck_after_kill_9(db: TestDb) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = db.url(dir.path()).await?;
    let env = [("PAAS_LOCK_LEASE_SECS", "2")];
    let mut server = TestServer::spawn_in(dir.path(), &url, &[], &env).await?;
    let alice = server.user("alice").await?;
    let (_a, survivor) = versioned_app(&alice, "survivor").await?;
    let (_b, victim) = versioned_app(&alice, "victim").await?;
    let repo = git_repo(&[
        (
            "package.json",
            r#"{ "name": "late", "version": "1.0.0", "scripts": { "build": "sleep 2", "start": "python3 app.py" } }"#,
        ),
        ("app.py", &versioned()),
        ("version.txt", "late\n"),
    ])?;
    let late = create(
        &alice,
        json!({ "name": "late", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    eventually(Duration::from_secs(30), || async {
        Ok((show(&alice, &late).await?["status"] == "BUILDING").then_some(()))
    })
    .await?;
    let survivor_instance = show(&alice, &survivor).await?["instances"].clone();

    server.kill9().await?;
    // The victim's instance dies too while no server watches.
    let victim_name = "victim-";
    for (id, pgid) in records(dir.path())? {
        if id.starts_with(victim_name) {
            killpg(Pid::from_raw(pgid), Signal::SIGKILL)?;
        }
    }

    let server = TestServer::spawn_in(dir.path(), &url, &[], &env).await?;
    let alice = paas_tests::Client::new(&server.url, alice.token().map(str::to_owned))
        .with_router(server.router);
    for id in [&survivor, &victim, &late] {
        let app = eventually(Duration::from_secs(120), || async {
            let app = show(&alice, id).await?;
            Ok((app["status"] == "RUNNING").then_some(app))
        })
        .await?;
        assert_eq!(app["status"], "RUNNING", "{app}");
    }
    assert_eq!(body(&alice, &late).await?, "late");
    assert_eq!(body(&alice, &victim).await?, "v1");
    assert_eq!(
        show(&alice, &survivor).await?["instances"],
        survivor_instance,
        "the surviving instance was adopted, not replaced"
    );
    assert_eq!(body(&alice, &survivor).await?, "v1");
    // One live process per app; none left over.
    let left = records(dir.path())?;
    assert_eq!(left.len(), 3, "{left:?}");
    for (id, pgid) in left {
        assert!(killpg(Pid::from_raw(pgid), None).is_ok(), "{id} is dead");
    }
    Ok(())
}
on_both_databases!(nothing_stays_stuck_after_kill_9);
