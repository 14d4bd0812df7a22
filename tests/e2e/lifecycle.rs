//! After creation: redeploy without downtime, a failed redeploy that keeps the old version
//! serving, delete leaving nothing behind, pruning of old images.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use paas_tests::repo::file_url;
use paas_tests::steps::{app, body, commit_version, create, instance_url, settled, versioned_app};
use paas_tests::{Client, TestApp, TestDb, eventually, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;

const REDEPLOY: &str = "mutation($id: ID!) { redeployApplication(id: $id) { id status } }";

/// Waits until the newest deployment is settled; returns the app.
async fn newest_deployment_settled(client: &Client, id: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(120), || async {
        let shown = app(client, id).await?;
        let status = shown["deployments"][0]["status"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        Ok(matches!(status.as_str(), "RUNNING" | "FAILED").then_some(shown))
    })
    .await
}

async fn redeploy_switches_without_a_failed_request(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (repo, id) = versioned_app(&alice, "rolling").await?;
    let v2 = commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    let old_url = instance_url(&alice, &id).await?;

    // A client that keeps asking the platform where the app is and calling it.
    let stop = Arc::new(AtomicBool::new(false));
    let poller = {
        let (alice, id, stop) = (alice.clone(), id.clone(), stop.clone());
        tokio::spawn(async move {
            let mut bodies = Vec::new();
            let mut failures = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                match body(&alice, &id).await {
                    Ok(b) => bodies.push(b),
                    Err(e) => failures.push(e.to_string()),
                }
            }
            (bodies, failures)
        })
    };
    let redeployed = alice.data(REDEPLOY, json!({ "id": id })).await?;
    assert_eq!(
        redeployed["redeployApplication"]["status"], "RUNNING",
        "a running app keeps serving"
    );
    let shown = newest_deployment_settled(&alice, &id).await?;
    assert_eq!(shown["deployments"][0]["status"], "RUNNING");
    assert_eq!(shown["deployments"][0]["commit"], v2.as_str());
    // Keep calling through the drain of the old instance, until it is gone.
    eventually(Duration::from_secs(60), || async {
        Ok(reqwest::get(&old_url).await.is_err().then_some(()))
    })
    .await
    .context("the old instance never stopped")?;
    stop.store(true, Ordering::SeqCst);
    let (bodies, failures) = poller.await?;
    assert!(
        failures.is_empty(),
        "requests failed during the switch: {failures:?}"
    );
    assert!(
        bodies.iter().any(|b| b == "v1") && bodies.iter().any(|b| b == "v2"),
        "{:?}",
        bodies.len()
    );
    let switched = bodies.iter().position(|b| b == "v2").unwrap_or(0);
    assert!(
        bodies[switched..].iter().all(|b| b == "v2"),
        "v1 answered again after the switch"
    );

    let shown = app(&alice, &id).await?;
    assert_eq!(shown["status"], "RUNNING");
    assert_eq!(shown["deployments"][1]["status"], "STOPPED");
    Ok(())
}
on_both_databases!(redeploy_switches_without_a_failed_request);

async fn failed_redeploy_keeps_the_old_version_serving(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (repo, id) = versioned_app(&alice, "steady").await?;
    commit_version(
        repo.path(),
        &[("app.py", "import sys\nsys.exit('broken release')\n")],
    )?;

    alice.data(REDEPLOY, json!({ "id": id })).await?;
    newest_deployment_settled(&alice, &id).await?;
    // Read again: one answer reads the app before its deployments, and the app's reason is
    // written before the deployment's end; a read after the end sees both.
    let shown = app(&alice, &id).await?;
    assert_eq!(shown["deployments"][0]["status"], "FAILED");
    assert_eq!(shown["deployments"][0]["startAttempts"], 3);
    assert_eq!(shown["deployments"][1]["status"], "RUNNING");
    assert_eq!(shown["status"], "RUNNING");
    let reason = shown["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("keeps serving") && reason.contains("broken release"),
        "{reason}"
    );
    assert_eq!(body(&alice, &id).await?, "v1");
    Ok(())
}
on_both_databases!(failed_redeploy_keeps_the_old_version_serving);

async fn delete_leaves_nothing_behind(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let (_repo, id) = versioned_app(&alice, "doomed").await?;
    let shown = app(&alice, &id).await?;
    let url = instance_url(&alice, &id).await?;
    let dep = shown["deployments"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let build_dir = server.builds_dir().join(&dep);
    assert!(build_dir.is_dir());

    let del = "mutation($id: ID!) { deleteApplication(id: $id) }";
    assert_eq!(
        bob.error_code(del, json!({ "id": id })).await?,
        "NOT_FOUND",
        "bob deleted alice's app"
    );
    assert_eq!(
        alice.data(del, json!({ "id": id })).await?["deleteApplication"],
        true
    );

    assert_eq!(
        alice
            .error_code(paas_tests::steps::APP, json!({ "id": id }))
            .await?,
        "NOT_FOUND"
    );
    assert!(reqwest::get(&url).await.is_err(), "the app still answers");
    assert!(!build_dir.exists(), "the build was left behind");
    assert_eq!(server.count_rows("applications").await?, 0);
    assert_eq!(server.count_rows("deployments").await?, 0);
    let free = alice
        .data("{ nameAvailable(name: \"doomed\") }", json!({}))
        .await?;
    assert_eq!(free["nameAvailable"], true);
    Ok(())
}
on_both_databases!(delete_leaves_nothing_behind);

async fn busy_apps_refuse_a_second_deploy(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[(
        "package.json",
        // A build that lasts until the test lets it end, however slow the machine.
        r#"{ "name": "slow", "version": "1.0.0", "scripts": { "build": "while [ ! -f release ]; do sleep 0.1; done", "start": "exit 1" } }"#,
    )])?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "slow", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    assert_eq!(
        alice.error_code(REDEPLOY, json!({ "id": id })).await?,
        "APP_BUSY"
    );
    assert_eq!(
        server.count_rows("deployments").await?,
        1,
        "the refused redeploy wrote nothing"
    );
    // The build ends when its checkout holds `release`; the app then fails to start and settles.
    let dep = app(&alice, &id).await?["deployments"][0]["id"]
        .as_str()
        .context("no deployment")?
        .to_owned();
    let checkout = server.builds_dir().join(dep);
    eventually(Duration::from_secs(60), || async {
        Ok(std::fs::write(checkout.join("release"), "").ok())
    })
    .await
    .context("the checkout never appeared")?;
    eventually(Duration::from_secs(120), || async {
        Ok((app(&alice, &id).await?["status"] == "FAILED").then_some(()))
    })
    .await
    .context("the app never settled")?;
    Ok(())
}
on_both_databases!(busy_apps_refuse_a_second_deploy);

async fn delete_cancels_a_build_under_way(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[(
        "package.json",
        r#"{ "name": "stuck", "version": "1.0.0", "scripts": { "build": "sleep 600" } }"#,
    )])?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "stuck", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    eventually(Duration::from_secs(60), || async {
        Ok((app(&alice, &id).await?["status"] == "BUILDING").then_some(()))
    })
    .await?;
    // Not refused as busy, not waiting for the build: the app and its build go.
    alice
        .data(
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    assert_eq!(server.count_rows("applications").await?, 0);
    assert_eq!(server.count_rows("deployments").await?, 0);
    let free = alice
        .data("{ nameAvailable(name: \"stuck\") }", json!({}))
        .await?;
    assert_eq!(free["nameAvailable"], true);
    Ok(())
}
on_both_databases!(delete_cancels_a_build_under_way);

async fn old_images_are_pruned_beyond_three(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (repo, id) = versioned_app(&alice, "pruned").await?;
    for n in 2..=5 {
        commit_version(repo.path(), &[("version.txt", &format!("v{n}\n"))])?;
        alice.data(REDEPLOY, json!({ "id": id })).await?;
        let shown = newest_deployment_settled(&alice, &id).await?;
        assert_eq!(shown["deployments"][0]["status"], "RUNNING");
    }
    // The deployment is recorded RUNNING a moment before the app's endpoint switches to it.
    eventually(Duration::from_secs(10), || async {
        Ok((body(&alice, &id).await? == "v5").then_some(()))
    })
    .await?;
    let shown = app(&alice, &id).await?;
    let deps: Vec<String> = shown["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|d| d["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(deps.len(), 5);
    let builds = server.builds_dir();
    // Pruning follows the switch to the new deployment, a moment after RUNNING shows.
    let kept =
        |deps: &[String]| -> Vec<bool> { deps.iter().map(|d| builds.join(d).is_dir()).collect() };
    let expected = [true, true, true, false, false];
    let settled = eventually(Duration::from_secs(10), || async {
        Ok((kept(&deps) == expected).then_some(()))
    })
    .await;
    assert!(
        settled.is_ok(),
        "newest 3 build dirs kept, older pruned: {:?}",
        kept(&deps)
    );
    Ok(())
}
on_both_databases!(old_images_are_pruned_beyond_three);

async fn an_image_that_kept_deployments_run_is_never_pruned(db: TestDb) -> anyhow::Result<()> {
    const SET_ENV: &str = "mutation($id: ID!, $n: String!) {
      updateApplication(id: $id, input: { setEnv: [{ key: \"N\", value: $n }] }) { version }
    }";
    const ROLLBACK: &str = "mutation($id: ID!, $d: ID!) {
      rollbackApplication(id: $id, deployment: $d) { status }
    }";
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (repo, id) = versioned_app(&alice, "shared").await?;
    // Three env changes: three deployments that run v1's image again.
    for n in 1..=3 {
        alice
            .data(SET_ENV, json!({ "id": id, "n": n.to_string() }))
            .await?;
        settled(&alice, &id).await?;
    }
    commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    newest_deployment_settled(&alice, &id).await?;
    // Five deployments but two images (the env changes run v1's again): both are kept, and
    // rolling back to an env change runs v1 again.
    let shown = settled(&alice, &id).await?;
    assert_eq!(shown["deployments"].as_array().map(Vec::len), Some(5));
    let env_change = shown["deployments"][1]["id"].clone();
    alice
        .data(ROLLBACK, json!({ "id": id, "d": env_change }))
        .await?;
    let shown = settled(&alice, &id).await?;
    assert_eq!(shown["status"], "RUNNING", "{shown}");
    assert_eq!(shown["deployments"][0]["status"], "RUNNING", "{shown}");
    eventually(Duration::from_secs(10), || async {
        Ok((body(&alice, &id).await? == "v1").then_some(()))
    })
    .await?;
    Ok(())
}
on_both_databases!(an_image_that_kept_deployments_run_is_never_pruned);
