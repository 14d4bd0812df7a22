//! Preview deployments: an app with previews gets `<branch>--<app>` for each other branch
//! pushed (the watcher) and `pr-<n>--<app>` for each pull request (a GitHub webhook), each
//! answering through the router with the app's env plus `PAAS_PREVIEW=1`; a new push
//! redeploys it; a deleted branch, a closed request or the app's deletion removes it;
//! `maxPreviews` holds (the oldest goes); only the owner sees them.

use std::time::Duration;

use paas_tests::apps::PythonApp;
use paas_tests::hooks::{deliver, github_headers};
use paas_tests::repo::{commit_on_branch, delete_branch};
use paas_tests::steps::{body, delete_app, deployed_with, deployment_at, deployments};
use paas_tests::{Client, TestApp, TestDb, eventually};
use serde_json::{Value, json};

use crate::on_both_databases;

on_both_databases!(
    pushed_branches_get_previews_until_they_go,
    pull_requests_get_previews_until_they_close,
);

/// Polls every 200 ms, so that a push is seen in well under a second.
const FAST_POLL: &[&str] = &["--git-poll-interval-ms", "200"];

/// Builds, starts and deletions of previews take a while on a busy machine.
const WAIT: Duration = Duration::from_secs(120);

const PREVIEWS: &str = "query($id: ID!) { application(id: $id) {
  previews { enabled maxPreviews forks
    apps { id name status previewOf { application { name } branch pullRequest } } } } }";

const PREVIEW_OF: &str = "query($id: ID!) { application(id: $id) {
  name env { key } previewOf { application { name } branch pullRequest } } }";

/// Answers `<PAAS_PREVIEW> <PAAS_PREVIEW_OF> <version.txt>` (`-` for a variable not set).
fn env_app() -> String {
    PythonApp::new()
        .body(
            "os.environ.get('PAAS_PREVIEW', '-') + ' ' + os.environ.get('PAAS_PREVIEW_OF', '-') \
             + ' ' + open('version.txt').read().strip()",
        )
        .source()
}

/// The app's previews, by name.
async fn previews(client: &Client, id: &str) -> anyhow::Result<Vec<Value>> {
    let data = client.data(PREVIEWS, json!({ "id": id })).await?;
    Ok(data["application"]["previews"]["apps"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

fn names(previews: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = previews
        .iter()
        .filter_map(|p| p["name"].as_str().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Waits until the app has a preview `name`; returns it.
async fn preview_named(client: &Client, id: &str, name: &str) -> anyhow::Result<Value> {
    eventually(WAIT, || async {
        Ok(previews(client, id)
            .await?
            .into_iter()
            .find(|p| p["name"] == name))
    })
    .await
}

/// Waits until the app's previews are exactly `expected` (sorted).
async fn previews_become(client: &Client, id: &str, expected: &[&str]) -> anyhow::Result<()> {
    eventually(WAIT, || async {
        let now = names(&previews(client, id).await?);
        Ok((now == expected).then_some(()))
    })
    .await
}

/// Waits until the app `id` is gone for `client`.
async fn gone(client: &Client, id: &str) -> anyhow::Result<()> {
    eventually(WAIT, || async {
        let code = client.error_code(PREVIEW_OF, json!({ "id": id })).await?;
        Ok((code == "NOT_FOUND").then_some(()))
    })
    .await
}

fn id_of(app: &Value) -> String {
    app["id"].as_str().unwrap_or_default().to_owned()
}

async fn pushed_branches_get_previews_until_they_go(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_POLL).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let previews_on = json!({
        "autoDeploy": true,
        "env": [{ "key": "GREETING", "value": "hi" }],
        "previews": { "enabled": true, "maxPreviews": 2 },
    });
    let (repo, id) = deployed_with(
        &alice,
        "shop",
        &[("app.py", &env_app()), ("version.txt", "main\n")],
        previews_on,
    )
    .await?;
    assert_eq!(body(&alice, &id).await?, "- - main");
    let settings = alice.data(PREVIEWS, json!({ "id": id })).await?;
    assert_eq!(
        settings["application"]["previews"],
        json!({ "enabled": true, "maxPreviews": 2, "forks": false, "apps": [] })
    );

    // A new branch: its preview is built from it and answers through the router.
    let one = commit_on_branch(repo.path(), "feature/One", "one\n")?;
    let first = preview_named(&alice, &id, "feature-one--shop").await?;
    assert_eq!(first["previewOf"]["application"]["name"], "shop");
    assert_eq!(first["previewOf"]["branch"], "feature/One");
    assert_eq!(first["previewOf"]["pullRequest"], Value::Null);
    let first_id = id_of(&first);
    let built = deployment_at(&alice, &first_id, &one).await?;
    assert_eq!(built["trigger"], "PUSH");
    assert_eq!(body(&alice, &first_id).await?, "1 shop one");
    let shown = alice.data(PREVIEW_OF, json!({ "id": first_id })).await?;
    let env = &shown["application"]["env"];
    for key in ["GREETING", "PAAS_PREVIEW", "PAAS_PREVIEW_OF"] {
        let listed = env
            .as_array()
            .is_some_and(|e| e.contains(&json!({ "key": key })));
        assert!(listed, "the app's env and the preview's marks: {env}");
    }
    // The app itself is untouched, and a preview gets no previews of its own.
    assert_eq!(body(&alice, &id).await?, "- - main");
    let update = "mutation($id: ID!, $input: UpdateApplicationInput!) {
      updateApplication(id: $id, input: $input) { id } }";
    let on = json!({ "id": first_id, "input": { "previews": { "enabled": true } } });
    assert_eq!(alice.error_code(update, on).await?, "INVALID_PREVIEWS");
    let bad = json!({ "id": id, "input": { "previews": { "enabled": true, "maxPreviews": 0 } } });
    assert_eq!(alice.error_code(update, bad).await?, "INVALID_PREVIEWS");

    // Someone else sees neither the previews nor a preview.
    assert_eq!(
        bob.error_code(PREVIEWS, json!({ "id": id })).await?,
        "NOT_FOUND"
    );
    assert_eq!(
        bob.error_code(PREVIEW_OF, json!({ "id": first_id }))
            .await?,
        "NOT_FOUND"
    );

    // A new push to the branch redeploys its preview.
    let one_b = commit_on_branch(repo.path(), "feature/One", "one-b\n")?;
    deployment_at(&alice, &first_id, &one_b).await?;
    assert_eq!(body(&alice, &first_id).await?, "1 shop one-b");
    assert_eq!(deployments(&alice, &first_id).await?.len(), 2);

    // maxPreviews 2: a third branch takes the place of the oldest preview.
    commit_on_branch(repo.path(), "two", "two\n")?;
    let second = preview_named(&alice, &id, "two--shop").await?;
    commit_on_branch(repo.path(), "three", "three\n")?;
    previews_become(&alice, &id, &["three--shop", "two--shop"]).await?;
    gone(&alice, &first_id).await?;

    // A deleted branch takes its preview with it.
    delete_branch(repo.path(), "two")?;
    previews_become(&alice, &id, &["three--shop"]).await?;
    gone(&alice, &id_of(&second)).await?;

    // Deleting the app deletes its previews.
    let third = preview_named(&alice, &id, "three--shop").await?;
    delete_app(&alice, &id).await?;
    gone(&alice, &id_of(&third)).await?;
    Ok(())
}

/// A `pull_request` event in GitHub's documented shape; `head_repo` is where the head branch
/// lives (`octo/app` itself, or a fork).
fn github_pull(action: &str, number: u64, branch: &str, sha: &str, head_repo: &str) -> Vec<u8> {
    let repo = |full: &str| json!({ "full_name": full, "clone_url": format!("https://github.com/{full}.git") });
    json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number, "state": if action == "closed" { "closed" } else { "open" },
            "title": "A change", "merged": false, "user": { "login": "ada" },
            "head": { "label": format!("ada:{branch}"), "ref": branch, "sha": sha,
                      "repo": repo(head_repo) },
            "base": { "label": "octo:main", "ref": "main", "sha": sha, "repo": repo("octo/app") },
        },
        "repository": repo("octo/app"),
        "sender": { "login": "ada" },
    })
    .to_string()
    .into_bytes()
}

async fn pull_requests_get_previews_until_they_close(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let (repo, id) = deployed_with(
        &alice,
        "web",
        &[("app.py", &env_app()), ("version.txt", "main\n")],
        json!({ "previews": { "enabled": true } }),
    )
    .await?;
    let made = alice
        .data(
            "mutation($id: ID!) { createWebhook(appId: $id) { url secret } }",
            json!({ "id": id }),
        )
        .await?["createWebhook"]
        .clone();
    let secret = made["secret"].as_str().unwrap_or_default().to_owned();
    let url = format!("{}{}", server.url, made["url"].as_str().unwrap_or_default());
    let sha = commit_on_branch(repo.path(), "fix", "fix\n")?;
    let opened = github_pull("opened", 5, "fix", &sha, "octo/app");

    // A bad signature, and a fork's request (previews of forks are off): no preview.
    let bad = github_headers("pull_request", "wrong", "pr-0", &opened);
    assert_eq!(deliver(&url, &bad, opened.clone()).await?.0, 401);
    let fork = github_pull("opened", 6, "fix", &sha, "mallory/app");
    let headers = github_headers("pull_request", &secret, "pr-fork", &fork);
    let (status, answer) = deliver(&url, &headers, fork).await?;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("ignored")));
    assert!(
        answer["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("fork"),
        "{answer}"
    );
    assert!(previews(&alice, &id).await?.is_empty());

    // Opened: the preview of the request's head.
    let headers = github_headers("pull_request", &secret, "pr-1", &opened);
    let (status, answer) = deliver(&url, &headers, opened.clone()).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (202, Some("preview")),
        "{answer}"
    );
    let preview = preview_named(&alice, &id, "pr-5--web").await?;
    assert_eq!(preview["previewOf"]["pullRequest"], 5);
    assert_eq!(preview["previewOf"]["branch"], "fix");
    let preview_id = id_of(&preview);
    let built = deployment_at(&alice, &preview_id, &sha).await?;
    assert_eq!(built["trigger"], "WEBHOOK");
    assert_eq!(body(&alice, &preview_id).await?, "1 web fix");
    // A redelivery changes nothing.
    let (status, answer) = deliver(&url, &headers, opened).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(
        bob.error_code(PREVIEW_OF, json!({ "id": preview_id }))
            .await?,
        "NOT_FOUND"
    );

    // Closed: the preview goes.
    let closed = github_pull("closed", 5, "fix", &sha, "octo/app");
    let headers = github_headers("pull_request", &secret, "pr-2", &closed);
    let (status, answer) = deliver(&url, &headers, closed).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (202, Some("closed")),
        "{answer}"
    );
    gone(&alice, &preview_id).await?;
    assert!(previews(&alice, &id).await?.is_empty());
    Ok(())
}
