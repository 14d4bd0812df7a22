//! Authorisation: every operation needs a token, and users see only their own apps.

use paas_tests::repo::file_url;
use paas_tests::{TestDb, TestServer, git_repo};
use serde_json::json;

use crate::apps::{APP, CREATE, PYTHON_APP, STATUS, create};
use crate::on_both_databases;

async fn users_see_only_their_own_apps(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", PYTHON_APP)])?;
    let server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let id = create(
        &alice,
        json!({ "name": "alices", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;

    assert_eq!(bob.error_code(APP, json!({ "id": id })).await?, "NOT_FOUND");
    let list = bob
        .data("{ applications { edges { node { id } } } }", json!({}))
        .await?;
    assert_eq!(list["applications"]["edges"], json!([]));
    // Nor can bob follow alice's app.
    let mut sub = bob.subscribe(STATUS, json!({ "id": id })).await?;
    let refused = sub.next(std::time::Duration::from_secs(10)).await?;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{refused}"
    );
    assert_eq!(refused["data"], serde_json::Value::Null, "{refused}");

    let list = alice
        .data("{ applications { edges { node { id name } } } }", json!({}))
        .await?;
    assert_eq!(list["applications"]["edges"][0]["node"]["id"], id);
    Ok(())
}
on_both_databases!(users_see_only_their_own_apps);

async fn every_operation_needs_a_valid_token(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", PYTHON_APP)])?;
    let server = TestServer::spawn(db, &[]).await?;
    let nobody = server.anonymous();
    let forged = paas_tests::Client::new(&server.url, Some("paas_forged".into()));
    for client in [&nobody, &forged] {
        for query in [
            "{ me { id } }",
            "{ nameAvailable(name: \"x\") }",
            "{ applications { edges { cursor } } }",
            "{ repository(url: \"file:///tmp\") { exists } }",
        ] {
            assert_eq!(
                client.error_code(query, json!({})).await?,
                "UNAUTHENTICATED",
                "{query}"
            );
        }
        let vars = json!({ "input": { "name": "sneaky", "repository": { "url": file_url(repo.path()) } } });
        assert_eq!(client.error_code(CREATE, vars).await?, "UNAUTHENTICATED");
        assert!(
            client
                .subscribe(STATUS, json!({ "id": "x" }))
                .await
                .is_err(),
            "a websocket without a valid token was accepted"
        );
    }
    assert_eq!(server.count_rows("applications").await?, 0);
    Ok(())
}
on_both_databases!(every_operation_needs_a_valid_token);

async fn applications_page_with_cursors(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", PYTHON_APP)])?;
    let server = TestServer::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&alice, json!({ "name": format!("app-{i}"), "repository": { "url": file_url(repo.path()) } })).await?);
    }
    let page = "query($after: String) { applications(first: 2, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let data = alice.data(page, json!({ "after": after })).await?;
        let conn = &data["applications"];
        for e in conn["edges"].as_array().cloned().unwrap_or_default() {
            seen.push(e["node"]["id"].as_str().unwrap_or_default().to_owned());
        }
        if conn["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = conn["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, ids, "every app once, in creation order");
    Ok(())
}
on_both_databases!(applications_page_with_cursors);
