//! The lifecycle mutations through GraphQL: restart (normal and forced), update (data only,
//! new instance, rebuild; compare-and-set on the version), rollback, busy apps (refused or
//! queued), and the task records they leave.

use std::time::Duration;

use paas_tests::apps::{hello, versioned};
use paas_tests::repo::file_url;
use paas_tests::steps::{
    body, commit_version, create, instance_url, settled, show, statuses_until_settled,
    versioned_app,
};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::json;

use crate::on_both_databases;
use paas_tests::eventually;

const RESTART: &str =
    "mutation($id: ID!, $force: Boolean) { restartApplication(id: $id, force: $force) { status } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!, $v: Int, $q: Boolean) {
  updateApplication(id: $id, input: $input, expectedVersion: $v, queue: $q) { name status version }
}";
const ROLLBACK: &str = "mutation($id: ID!, $d: ID!) {
  rollbackApplication(id: $id, deployment: $d) { status }
}";
const REDEPLOY: &str = "mutation($id: ID!) { redeployApplication(id: $id) { status } }";

async fn restart_starts_a_new_instance_of_the_same_image(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (_repo, id) = versioned_app(&alice, "again").await?;
    let old_url = instance_url(&alice, &id).await?;

    let answer = alice.data(RESTART, json!({ "id": id })).await?;
    assert_eq!(answer["restartApplication"]["status"], "STARTING");
    let after = settled(&alice, &id).await?;
    assert_eq!(after["status"], "RUNNING");
    assert_eq!(body(&alice, &id).await?, "v1");
    assert_ne!(instance_url(&alice, &id).await?, old_url, "a new instance");
    // The old one goes once the routers drained it.
    eventually(Duration::from_secs(20), || async {
        Ok(reqwest::get(&old_url).await.is_err().then_some(()))
    })
    .await?;
    let deps = after["deployments"].as_array().map_or(0, Vec::len);
    assert_eq!(deps, 1, "a restart builds nothing and adds no deployment");
    assert_eq!(after["tasks"][0]["kind"], "RESTART");
    assert_eq!(after["tasks"][0]["state"], "SUCCEEDED");
    assert!(after["tasks"][0]["endedAt"].is_string());
    assert_eq!(after["tasks"][1]["kind"], "DEPLOY");
    assert_eq!(after["tasks"][1]["state"], "SUCCEEDED");
    Ok(())
}
on_both_databases!(restart_starts_a_new_instance_of_the_same_image);

async fn updates_do_what_each_change_needs(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &hello())])?;
    let id = create(
        &alice,
        json!({ "name": "greeter", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    statuses_until_settled(&alice, &id).await?;
    assert_eq!(body(&alice, &id).await?, "hello");
    let v = show(&alice, &id).await?["version"]
        .as_i64()
        .unwrap_or_default();

    // Name and visibility: data only.
    let renamed = alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "name": "welcomer", "visibility": "PUBLIC" }, "v": v }),
        )
        .await?;
    assert_eq!(renamed["updateApplication"]["name"], "welcomer");
    let app = settled(&alice, &id).await?;
    assert_eq!(app["visibility"], "PUBLIC");
    assert_eq!(app["deployments"].as_array().map_or(0, Vec::len), 1);
    let free = alice
        .data(
            "{ a: nameAvailable(name: \"greeter\") b: nameAvailable(name: \"welcomer\") }",
            json!({}),
        )
        .await?;
    assert_eq!(free, json!({ "a": true, "b": false }));

    // A stale version changes nothing.
    let stale = alice
        .error_code(
            UPDATE,
            json!({ "id": id, "input": { "name": "stale" }, "v": v }),
        )
        .await?;
    assert_eq!(stale, "VERSION_CONFLICT");
    assert_eq!(show(&alice, &id).await?["name"], "welcomer");

    // Env: a new instance of the same image, no build.
    let v = show(&alice, &id).await?["version"]
        .as_i64()
        .unwrap_or_default();
    alice
        .data(UPDATE, json!({ "id": id, "input": { "env": [{ "key": "GREETING", "value": "hi there" }] }, "v": v }))
        .await?;
    let app = eventually(Duration::from_secs(60), || async {
        let app = settled(&alice, &id).await?;
        Ok((app["deployments"][0]["status"] == "RUNNING"
            && app["deployments"].as_array().map_or(0, Vec::len) == 2)
            .then_some(app))
    })
    .await?;
    assert_eq!(body(&alice, &id).await?, "hi there");
    let deps = &app["deployments"];
    assert_eq!(deps[0]["buildAttempts"], 0, "nothing was built");
    assert_eq!(deps[0]["origin"], deps[1]["id"]);
    assert_eq!(deps[1]["status"], "STOPPED");
    assert_eq!(app["env"], json!([{ "key": "GREETING" }]));
    assert_eq!(app["tasks"][0]["kind"], "UPDATE");
    assert_eq!(app["tasks"][0]["state"], "SUCCEEDED");

    // setEnv/unsetEnv change some variables and keep the others' values (which no client can
    // read back): GREETING is still served after OTHER is added and removed.
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "setEnv": [{ "key": "OTHER", "value": "x" }] } }),
        )
        .await?;
    let app = eventually(Duration::from_secs(60), || async {
        let app = settled(&alice, &id).await?;
        Ok((app["deployments"][0]["status"] == "RUNNING"
            && app["deployments"].as_array().map_or(0, Vec::len) == 3)
            .then_some(app))
    })
    .await?;
    assert_eq!(
        app["env"],
        json!([{ "key": "GREETING" }, { "key": "OTHER" }])
    );
    assert_eq!(body(&alice, &id).await?, "hi there");
    let both = alice
        .error_code(
            UPDATE,
            json!({ "id": id, "input": { "setEnv": [{ "key": "OTHER", "value": "y" }], "unsetEnv": ["OTHER"] } }),
        )
        .await?;
    assert_eq!(both, "INVALID_ENV");
    let bad_key = alice
        .error_code(UPDATE, json!({ "id": id, "input": { "unsetEnv": ["1X"] } }))
        .await?;
    assert_eq!(bad_key, "INVALID_ENV");
    assert_eq!(
        show(&alice, &id).await?["deployments"]
            .as_array()
            .map_or(0, Vec::len),
        3,
        "nothing changed"
    );
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "unsetEnv": ["OTHER", "NEVER_SET"] } }),
        )
        .await?;
    let app = eventually(Duration::from_secs(60), || async {
        let app = settled(&alice, &id).await?;
        Ok((app["deployments"][0]["status"] == "RUNNING"
            && app["deployments"].as_array().map_or(0, Vec::len) == 4)
            .then_some(app))
    })
    .await?;
    assert_eq!(app["env"], json!([{ "key": "GREETING" }]));
    assert_eq!(body(&alice, &id).await?, "hi there");

    // By name: the owner finds it; another user, like a missing name, gets NOT_FOUND.
    const BY_NAME: &str = "query($name: String) { application(name: $name) { id } }";
    let found = alice.data(BY_NAME, json!({ "name": "welcomer" })).await?;
    assert_eq!(found["application"]["id"], id.as_str());
    let bob = server.user("bob").await?;
    assert_eq!(
        bob.error_code(BY_NAME, json!({ "name": "welcomer" }))
            .await?,
        "NOT_FOUND"
    );
    assert_eq!(
        alice
            .error_code(BY_NAME, json!({ "name": "nobody" }))
            .await?,
        "NOT_FOUND"
    );
    let neither = alice
        .error_code("{ application { id } }", json!({}))
        .await?;
    assert_eq!(neither, "INVALID_ARGUMENT");
    Ok(())
}
on_both_databases!(updates_do_what_each_change_needs);

async fn a_branch_change_rebuilds(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (repo, id) = versioned_app(&alice, "brancher").await?;
    {
        let r = git2::Repository::open(repo.path())?;
        let head = r.head()?.peel_to_commit()?;
        r.branch("next", &head, false)?;
        r.set_head("refs/heads/next")?;
    }
    let next = commit_version(repo.path(), &[("version.txt", "next\n")])?;
    alice
        .data(UPDATE, json!({ "id": id, "input": { "branch": "next" } }))
        .await?;
    let app = eventually(Duration::from_secs(120), || async {
        let app = settled(&alice, &id).await?;
        Ok((app["deployments"][0]["status"] == "RUNNING"
            && app["deployments"].as_array().map_or(0, Vec::len) == 2)
            .then_some(app))
    })
    .await?;
    assert_eq!(app["repository"]["branch"], "next");
    assert_eq!(app["deployments"][0]["commit"], next.as_str());
    assert_eq!(app["deployments"][0]["buildAttempts"], 1);
    assert_eq!(body(&alice, &id).await?, "next");
    Ok(())
}
on_both_databases!(a_branch_change_rebuilds);

async fn rollback_runs_an_earlier_image_without_building(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let (repo, id) = versioned_app(&alice, "backwards").await?;
    let first = show(&alice, &id).await?["deployments"][0]["id"].clone();
    commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    eventually(Duration::from_secs(120), || async {
        let app = settled(&alice, &id).await?;
        Ok((app["deployments"][0]["status"] == "RUNNING"
            && app["deployments"].as_array().map_or(0, Vec::len) == 2)
            .then_some(()))
    })
    .await?;
    assert_eq!(body(&alice, &id).await?, "v2");

    assert_eq!(
        bob.error_code(ROLLBACK, json!({ "id": id, "d": first }))
            .await?,
        "NOT_FOUND"
    );
    let answer = alice
        .data(ROLLBACK, json!({ "id": id, "d": first }))
        .await?;
    assert_eq!(
        answer["rollbackApplication"]["status"], "RUNNING",
        "it keeps serving"
    );
    let app = eventually(Duration::from_secs(60), || async {
        let app = settled(&alice, &id).await?;
        Ok((app["deployments"].as_array().map_or(0, Vec::len) == 3
            && app["deployments"][0]["status"] == "RUNNING")
            .then_some(app))
    })
    .await?;
    assert_eq!(body(&alice, &id).await?, "v1");
    assert_eq!(app["deployments"][0]["origin"], first);
    assert_eq!(app["deployments"][0]["buildAttempts"], 0);
    assert_eq!(app["tasks"][0]["kind"], "ROLLBACK");
    assert_eq!(app["tasks"][0]["state"], "SUCCEEDED");
    Ok(())
}
on_both_databases!(rollback_runs_an_earlier_image_without_building);

/// A node app whose build takes as long as `build` says.
fn slow_node_app(build: &str) -> String {
    format!(
        r#"{{ "name": "slow", "version": "1.0.0", "scripts": {{ "build": "{build}", "start": "python3 app.py" }} }}"#
    )
}

async fn busy_apps_refuse_or_queue_and_force_takes_over(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &["--lock-wait-secs", "1", "--lock-lease-secs", "3"]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[
        ("package.json", &slow_node_app("true")),
        ("app.py", &versioned()),
        ("version.txt", "v1\n"),
    ])?;
    let id = create(
        &alice,
        json!({ "name": "stuck", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    statuses_until_settled(&alice, &id).await?;
    commit_version(
        repo.path(),
        &[("package.json", &slow_node_app("sleep 600"))],
    )?;
    alice.data(REDEPLOY, json!({ "id": id })).await?;
    eventually(Duration::from_secs(30), || async {
        let app = show(&alice, &id).await?;
        Ok((app["deployments"][0]["status"] == "BUILDING").then_some(()))
    })
    .await?;

    // Refused, saying what it waits for; nothing written.
    let refused = alice
        .gql(UPDATE, json!({ "id": id, "input": { "name": "renamed" } }))
        .await?;
    let error = &refused["errors"][0];
    assert_eq!(error["extensions"]["code"], "APP_BUSY");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("building"), "{message}");
    assert_eq!(show(&alice, &id).await?["name"], "stuck");
    // A normal restart waits (1 s here), then gives up the same way.
    assert_eq!(
        alice.error_code(RESTART, json!({ "id": id })).await?,
        "APP_BUSY"
    );

    // Queued: it runs once the app is free.
    alice
        .data(
            UPDATE,
            json!({ "id": id, "input": { "name": "renamed" }, "q": true }),
        )
        .await?;
    let queued = show(&alice, &id).await?;
    assert_eq!(queued["tasks"][0]["kind"], "UPDATE");
    assert_eq!(queued["tasks"][0]["state"], "QUEUED");

    // Forced: the stuck build is cancelled and the live deployment restarted.
    let forced = alice
        .data(RESTART, json!({ "id": id, "force": true }))
        .await?;
    assert_eq!(forced["restartApplication"]["status"], "STARTING");
    let app = eventually(Duration::from_secs(60), || async {
        let app = show(&alice, &id).await?;
        // A task records its end after its change: wait for every task to have ended too.
        let settled = app["tasks"].as_array().is_some_and(|tasks| {
            tasks
                .iter()
                .all(|t| t["state"] != "QUEUED" && t["state"] != "RUNNING")
        });
        Ok((app["name"] == "renamed" && app["status"] == "RUNNING" && settled).then_some(app))
    })
    .await?;
    assert_eq!(body(&alice, &id).await?, "v1");
    let cancelled = &app["deployments"][0];
    assert_eq!(cancelled["status"], "FAILED");
    assert!(
        cancelled["error"]
            .as_str()
            .unwrap_or_default()
            .contains("forced restart"),
        "{cancelled}"
    );
    let kinds: Vec<(&str, &str)> = app["tasks"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| {
                    (
                        t["kind"].as_str().unwrap_or(""),
                        t["state"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert!(kinds.contains(&("UPDATE", "SUCCEEDED")), "{kinds:?}");
    assert!(kinds.contains(&("RESTART", "SUCCEEDED")), "{kinds:?}");
    assert!(kinds.contains(&("DEPLOY", "FAILED")), "{kinds:?}");
    Ok(())
}
on_both_databases!(busy_apps_refuse_or_queue_and_force_takes_over);

async fn concurrent_updates_never_lose_one(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let (_repo, id) = versioned_app(&alice, "raced").await?;
    let v = show(&alice, &id).await?["version"]
        .as_i64()
        .unwrap_or_default();
    // Same expected version: exactly one wins.
    let tries = (0..4).map(|n| {
        let alice = alice.clone();
        let id = id.clone();
        async move {
            alice
                .gql(
                    UPDATE,
                    json!({ "id": id, "input": { "name": format!("raced-{n}") }, "v": v }),
                )
                .await
        }
    });
    let answers = futures::future::join_all(tries).await;
    let mut won = 0;
    for a in answers {
        let a = a?;
        if a["errors"].is_null() {
            won += 1;
        } else {
            let code = a["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or_default();
            assert!(matches!(code, "VERSION_CONFLICT" | "APP_BUSY"), "{a}");
        }
    }
    assert_eq!(won, 1, "one update with the expected version must win");
    Ok(())
}
on_both_databases!(concurrent_updates_never_lose_one);

async fn bad_requests_are_refused_and_change_nothing(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let (_repo, id) = versioned_app(&alice, "guarded").await?;
    let (_other, other) = versioned_app(&bob, "taken").await?;
    let before = show(&alice, &id).await?;
    let unknown = "0190b2a0-0000-7000-8000-000000000000";
    let cases = [
        (
            UPDATE,
            json!({ "id": unknown, "input": { "name": "x" } }),
            "NOT_FOUND",
        ),
        (
            UPDATE,
            json!({ "id": other, "input": { "name": "mine" } }),
            "NOT_FOUND",
        ),
        (RESTART, json!({ "id": other }), "NOT_FOUND"),
        (REDEPLOY, json!({ "id": other }), "NOT_FOUND"),
        (
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": other }),
            "NOT_FOUND",
        ),
        (ROLLBACK, json!({ "id": id, "d": unknown }), "NOT_FOUND"),
        (
            UPDATE,
            json!({ "id": id, "input": { "name": "Bad Name" } }),
            "INVALID_NAME",
        ),
        (
            UPDATE,
            json!({ "id": id, "input": { "name": "taken" } }),
            "NAME_TAKEN",
        ),
        (
            UPDATE,
            json!({ "id": id, "input": { "port": 70000 } }),
            "INVALID_PORT",
        ),
        (
            UPDATE,
            json!({ "id": id, "input": { "env": [{ "key": "1BAD", "value": "x" }] } }),
            "INVALID_ENV",
        ),
        (
            UPDATE,
            json!({ "id": id, "input": { "branch": "-x" } }),
            "INVALID_BRANCH",
        ),
        (
            UPDATE,
            json!({ "id": id, "input": { "name": "y" }, "v": 999 }),
            "VERSION_CONFLICT",
        ),
        (
            UPDATE,
            json!({ "id": "not-an-id", "input": {} }),
            "INVALID_ID",
        ),
    ];
    for (query, vars, code) in cases {
        assert_eq!(alice.error_code(query, vars.clone()).await?, code, "{vars}");
    }
    let after = show(&alice, &id).await?;
    assert_eq!(
        after["version"], before["version"],
        "a refusal changed the app"
    );
    assert_eq!(after["tasks"], before["tasks"], "a refusal left a task");
    assert_eq!(show(&bob, &other).await?["name"], "taken");
    Ok(())
}
on_both_databases!(bad_requests_are_refused_and_change_nothing);
