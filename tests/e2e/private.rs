//! Private repositories: readable with the user's git token, and only then.

use paas_tests::apps::hello;
use paas_tests::git_http::PrivateGitServer;
use paas_tests::repo::file_url;
use paas_tests::steps::{CREATE, body, create, statuses_until_settled};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::json;

use crate::on_both_databases;

async fn private_repo_deploys_with_the_users_token(db: TestDb) -> anyhow::Result<()> {
    let work = git_repo(&[("app.py", &hello())])?;
    let root = tempfile::tempdir()?;
    git2::Repository::clone(&file_url(work.path()), root.path().join("app.git"))?;
    let git = PrivateGitServer::start(root.path(), "ghp_private").await?;
    let url = git.url("app.git");

    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let check = "query($u: String!) { repository(url: $u) { exists branchExists } }";

    // Without the token the repository does not exist for alice, and nothing can be created.
    let r = alice.data(check, json!({ "u": url })).await?;
    assert_eq!(r["repository"]["exists"], false);
    let code = alice
        .error_code(
            CREATE,
            json!({ "input": { "name": "secret", "repository": { "url": url } } }),
        )
        .await?;
    assert_eq!(code, "REPO_NOT_FOUND");

    let set = alice
        .data(
            "mutation($t: String) { setGitToken(token: $t) }",
            json!({ "t": "ghp_private" }),
        )
        .await?;
    assert_eq!(set["setGitToken"], true);
    let r = alice.data(check, json!({ "u": url })).await?;
    assert_eq!(
        r["repository"],
        json!({ "exists": true, "branchExists": true })
    );
    // The language is read with her token too (over smart HTTP).
    let r = alice
        .data(
            "query($u: String!) { repository(url: $u) { language } }",
            json!({ "u": url }),
        )
        .await?;
    assert_eq!(r["repository"]["language"], "PYTHON");
    let r = bob
        .data(
            "query($u: String!) { repository(url: $u) { language } }",
            json!({ "u": url }),
        )
        .await?;
    assert_eq!(r["repository"]["language"], serde_json::Value::Null);
    // The token is alice's: bob still cannot read the repository.
    let r = bob.data(check, json!({ "u": url })).await?;
    assert_eq!(r["repository"]["exists"], false);

    let id = create(
        &alice,
        json!({ "name": "secret", "repository": { "url": url } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("RUNNING"), "{seen:?}");
    assert_eq!(body(&alice, &id).await?, "hello");
    Ok(())
}
on_both_databases!(private_repo_deploys_with_the_users_token);
