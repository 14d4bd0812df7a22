//! Authorisation: every operation needs a token, and users see only their own apps.

use std::time::Duration;

use paas_tests::apps::hello;
use paas_tests::operations::{self, Kind, Owned};
use paas_tests::repo::file_url;
use paas_tests::steps::{APP, STATUS, create, statuses_until_settled};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::json;

use crate::on_both_databases;

async fn users_see_only_their_own_apps(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", &hello())])?;
    let server = TestApp::spawn(db, &[]).await?;
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
    let repo = git_repo(&[("app.py", &hello())])?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "alices", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let before = alice.data(APP, json!({ "id": id })).await?;
    let ops = operations::all(&alice, &Owned::app(&id)).await?;
    for kind in [Kind::Query, Kind::Mutation, Kind::Subscription] {
        assert!(ops.iter().any(|o| o.kind == kind), "no {kind:?} found");
    }
    let nobody = server.anonymous();
    let forged = paas_tests::Client::new(&server.url, Some("paas_forged".into()));
    for client in [&nobody, &forged] {
        for op in &ops {
            if op.kind == Kind::Subscription {
                assert!(
                    client
                        .subscribe(&op.document, op.variables.clone())
                        .await
                        .is_err(),
                    "a websocket without a valid token was accepted for {}",
                    op.document
                );
            } else {
                let resp = client.gql(&op.document, op.variables.clone()).await?;
                assert_eq!(
                    resp["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                    "{} answered {resp}",
                    op.document
                );
                assert!(
                    resp["data"].is_null() || resp["data"][&op.field].is_null(),
                    "{resp}"
                );
            }
        }
    }
    assert_eq!(server.count_rows("applications").await?, 1);
    let after = alice.data(APP, json!({ "id": id })).await?;
    assert_eq!(before["application"]["name"], after["application"]["name"]);
    assert_eq!(
        before["application"]["deployments"]
            .as_array()
            .map(Vec::len),
        after["application"]["deployments"].as_array().map(Vec::len),
        "an unauthenticated call deployed"
    );
    Ok(())
}
on_both_databases!(every_operation_needs_a_valid_token);

async fn no_operation_reaches_another_users_app(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", &hello())])?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let id = create(
        &alice,
        json!({ "name": "alices", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let settled = statuses_until_settled(&alice, &id).await?;
    assert_eq!(settled.last().map(String::as_str), Some("RUNNING"));
    let before = alice.data(APP, json!({ "id": id })).await?["application"].clone();
    let owned = Owned {
        app: id.clone(),
        deployment: before["deployments"][0]["id"].as_str().map(str::to_owned),
    };
    let ops = operations::all(&bob, &owned).await?;
    let aimed: Vec<_> = ops.iter().filter(|o| o.takes_owned_id).collect();
    for kind in [Kind::Query, Kind::Mutation, Kind::Subscription] {
        assert!(
            aimed.iter().any(|o| o.kind == kind),
            "no {kind:?} takes an app"
        );
    }
    for op in aimed {
        if op.kind == Kind::Subscription {
            let mut sub = bob.subscribe(&op.document, op.variables.clone()).await?;
            // Refused as a `next` carrying the error, or as an `error` message.
            match sub.next_or_end(Duration::from_secs(10)).await {
                Err(e) => assert!(e.to_string().contains("NOT_FOUND"), "{}: {e}", op.document),
                Ok(Some(got)) => assert!(
                    got["data"].is_null() && got["errors"][0]["extensions"]["code"] == "NOT_FOUND",
                    "{} gave bob {got}",
                    op.document
                ),
                Ok(None) => panic!("{} completed for bob without a refusal", op.document),
            }
        } else {
            let resp = bob.gql(&op.document, op.variables.clone()).await?;
            let refused = resp["errors"][0]["extensions"]["code"] == "NOT_FOUND";
            let nothing = resp["errors"].is_null() && resp["data"][&op.field].is_null();
            assert!(refused || nothing, "{} answered bob {resp}", op.document);
        }
    }
    let after = alice.data(APP, json!({ "id": id })).await?["application"].clone();
    assert_eq!(before, after, "bob changed alice's app");
    Ok(())
}
on_both_databases!(no_operation_reaches_another_users_app);

async fn applications_page_with_cursors(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("app.py", &hello())])?;
    let server = TestApp::spawn(db, &[]).await?;
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
