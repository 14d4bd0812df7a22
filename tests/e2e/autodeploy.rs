//! Deploy on push: an app with `autoDeploy` follows its branch; each new commit is deployed
//! (trigger `PUSH`, with its message and author), others' branches and apps that do not follow
//! are left alone; every deployment says what started it.

use std::path::Path;
use std::time::Duration;

use paas_tests::apps::{hello, versioned};
use paas_tests::git_http::PrivateGitServer;
use paas_tests::repo::{child_commit, commit, commit_on_branch, file_url};
use paas_tests::steps::{
    DEPLOYMENTS, app, body, create, deployment_at, deployments, statuses_until_settled,
    until_status,
};
use paas_tests::{Client, TestApp, TestDb, eventually, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;

/// Polls every 200 ms, so that a push lands in well under a second.
const FAST_POLL: &[&str] = &["--git-poll-interval-ms", "200"];

const AUTHOR: &str = "paas test <test@paas.invalid>";

/// Creates an app from the repository at `url`; waits until it runs; returns its id.
async fn running(client: &Client, name: &str, url: &str, extra: Value) -> anyhow::Result<String> {
    let mut input = json!({ "name": name, "repository": { "url": url } });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let id = create(client, input).await?;
    let seen = statuses_until_settled(client, &id).await?;
    anyhow::ensure!(
        seen.last().map(String::as_str) == Some("RUNNING"),
        "{seen:?}"
    );
    Ok(id)
}

fn commit_in(repo: &Path, files: &[(&str, &str)], message: &str) -> anyhow::Result<String> {
    let r = git2::Repository::open(repo)?;
    commit(&r, repo, files, message)
}

async fn a_push_to_the_followed_branch_redeploys(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_POLL).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let url = file_url(repo.path());
    let id = running(&alice, "follower", &url, json!({ "autoDeploy": true })).await?;
    let first = deployments(&alice, &id).await?;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["trigger"], "CREATE");
    assert_eq!(
        first[0]["commitMessage"], "initial",
        "read from the build's checkout"
    );
    assert_eq!(first[0]["commitAuthor"], AUTHOR);

    // A commit on another branch first, then one on the followed branch.
    commit_on_branch(repo.path(), "feature", "feature\n")?;
    let v2 = commit_in(
        repo.path(),
        &[("version.txt", "v2\n")],
        "Second version\n\nWith a body.",
    )?;
    let pushed = deployment_at(&alice, &id, &v2).await?;
    assert_eq!(pushed["trigger"], "PUSH");
    assert_eq!(pushed["commitMessage"], "Second version\n\nWith a body.");
    assert_eq!(pushed["commitAuthor"], AUTHOR);
    assert_eq!(body(&alice, &id).await?, "v2");
    let all = deployments(&alice, &id).await?;
    assert_eq!(
        all.len(),
        2,
        "the other branch's commit (older) deployed nothing: {all:?}"
    );

    Ok(())
}
on_both_databases!(a_push_to_the_followed_branch_redeploys);

async fn commits_in_quick_succession_give_one_deploy_of_the_newest(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_POLL).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = running(
        &alice,
        "quick",
        &file_url(repo.path()),
        json!({ "autoDeploy": true }),
    )
    .await?;

    // Two commits land on main one right after the other.
    let r = git2::Repository::open(repo.path())?;
    let head = r.find_reference("refs/heads/main")?.peel_to_commit()?;
    let c2 = child_commit(&r, &head, "v2\n", "two")?;
    let c3 = child_commit(&r, &r.find_commit(c2)?, "v3\n", "three")?;
    r.reference("refs/heads/main", c2, true, "push")?;
    r.reference("refs/heads/main", c3, true, "push")?;

    let newest = deployment_at(&alice, &id, &c3.to_string()).await?;
    assert_eq!(newest["trigger"], "PUSH");
    assert_eq!(newest["commitMessage"], "three");
    assert_eq!(body(&alice, &id).await?, "v3");
    let all = deployments(&alice, &id).await?;
    assert_eq!(all.len(), 2, "one deploy, of the newest: {all:?}");
    assert!(all.iter().all(|d| d["commit"] != c2.to_string()));

    // What a user starts says so: a redeploy is MANUAL, a rollback ROLLBACK, a new env CONFIG.
    let redeploy = "mutation($id: ID!) { redeployApplication(id: $id) { id } }";
    alice.data(redeploy, json!({ "id": id })).await?;
    let manual = settled_newest(&alice, &id, 3).await?;
    assert_eq!(manual["trigger"], "MANUAL");
    assert_eq!(manual["commit"], c3.to_string());
    assert_eq!(manual["commitMessage"], "three");

    let first = all.last().cloned().unwrap_or_default();
    let rollback =
        "mutation($id: ID!, $d: ID!) { rollbackApplication(id: $id, deployment: $d) { id } }";
    alice
        .data(rollback, json!({ "id": id, "d": first["id"] }))
        .await?;
    let rolled = settled_newest(&alice, &id, 4).await?;
    assert_eq!(rolled["trigger"], "ROLLBACK");
    assert_eq!(rolled["commitMessage"], "initial");
    assert_eq!(body(&alice, &id).await?, "v1");

    let update = "mutation($id: ID!) { updateApplication(id: $id, input: { setEnv: [{ key: \"A\", value: \"b\" }] }) { id } }";
    alice.data(update, json!({ "id": id })).await?;
    let config = settled_newest(&alice, &id, 5).await?;
    assert_eq!(config["trigger"], "CONFIG");

    // The rollback stays: the branch's head was deployed before, nothing new came.
    let all = deployments(&alice, &id).await?;
    assert_eq!(all.len(), 5, "{all:?}");
    Ok(())
}
on_both_databases!(commits_in_quick_succession_give_one_deploy_of_the_newest);

/// Waits until the app has `count` deployments, the newest settled; returns the newest.
async fn settled_newest(client: &Client, id: &str, count: usize) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(120), || async {
        let deps = deployments(client, id).await?;
        let settled =
            deps.len() == count && matches!(deps[0]["status"].as_str(), Some("RUNNING" | "FAILED"));
        Ok(settled.then(|| deps[0].clone()))
    })
    .await
}

async fn only_running_apps_that_follow_are_redeployed(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_POLL).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let url = file_url(repo.path());
    // Three apps on one branch: one follows it, one does not, one follows it but is stopped.
    let follows = running(&alice, "follows", &url, json!({ "autoDeploy": true })).await?;
    let manual = running(&alice, "manual", &url, json!({})).await?;
    let stopped = running(&alice, "stopped", &url, json!({})).await?;
    let update = "mutation($id: ID!) { updateApplication(id: $id, input: { autoDeploy: true }) { autoDeploy } }";
    let on = alice.data(update, json!({ "id": stopped })).await?;
    assert_eq!(on["updateApplication"]["autoDeploy"], true);
    let stop = "mutation($id: ID!) { stopApplication(id: $id) { desiredState } }";
    alice.data(stop, json!({ "id": stopped })).await?;
    until_status(&alice, &stopped, "STOPPED").await?;

    let v2 = commit_in(repo.path(), &[("version.txt", "v2\n")], "v2")?;
    // The one watch of the branch saw the commit: the follower deployed it...
    deployment_at(&alice, &follows, &v2).await?;
    // ... and the others were not redeployed.
    for other in [&manual, &stopped] {
        let deps = deployments(&alice, other).await?;
        assert_eq!(deps.len(), 1, "{deps:?}");
    }
    assert_eq!(app(&alice, &stopped).await?["status"], "STOPPED");
    let data = alice.data(DEPLOYMENTS, json!({ "id": manual })).await?;
    assert_eq!(data["application"]["autoDeploy"], false, "the default");
    Ok(())
}
on_both_databases!(only_running_apps_that_follow_are_redeployed);

/// A private repository over smart HTTP, read with the owner's token.
async fn a_push_to_a_private_repository_redeploys(db: TestDb) -> anyhow::Result<()> {
    let work = git_repo(&[("app.py", &hello())])?;
    let root = tempfile::tempdir()?;
    git2::Repository::clone(&file_url(work.path()), root.path().join("app.git"))?;
    let git = PrivateGitServer::start(root.path(), "ghp_private").await?;
    let server = TestApp::spawn(db, FAST_POLL).await?;
    let alice = server.user("alice").await?;
    alice
        .data(
            "mutation($t: String) { setGitToken(token: $t) }",
            json!({ "t": "ghp_private" }),
        )
        .await?;
    let id = running(
        &alice,
        "private",
        &git.url("app.git"),
        json!({ "autoDeploy": true }),
    )
    .await?;
    let pushed = commit_in(
        &root.path().join("app.git"),
        &[("README", "new\n")],
        "Over HTTP",
    )?;
    let dep = deployment_at(&alice, &id, &pushed).await?;
    assert_eq!(dep["trigger"], "PUSH");
    assert_eq!(dep["commitMessage"], "Over HTTP");
    assert_eq!(dep["commitAuthor"], AUTHOR);
    Ok(())
}
on_both_databases!(a_push_to_a_private_repository_redeploys);

/// Builds wait while `version.txt` says `wait` and their checkout has no file `gate`: a build
/// the test holds open, and lets go of.
const GATED_PACKAGE: &str = r#"{ "name": "gated", "version": "1.0.0", "scripts": { "build": "if grep -q wait version.txt; then while [ ! -e gate ]; do sleep 0.05; done; fi", "start": "python3 app.py" } }"#;

async fn a_push_during_a_deploy_waits_for_it(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, FAST_POLL).await?;
    let alice = server.user("alice").await?;
    let repo = git_repo(&[
        ("package.json", GATED_PACKAGE),
        ("app.py", &versioned()),
        ("version.txt", "v1\n"),
    ])?;
    let id = running(
        &alice,
        "gated",
        &file_url(repo.path()),
        json!({ "autoDeploy": true }),
    )
    .await?;

    // A push whose build is held open...
    let slow = commit_in(repo.path(), &[("version.txt", "wait\n")], "slow")?;
    let held = eventually(Duration::from_secs(60), || async {
        let deps = deployments(&alice, &id).await?;
        let building = deps[0]["commit"] == slow && deps[0]["status"] == "BUILDING";
        Ok(building.then(|| deps[0]["id"].as_str().unwrap_or_default().to_owned()))
    })
    .await?;
    // ... and another push meanwhile: it waits as a queued deploy task, no second deployment.
    let next = commit_in(repo.path(), &[("version.txt", "v3\n")], "next")?;
    let tasks = "query($id: ID!) { application(id: $id) { tasks { kind state progress } } }";
    let queued = eventually(Duration::from_secs(60), || async {
        let shown = alice.data(tasks, json!({ "id": id })).await?;
        let list = shown["application"]["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(list.into_iter().find(|t| t["state"] == "QUEUED"))
    })
    .await?;
    assert_eq!(queued["kind"], "DEPLOY");
    let says = queued["progress"].as_str().unwrap_or_default().to_owned();
    assert!(says.contains(&next), "{says}");
    // A newer push still waiting takes its place: one deploy, of the newest.
    let newest = commit_in(
        repo.path(),
        &[(
            "version.txt",
            "v4
",
        )],
        "newest",
    )?;
    eventually(Duration::from_secs(60), || async {
        let shown = alice.data(tasks, json!({ "id": id })).await?;
        let list = shown["application"]["tasks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let waiting: Vec<Value> = list
            .into_iter()
            .filter(|t| t["state"] == "QUEUED")
            .collect();
        anyhow::ensure!(waiting.len() == 1, "one waiting push: {waiting:?}");
        let says = waiting[0]["progress"].as_str().unwrap_or_default();
        Ok(says.contains(&newest).then_some(()))
    })
    .await?;
    let deps = deployments(&alice, &id).await?;
    assert_eq!(
        deps.len(),
        2,
        "nothing starts while a deploy is under way: {deps:?}"
    );
    assert_eq!(deps[0]["status"], "BUILDING");

    std::fs::write(server.builds_dir().join(&held).join("gate"), "")?;
    let done = deployment_at(&alice, &id, &newest).await?;
    assert_eq!(done["trigger"], "PUSH");
    assert_eq!(done["commitMessage"], "newest");
    assert_eq!(body(&alice, &id).await?, "v4");
    let deps = deployments(&alice, &id).await?;
    assert_eq!(deps.len(), 3, "{deps:?}");
    assert!(
        deps.iter().all(|d| d["commit"] != next),
        "replaced: {deps:?}"
    );
    assert_eq!(deps[1]["commit"], slow);
    // The held build ran to its end and was live before the next one replaced it.
    assert!(
        matches!(deps[1]["status"].as_str(), Some("RUNNING" | "STOPPED")),
        "{deps:?}"
    );
    Ok(())
}
on_both_databases!(a_push_during_a_deploy_waits_for_it);

/// Two servers on one database and one Redis both watch the branch; each commit is deployed
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_deploy_a_push_once() -> anyhow::Result<()> {
    use paas_tests::TestServer;
    use paas_tests::redis::{unique_prefix, url};

    let dir = tempfile::tempdir()?;
    let database_url = TestDb::Postgres.url(dir.path()).await?;
    let (redis, prefix) = (url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let a = TestServer::spawn_in(dir.path(), &database_url, FAST_POLL, &env).await?;
    let mut args = FAST_POLL.to_vec();
    args.push("--no-worker");
    let _b = TestServer::spawn_in(dir.path(), &database_url, &args, &env).await?;
    let alice = a.user("alice").await?;
    let repo = git_repo(&[("app.py", &versioned()), ("version.txt", "v1\n")])?;
    let id = running(
        &alice,
        "shared",
        &file_url(repo.path()),
        json!({ "autoDeploy": true }),
    )
    .await?;

    let v2 = commit_in(repo.path(), &[("version.txt", "v2\n")], "v2")?;
    deployment_at(&alice, &id, &v2).await?;
    // A later commit: by its deploy, both servers had long acted on the first one.
    let v3 = commit_in(repo.path(), &[("version.txt", "v3\n")], "v3")?;
    deployment_at(&alice, &id, &v3).await?;
    let deps = deployments(&alice, &id).await?;
    let commits: Vec<&Value> = deps.iter().map(|d| &d["commit"]).collect();
    assert_eq!(deps.len(), 3, "one deploy per commit: {commits:?}");
    assert!(deps.iter().all(|d| d["status"] != "FAILED"), "{deps:?}");
    Ok(())
}
