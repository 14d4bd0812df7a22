//! Webhooks in: `createWebhook` gives an app a URL and a secret (shown once, sealed at rest);
//! GitHub, Gitea and GitLab push deliveries, signed with it, deploy the pushed commit (trigger
//! `WEBHOOK`, its message); bad or missing signatures, unknown hooks, replays, other branches,
//! tags, deleted branches and oversize bodies deploy nothing, each with its answer.

use std::time::Duration;

use paas_core::hooks::sign;
use paas_tests::apps::versioned;
use paas_tests::hooks::{deliver, github_headers};
use paas_tests::repo::{commit, file_url};
use paas_tests::steps::{
    body, create, delete_app, deployment_at, deployments, statuses_until_settled,
};
use paas_tests::{Client, TestApp, TestDb, eventually, git_repo};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};

use crate::on_both_databases;

const CREATE_HOOK: &str =
    "mutation($id: ID!) { createWebhook(appId: $id) { url secret webhook { url createdAt } } }";
const HOOK: &str =
    "query($id: ID!) { application(id: $id) { webhook { url createdAt lastDeliveryAt } } }";
const ZEROS: &str = "0000000000000000000000000000000000000000";

async fn running_app(client: &Client, name: &str, url: &str) -> anyhow::Result<String> {
    let id = create(
        client,
        json!({ "name": name, "repository": { "url": url } }),
    )
    .await?;
    let seen = statuses_until_settled(client, &id).await?;
    anyhow::ensure!(
        seen.last().map(String::as_str) == Some("RUNNING"),
        "{seen:?}"
    );
    Ok(id)
}

/// A push event in GitHub's (and Gitea's) documented shape.
fn github_push(reference: &str, after: &str, message: &str, deleted: bool) -> Vec<u8> {
    let head = (!deleted).then(|| {
        json!({ "id": after, "message": message,
                "author": { "name": "Ada", "email": "ada@example.com" } })
    });
    json!({
        "ref": reference, "before": ZEROS, "after": after, "created": false,
        "deleted": deleted, "forced": false,
        "repository": { "full_name": "octo/app", "default_branch": "main" },
        "head_commit": head,
        "commits": head.iter().collect::<Vec<_>>(),
    })
    .to_string()
    .into_bytes()
}

/// A push event in GitLab's documented shape.
fn gitlab_push(reference: &str, after: &str, message: &str) -> Vec<u8> {
    json!({
        "object_kind": "push", "event_name": "push", "before": ZEROS, "after": after,
        "ref": reference, "checkout_sha": after, "user_name": "Bo",
        "project": { "path_with_namespace": "group/app", "default_branch": "main" },
        "commits": [{ "id": after, "message": message, "title": message,
                      "author": { "name": "Bo", "email": "bo@example.com" } }],
        "total_commits_count": 1,
    })
    .to_string()
    .into_bytes()
}

fn github(secret: &str, delivery: &str, body: &[u8]) -> Vec<(&'static str, String)> {
    github_headers("push", secret, delivery, body)
}

async fn stored_secrets(database_url: &str) -> anyhow::Result<Vec<String>> {
    let db = Database::connect(database_url).await?;
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT secret FROM webhooks",
        ))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.try_get_by_index::<String>(0)?);
    }
    db.close().await?;
    Ok(out)
}

async fn a_signed_github_push_deploys_and_nothing_else_does(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = running_app(&alice, "hooked", &file_url(repo.path())).await?;

    let made = alice.data(CREATE_HOOK, json!({ "id": id })).await?["createWebhook"].clone();
    let secret = made["secret"].as_str().expect("a secret").to_owned();
    let path = made["url"].as_str().expect("a url").to_owned();
    assert!(path.starts_with("/hooks/git/"), "{path}");
    assert!(secret.len() >= 32);
    let url = format!("{}{path}", server.url);

    // The secret is never shown again, and is not stored in plain.
    let shown = alice.gql(HOOK, json!({ "id": id })).await?;
    assert_eq!(
        shown["data"]["application"]["webhook"]["url"],
        path.as_str()
    );
    assert!(!shown.to_string().contains(&secret));
    let cells = stored_secrets(&server.database_url).await?;
    assert_eq!(cells.len(), 1);
    assert!(!cells[0].contains(&secret), "sealed: {}", cells[0]);
    // Another user can neither make nor read nor remove a hook of alice's app.
    assert_eq!(
        bob.error_code(CREATE_HOOK, json!({ "id": id })).await?,
        "NOT_FOUND"
    );
    assert_eq!(
        bob.error_code(HOOK, json!({ "id": id })).await?,
        "NOT_FOUND"
    );
    let delete = "mutation($id: ID!) { deleteWebhook(appId: $id) }";
    assert_eq!(
        bob.error_code(delete, json!({ "id": id })).await?,
        "NOT_FOUND"
    );

    let r = git2::Repository::open(repo.path())?;
    let v2 = commit(
        &r,
        repo.path(),
        &[("version.txt", "v2\n")],
        "Second version",
    )?;
    let push = github_push("refs/heads/main", &v2, "Second version", false);

    // Refused, and nothing queued: a wrong secret, no signature, an unknown hook.
    let (status, answer) = deliver(&url, &github("wrong", "d0", &push), push.clone()).await?;
    assert_eq!(status, 401, "{answer}");
    let unsigned = vec![
        ("X-GitHub-Event", "push".to_owned()),
        ("X-GitHub-Delivery", "d0".to_owned()),
    ];
    assert_eq!(deliver(&url, &unsigned, push.clone()).await?.0, 401);
    let unknown = format!("{}/hooks/git/{}", server.url, uuid::Uuid::now_v7());
    let (status, unknown_answer) =
        deliver(&unknown, &github(&secret, "d0", &push), push.clone()).await?;
    assert_eq!(status, 401);
    assert_eq!(
        unknown_answer, answer,
        "an unknown hook looks like a bad signature"
    );
    // A body signed, then changed.
    let mut tampered = push.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        deliver(&url, &github(&secret, "d0", &push), tampered)
            .await?
            .0,
        401
    );
    assert_eq!(
        deployments(&alice, &id).await?.len(),
        1,
        "nothing was queued"
    );

    // Pushes that deploy nothing, each with its reason.
    for (delivery, body, why) in [
        (
            "d-branch",
            github_push("refs/heads/feature", &v2, "x", false),
            "branch feature",
        ),
        ("d-tag", github_push("refs/tags/v2", &v2, "x", false), "tag"),
        (
            "d-deleted",
            github_push("refs/heads/main", ZEROS, "x", true),
            "deleted",
        ),
    ] {
        let (status, answer) = deliver(&url, &github(&secret, delivery, &body), body).await?;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["outcome"], "ignored");
        assert!(
            answer["reason"].as_str().unwrap_or_default().contains(why),
            "{answer}"
        );
    }
    let ping = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#.to_vec();
    let mut ping_headers = github(&secret, "d-ping", &ping);
    ping_headers[0].1 = "ping".into();
    let (status, answer) = deliver(&url, &ping_headers, ping).await?;
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("pong")));
    // Too big to be read.
    let big = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        deliver(&url, &github(&secret, "d-big", &big), big).await?.0,
        413
    );
    assert_eq!(deployments(&alice, &id).await?.len(), 1);

    // The signed push deploys its commit.
    let (status, answer) = deliver(&url, &github(&secret, "d1", &push), push.clone()).await?;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["outcome"], "deploying");
    assert_eq!(answer["commit"], v2.as_str());
    let deployed = deployment_at(&alice, &id, &v2).await?;
    assert_eq!(deployed["trigger"], "WEBHOOK");
    assert_eq!(deployed["commitMessage"], "Second version");
    // The build reads the author from its checkout: the commit's own, whatever the payload says.
    assert_eq!(deployed["commitAuthor"], "paas test <test@paas.invalid>");
    assert_eq!(body(&alice, &id).await?, "v2");

    // Its redelivery is acknowledged and ignored.
    let (status, answer) = deliver(&url, &github(&secret, "d1", &push), push).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("duplicate"))
    );
    assert_eq!(deployments(&alice, &id).await?.len(), 2);
    let seen = alice.data(HOOK, json!({ "id": id })).await?;
    assert!(seen["application"]["webhook"]["lastDeliveryAt"].is_string());

    // A rotation: the old URL and secret stop working.
    let again = alice.data(CREATE_HOOK, json!({ "id": id })).await?["createWebhook"].clone();
    assert_ne!(again["url"], path.as_str());
    let v3 = commit(&r, repo.path(), &[("version.txt", "v3\n")], "Third")?;
    let push = github_push("refs/heads/main", &v3, "Third", false);
    assert_eq!(
        deliver(&url, &github(&secret, "d2", &push), push).await?.0,
        401
    );
    assert_eq!(
        alice.data(delete, json!({ "id": id })).await?["deleteWebhook"],
        true
    );
    assert!(alice.data(HOOK, json!({ "id": id })).await?["application"]["webhook"].is_null());
    Ok(())
}
on_both_databases!(a_signed_github_push_deploys_and_nothing_else_does);

async fn gitea_and_gitlab_pushes_and_pushes_arriving_together(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = running_app(&alice, "hosts", &file_url(repo.path())).await?;
    let made = alice.data(CREATE_HOOK, json!({ "id": id })).await?["createWebhook"].clone();
    let secret = made["secret"].as_str().expect("a secret").to_owned();
    let url = format!("{}{}", server.url, made["url"].as_str().expect("a url"));
    let r = git2::Repository::open(repo.path())?;

    // Gitea signs the body with the bare hex HMAC.
    let v2 = commit(&r, repo.path(), &[("version.txt", "v2\n")], "From Gitea")?;
    let push = github_push("refs/heads/main", &v2, "From Gitea", false);
    let gitea = vec![
        ("X-Gitea-Event", "push".to_owned()),
        ("X-Gitea-Delivery", "g1".to_owned()),
        ("X-Gitea-Signature", sign(&secret, &push)),
    ];
    let mut bad = gitea.clone();
    bad[2].1 = sign("nope", &push);
    assert_eq!(deliver(&url, &bad, push.clone()).await?.0, 401);
    let (status, answer) = deliver(&url, &gitea, push).await?;
    assert_eq!(status, 202, "{answer}");
    let d = deployment_at(&alice, &id, &v2).await?;
    assert_eq!(
        (d["trigger"].as_str(), d["commitMessage"].as_str()),
        (Some("WEBHOOK"), Some("From Gitea"))
    );

    // GitLab sends the secret itself as its token.
    let v3 = commit(&r, repo.path(), &[("version.txt", "v3\n")], "From GitLab")?;
    let push = gitlab_push("refs/heads/main", &v3, "From GitLab");
    let gitlab = |token: &str, uuid: &str| {
        vec![
            ("X-Gitlab-Event", "Push Hook".to_owned()),
            ("X-Gitlab-Event-UUID", uuid.to_owned()),
            ("X-Gitlab-Token", token.to_owned()),
        ]
    };
    assert_eq!(
        deliver(&url, &gitlab("nope", "l0"), push.clone()).await?.0,
        401
    );
    let (status, answer) = deliver(&url, &gitlab(&secret, "l1"), push.clone()).await?;
    assert_eq!(status, 202, "{answer}");
    let d = deployment_at(&alice, &id, &v3).await?;
    assert_eq!(
        (d["trigger"].as_str(), d["commitMessage"].as_str()),
        (Some("WEBHOOK"), Some("From GitLab"))
    );
    assert_eq!(body(&alice, &id).await?, "v3");
    let (status, answer) = deliver(&url, &gitlab(&secret, "l1"), push).await?;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("duplicate"))
    );

    // Two pushes arriving together: one deploy, of the newest.
    let v4 = commit(&r, repo.path(), &[("version.txt", "v4\n")], "Four")?;
    let v5 = commit(&r, repo.path(), &[("version.txt", "v5\n")], "Five")?;
    let p4 = github_push("refs/heads/main", &v4, "Four", false);
    let p5 = github_push("refs/heads/main", &v5, "Five", false);
    let last = |seen: Value| seen["application"]["webhook"]["lastDeliveryAt"].clone();
    let before = last(alice.data(HOOK, json!({ "id": id })).await?);
    let h4 = github(&secret, "t4", &p4);
    let first = deliver(&url, &h4, p4.clone());
    let second = async {
        // Sent once the first is recorded (it then waits out the debounce), so the newest is
        // known.
        eventually(Duration::from_secs(10), || async {
            let now = last(alice.data(HOOK, json!({ "id": id })).await?);
            Ok((now != before).then_some(()))
        })
        .await?;
        deliver(&url, &github(&secret, "t5", &p5), p5.clone()).await
    };
    let (a4, a5) = tokio::join!(first, second);
    let (a4, a5) = (a4?, a5?);
    assert_eq!(a4.1["outcome"], "superseded", "{a4:?}");
    assert_eq!(a5.0, 202, "{a5:?}");
    deployment_at(&alice, &id, &v5).await?;
    assert_eq!(body(&alice, &id).await?, "v5");
    let all = deployments(&alice, &id).await?;
    assert_eq!(all.len(), 4, "one deploy of the newest: {all:?}");
    assert!(all.iter().all(|d| d["commit"] != v4.as_str()));
    Ok(())
}
on_both_databases!(gitea_and_gitlab_pushes_and_pushes_arriving_together);

async fn deleting_an_app_deletes_its_webhook(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = running_app(&alice, "gone", &file_url(repo.path())).await?;
    let made = alice.data(CREATE_HOOK, json!({ "id": id })).await?["createWebhook"].clone();
    let secret = made["secret"].as_str().expect("a secret").to_owned();
    let url = format!("{}{}", server.url, made["url"].as_str().expect("a url"));
    let ping = br#"{"zen":"hi","hook_id":1}"#.to_vec();
    let (status, _) = deliver(
        &url,
        &github_headers("ping", &secret, "p1", &ping),
        ping.clone(),
    )
    .await?;
    assert_eq!(status, 200);
    assert_eq!(stored_secrets(&server.database_url).await?.len(), 1);

    delete_app(&alice, &id).await?;
    assert!(
        stored_secrets(&server.database_url).await?.is_empty(),
        "the hook's row went with its app"
    );
    let (status, answer) =
        deliver(&url, &github_headers("ping", &secret, "p2", &ping), ping).await?;
    assert_eq!(status, 401, "{answer}");
    Ok(())
}
on_both_databases!(deleting_an_app_deletes_its_webhook);
