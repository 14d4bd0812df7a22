//! Bad input: each refusal has its code and writes nothing.

use paas_tests::apps::hello;
use paas_tests::repo::file_url;
use paas_tests::steps::{CREATE, create};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;

async fn bad_input_is_refused_with_a_code_and_writes_nothing(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", &hello())])?;
    let url = file_url(repo.path());
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;

    let input = |patch: Value| {
        let mut base = json!({ "name": "good-name", "repository": { "url": url } });
        if let (Some(b), Some(p)) = (base.as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                b.insert(k.clone(), v.clone());
            }
        }
        json!({ "input": base })
    };
    let cases = [
        ("INVALID_NAME", input(json!({ "name": "Bad_Name" }))),
        ("INVALID_NAME", input(json!({ "name": "-leading" }))),
        ("INVALID_PORT", input(json!({ "port": 0 }))),
        ("INVALID_PORT", input(json!({ "port": 70000 }))),
        (
            "INVALID_ENV",
            input(json!({ "env": [{ "key": "1BAD", "value": "x" }] })),
        ),
        (
            "INVALID_ENV",
            input(json!({ "env": [{ "key": "PORT", "value": "1" }] })),
        ),
        (
            "INVALID_REPOSITORY",
            input(json!({ "repository": { "url": "--upload-pack=touch /tmp/x" } })),
        ),
        (
            "INVALID_REPOSITORY",
            input(json!({ "repository": { "url": "ftp://example.com/r" } })),
        ),
        (
            "INVALID_BRANCH",
            input(json!({ "repository": { "url": url, "branch": "-x" } })),
        ),
        (
            "REPO_NOT_FOUND",
            input(json!({ "repository": { "url": "file:///nonexistent/repo" } })),
        ),
        (
            "BRANCH_NOT_FOUND",
            input(json!({ "repository": { "url": url, "branch": "nope" } })),
        ),
    ];
    for (code, vars) in cases {
        let got = alice.error_code(CREATE, vars.clone()).await?;
        assert_eq!(got, code, "for {vars}");
    }
    assert_eq!(server.count_rows("applications").await?, 0);
    assert_eq!(server.count_rows("deployments").await?, 0);

    // Name taken: the first app exists, the second attempt writes nothing more.
    create(
        &alice,
        json!({ "name": "taken", "repository": { "url": url } }),
    )
    .await?;
    let code = alice
        .error_code(
            CREATE,
            json!({ "input": { "name": "taken", "repository": { "url": url } } }),
        )
        .await?;
    assert_eq!(code, "NAME_TAKEN");
    assert_eq!(server.count_rows("applications").await?, 1);
    assert_eq!(server.count_rows("deployments").await?, 1);

    // The read-only checks answer with codes too.
    let code = alice
        .error_code("{ nameAvailable(name: \"UPPER\") }", json!({}))
        .await?;
    assert_eq!(code, "INVALID_NAME");
    let check = alice
        .data(
            "{ repository(url: \"file:///nonexistent/repo\") { exists branchExists } }",
            json!({}),
        )
        .await?;
    assert_eq!(
        check["repository"],
        json!({ "exists": false, "branchExists": false })
    );
    Ok(())
}
on_both_databases!(bad_input_is_refused_with_a_code_and_writes_nothing);

async fn local_repos_can_be_turned_off(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", &hello())])?;
    let server = TestApp::spawn(db, &["--no-local-repos"]).await?;
    let alice = server.user("alice").await?;
    let code = alice
        .error_code(
            CREATE,
            json!({ "input": { "name": "local", "repository": { "url": file_url(repo.path()) } } }),
        )
        .await?;
    assert_eq!(code, "LOCAL_REPOS_DISABLED");
    let code = alice
        .error_code(
            "query($u: String!) { repository(url: $u) { exists } }",
            json!({ "u": file_url(repo.path()) }),
        )
        .await?;
    assert_eq!(code, "LOCAL_REPOS_DISABLED");
    assert_eq!(server.count_rows("applications").await?, 0);
    Ok(())
}
on_both_databases!(local_repos_can_be_turned_off);
