//! Health checks: an app whose `/health` turns to 500 is taken out and restarted after
//! `unhealthyThreshold` failing checks, the answer in its status and `SYSTEM` log; a redeploy
//! whose health check fails at start never goes live while the old deployment keeps serving
//! through the router; bad settings are refused and change nothing; the default is today's TCP
//! connect.

use std::time::Duration;

use anyhow::Context;
use paas_tests::apps;
use paas_tests::router;
use paas_tests::steps::{
    FAST_CRASH_POLICY, STATUS, commit_version, deployed_with, page, settled, show,
};
use paas_tests::{Client, TestApp, TestDb, eventually};
use serde_json::{Value, json};

use crate::on_both_databases;

const HEALTH: &str = "query($id: ID!) { application(id: $id) { version healthCheck {
  type path intervalSeconds timeoutSeconds healthyThreshold unhealthyThreshold startPeriodSeconds
} } }";

const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input) { version healthCheck { type path } }
}";

const REDEPLOY: &str =
    "mutation($id: ID!) { redeployApplication(id: $id, queue: true) { status } }";

/// A quick HTTP check on `/health`: every second, two failures in a row restart.
fn quick_check() -> Value {
    json!({ "type": "HTTP", "path": "/health", "intervalSeconds": 1, "timeoutSeconds": 1,
            "unhealthyThreshold": 2 })
}

async fn deploy_health_app(
    alice: &Client,
    name: &str,
) -> anyhow::Result<(tempfile::TempDir, String)> {
    deployed_with(
        alice,
        name,
        &[("app.py", &apps::health()), ("version.txt", "v1\n")],
        json!({ "healthCheck": quick_check() }),
    )
    .await
}

/// The app's `SYSTEM` log lines.
async fn system_lines(alice: &Client, id: &str) -> anyhow::Result<Vec<String>> {
    let lines = page(
        alice,
        json!({ "app": id, "streams": ["SYSTEM"], "limit": 1000 }),
    )
    .await?;
    Ok(lines["lines"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|l| l["text"].as_str().unwrap_or_default().to_owned())
        .collect())
}

async fn an_unhealthy_instance_is_restarted_with_the_answer_as_reason(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_CRASH_POLICY).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let (_repo, id) = deploy_health_app(&alice, "wobbly").await?;
    let shown = alice.data(HEALTH, json!({ "id": id })).await?;
    assert_eq!(
        shown["application"]["healthCheck"],
        json!({ "type": "HTTP", "path": "/health", "intervalSeconds": 1, "timeoutSeconds": 1,
                "healthyThreshold": 1, "unhealthyThreshold": 2, "startPeriodSeconds": 0 })
    );
    let url = router::app_url(router, "wobbly");
    router::routed(router, "wobbly.localhost").await?;

    // The subscription replays the app's history first: only later changes count.
    let seen = shown["application"]["version"].as_i64().unwrap_or_default();
    let mut statuses = alice.subscribe(STATUS, json!({ "id": id })).await?;
    let (code, _) = router::get(router, &format!("{url}toggle")).await?;
    assert_eq!(code, 200);

    // Restarted: the status says why while it comes back.
    let reason = loop {
        let msg = statuses.next(Duration::from_secs(60)).await?;
        let change = &msg["data"]["applicationStatus"];
        let new = change["version"].as_i64().unwrap_or_default() > seen;
        if new && change["status"] == "STARTING" {
            break change["reason"].as_str().unwrap_or_default().to_owned();
        }
    };
    assert!(
        reason.starts_with(
            "unhealthy: health check GET /health answered 500: boom: database unreachable"
        ),
        "{reason}"
    );
    let app = settled(&alice, &id).await?;
    assert_eq!(app["status"], "RUNNING", "{app}");
    let task = &app["tasks"][0];
    assert_eq!(
        (&task["kind"], &task["state"]),
        (&json!("RESTART"), &json!("SUCCEEDED")),
        "{app}"
    );
    let (code, body) = router::get(router, &format!("{url}health")).await?;
    assert_eq!((code, body.as_str()), (200, "ok"), "healthy again");

    let lines = system_lines(&alice, &id).await?;
    let said = |needle: &str| lines.iter().any(|l| l.contains(needle));
    assert!(
        said("failing its health check since")
            && said(
                "unhealthy, taken out of the route and restarted: health check GET /health answered 500: boom"
            ),
        "{lines:#?}"
    );

    // The event log has the failure with the check's answer; the owner has one notification.
    let events = alice
        .data(
            "query($app: ID) { events(appId: $app, kinds: [HEALTH_CHECK_FAILED], first: 10) {
                edges { node { kind message details } } } }",
            json!({ "app": id }),
        )
        .await?;
    let failed = events["events"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        failed
            .iter()
            .any(|e| e["node"]["details"]["restarted"] == true
                && e["node"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .contains("answered 500")),
        "{events}"
    );
    let notes = alice
        .data(
            "{ notifications(first: 10) { edges { node { kind app { id } message } } } }",
            json!({}),
        )
        .await?;
    let health: Vec<_> = notes["notifications"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n["node"]["kind"] == "HEALTH_FAILING")
        .collect();
    assert_eq!(health.len(), 1, "{notes}");
    assert_eq!(health[0]["node"]["app"]["id"], json!(id));
    assert!(
        health[0]["node"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("wobbly failed its health check 2 times in a row"),
        "{notes}"
    );
    Ok(())
}
on_both_databases!(an_unhealthy_instance_is_restarted_with_the_answer_as_reason);

async fn a_redeploy_failing_its_health_check_never_goes_live(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let router = server.router.context("no router")?;
    let alice = server.user("alice").await?;
    let (repo, id) = deploy_health_app(&alice, "steady").await?;
    let url = router::app_url(router, "steady");
    router::routed(router, "steady.localhost").await?;
    let live = show(&alice, &id).await?["deployments"][0]["id"].clone();

    commit_version(repo.path(), &[("version.txt", "v2\n"), ("sick", "yes\n")])?;
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    // The old deployment answers through the router until the new one has failed.
    let failed = eventually(Duration::from_secs(120), || async {
        let (code, body) = router::get(router, &url).await?;
        anyhow::ensure!((code, body.as_str()) == (200, "v1"), "{code} {body}");
        let app = show(&alice, &id).await?;
        let newest = app["deployments"][0].clone();
        Ok((newest["status"] == "FAILED").then_some(newest))
    })
    .await?;
    let error = failed["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("failed its health check")
            && error.contains("health check GET /health answered 500: boom: database unreachable"),
        "{error}"
    );
    let app = settled(&alice, &id).await?;
    assert_eq!(app["status"], "RUNNING", "{app}");
    let serving = app["deployments"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["status"] == "RUNNING").cloned())
        .context("nothing runs")?;
    assert_eq!(serving["id"], live, "the old deployment still serves");
    let (code, body) = router::get(router, &url).await?;
    assert_eq!((code, body.as_str()), (200, "v1"));
    Ok(())
}
on_both_databases!(a_redeploy_failing_its_health_check_never_goes_live);

async fn bad_health_checks_are_refused_and_the_default_is_a_tcp_connect(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (_repo, id) = deployed_with(
        &alice,
        "plain",
        &[("app.py", &apps::health()), ("version.txt", "v1\n")],
        json!({}),
    )
    .await?;
    let shown = alice.data(HEALTH, json!({ "id": id })).await?;
    assert_eq!(
        shown["application"]["healthCheck"],
        json!({ "type": "TCP", "path": "/", "intervalSeconds": 10, "timeoutSeconds": 2,
                "healthyThreshold": 1, "unhealthyThreshold": 3, "startPeriodSeconds": 0 })
    );
    let version = shown["application"]["version"].clone();

    let bad = [
        json!({ "path": "health" }),
        json!({ "path": "/a b" }),
        json!({ "path": format!("/{}", "a".repeat(2000)) }),
        json!({ "intervalSeconds": 0 }),
        json!({ "intervalSeconds": 3601 }),
        json!({ "timeoutSeconds": 11 }),
        json!({ "healthyThreshold": 0 }),
        json!({ "unhealthyThreshold": 11 }),
        json!({ "startPeriodSeconds": -1 }),
    ];
    for check in &bad {
        let input = json!({ "healthCheck": check });
        let code = alice
            .error_code(UPDATE, json!({ "id": id, "input": input }))
            .await?;
        assert_eq!(code, "INVALID_HEALTH_CHECK", "{check}");
        let create = json!({ "name": "never", "repository": { "url": "https://example.com/r.git" },
                             "healthCheck": check });
        let code = alice
            .error_code(paas_tests::steps::CREATE, json!({ "input": create }))
            .await?;
        assert_eq!(code, "INVALID_HEALTH_CHECK", "{check}");
    }
    let after = alice.data(HEALTH, json!({ "id": id })).await?;
    assert_eq!(after["application"]["version"], version, "nothing changed");
    assert_eq!(server.count_rows("applications").await?, 1);

    // A valid change applies at once, with no restart.
    let instance = show(&alice, &id).await?["instances"][0]["id"].clone();
    let input = json!({ "healthCheck": { "type": "HTTP", "path": "/health" } });
    let changed = alice
        .data(UPDATE, json!({ "id": id, "input": input }))
        .await?;
    assert_eq!(
        changed["updateApplication"]["healthCheck"],
        json!({ "type": "HTTP", "path": "/health" })
    );
    let app = show(&alice, &id).await?;
    assert_eq!(app["status"], "RUNNING");
    assert_eq!(app["instances"][0]["id"], instance, "nothing restarted");
    Ok(())
}
on_both_databases!(bad_health_checks_are_refused_and_the_default_is_a_tcp_connect);
