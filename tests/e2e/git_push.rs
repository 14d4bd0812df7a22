//! `git push` to deploy: the real `git` client pushes to `/git/<app>.git` with the user's token
//! as its password; the first push creates the app, each push deploys the pushed commit
//! (trigger `GIT_PUSH`) and the pusher reads the build log as `remote:` lines; a force push is
//! taken and said; a wrong token gets 401, another user's app 404; pushes deploy even where
//! users may not name local repositories.

use std::path::Path;
use std::time::Duration;

use paas_tests::apps::versioned;
use paas_tests::steps::{body, commit_version};
use paas_tests::{Client, TestApp, TestDb, eventually, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;

const BY_NAME: &str = "query($name: String!) {
  application(name: $name) {
    id status
    deployments { commit status trigger commitMessage }
  }
}";

/// `git push <remote> <args>` from `repo` as the user with `token`: (succeeded, stderr).
async fn push(
    repo: &Path,
    client: &Client,
    app: &str,
    token: &str,
    args: &[&str],
) -> anyhow::Result<(bool, String)> {
    let host = client.base().trim_start_matches("http://");
    let remote = format!("http://x:{token}@{host}/git/{app}.git");
    let mut cmd = std::process::Command::new("git");
    cmd.arg("-C")
        .arg(repo)
        .args(["push", &remote])
        .args(args)
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    let out = tokio::task::spawn_blocking(move || cmd.output()).await??;
    Ok((
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    ))
}

async fn by_name(client: &Client, name: &str) -> anyhow::Result<Value> {
    Ok(client.data(BY_NAME, json!({ "name": name })).await?["application"].clone())
}

/// The app's deployment at `commit`, once it runs.
async fn running_at(client: &Client, name: &str, commit: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(60), || async {
        let app = by_name(client, name).await?;
        let deps = app["deployments"].as_array().cloned().unwrap_or_default();
        Ok(deps
            .into_iter()
            .find(|d| d["commit"] == commit && d["status"] == "RUNNING"))
    })
    .await
}

fn head(repo: &Path) -> anyhow::Result<String> {
    Ok(git2::Repository::open(repo)?
        .head()?
        .peel_to_commit()?
        .id()
        .to_string())
}

/// A GET of the push advertisement with `token` as the password: its status and
/// `WWW-Authenticate`.
async fn advertise(client: &Client, app: &str, token: &str) -> anyhow::Result<(u16, String)> {
    let r = reqwest::Client::new()
        .get(format!(
            "{}/git/{app}.git/info/refs?service=git-receive-pack",
            client.base()
        ))
        .basic_auth("x", Some(token))
        .send()
        .await?;
    let auth = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((r.status().as_u16(), auth))
}

async fn pushes_create_deploy_and_redeploy(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let token = alice.token().expect("alice has a token").to_owned();
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;

    // The first push creates the app and deploys it, the build log coming back as `remote:`.
    let (ok, err) = push(repo.path(), &alice, "pushed", &token, &["main"]).await?;
    assert!(ok, "{err}");
    assert!(err.contains("remote: paas: created pushed"), "{err}");
    assert!(
        err.lines().filter(|l| l.starts_with("remote: ")).count() > 3,
        "the build log: {err}"
    );
    assert!(err.contains("remote: deployed: RUNNING"), "{err}");
    let v1 = head(repo.path())?;
    let first = running_at(&alice, "pushed", &v1).await?;
    assert_eq!(first["trigger"], "CREATE");
    let id = by_name(&alice, "pushed").await?["id"]
        .as_str()
        .expect("an id")
        .to_owned();
    assert_eq!(body(&alice, &id).await?, "v1");

    // A new commit redeploys.
    let v2 = commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    let (ok, err) = push(repo.path(), &alice, "pushed", &token, &["main"]).await?;
    assert!(ok, "{err}");
    assert!(err.contains("remote: paas: deploying pushed,"), "{err}");
    assert!(err.contains("remote: deployed: RUNNING"), "{err}");
    let second = running_at(&alice, "pushed", &v2).await?;
    assert_eq!(second["trigger"], "GIT_PUSH");
    assert_eq!(second["commitMessage"], "next");
    assert_eq!(body(&alice, &id).await?, "v2");

    // A force push (history rewritten) is taken, said, and deployed.
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(repo.path())
            .args(args)
            .status()
    };
    assert!(git(&["reset", "--quiet", "--hard", &v1])?.success());
    let v3 = commit_version(repo.path(), &[("version.txt", "v3\n")])?;
    let (ok, err) = push(repo.path(), &alice, "pushed", &token, &["main"]).await?;
    assert!(!ok, "a non-fast-forward is refused without --force: {err}");
    let (ok, err) = push(repo.path(), &alice, "pushed", &token, &["--force", "main"]).await?;
    assert!(ok, "{err}");
    assert!(
        err.contains("remote: paas: deploying pushed (forced update)"),
        "{err}"
    );
    let third = running_at(&alice, "pushed", &v3).await?;
    assert_eq!(third["trigger"], "GIT_PUSH");
    assert_eq!(body(&alice, &id).await?, "v3");
    Ok(())
}
on_both_databases!(pushes_create_deploy_and_redeploy);

/// With local repositories refused to users, the platform's own still deploy.
async fn a_wrong_token_gets_401_and_another_users_app_404(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &["--no-local-repos"]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let alice_token = alice.token().expect("a token").to_owned();
    let bob_token = bob.token().expect("a token").to_owned();
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let (ok, err) = push(repo.path(), &alice, "mine", &alice_token, &["main"]).await?;
    assert!(ok, "{err}");
    assert!(err.contains("remote: deployed: RUNNING"), "{err}");

    let (status, auth) = advertise(&alice, "mine", "not-a-token").await?;
    assert_eq!(status, 401);
    assert_eq!(auth, "Basic realm=\"paas\"", "so that git asks for it");
    let (ok, err) = push(repo.path(), &alice, "mine", "not-a-token", &["main"]).await?;
    assert!(!ok);
    assert!(err.contains("Authentication failed"), "{err}");

    assert_eq!(advertise(&bob, "mine", &bob_token).await?.0, 404);
    let v2 = commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    let (ok, err) = push(repo.path(), &bob, "mine", &bob_token, &["main"]).await?;
    assert!(!ok);
    assert!(err.contains("404") || err.contains("not found"), "{err}");
    let app = by_name(&alice, "mine").await?;
    let deps = app["deployments"].as_array().cloned().unwrap_or_default();
    assert!(
        deps.iter().all(|d| d["commit"] != v2.as_str()),
        "bob's push deployed nothing: {deps:?}"
    );
    Ok(())
}
on_both_databases!(a_wrong_token_gets_401_and_another_users_app_404);

/// With `--git-push-creates-apps false`, a push to a free name finds nothing.
async fn creating_by_push_can_be_turned_off(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &["--git-push-creates-apps", "false"]).await?;
    let alice = server.user("alice").await?;
    let token = alice.token().expect("a token").to_owned();
    assert_eq!(advertise(&alice, "fresh", &token).await?.0, 404);
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let (ok, err) = push(repo.path(), &alice, "fresh", &token, &["main"]).await?;
    assert!(!ok, "{err}");
    let answer = alice.gql(BY_NAME, json!({ "name": "fresh" })).await?;
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "no app was made: {answer}"
    );
    Ok(())
}
on_both_databases!(creating_by_push_can_be_turned_off);
