//! Who reads an app's logs: its owner alone, through every door (query, both subscriptions,
//! HTTP); bad arguments get typed codes; the app's secrets stay out of the platform's lines.

use std::time::Duration;

use paas_tests::repo::file_url;
use paas_tests::steps::{
    BUILD_LOGS, FOLLOW, FOLLOW_BATCHES, LOGS, app, create, page, statuses_until_settled,
};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::{Value, json};

use crate::on_both_databases;
use paas_tests::eventually;

/// Prints its key, then exits: every start fails, quoting its output.
const LEAKY_APP: &str = r#"import os, sys
print("my key is " + os.environ["API_KEY"], flush=True)
sys.exit(3)
"#;

async fn logs_are_the_owners_alone_and_secrets_stay_out_of_system_lines(
    db: TestDb,
) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let secret = "s3cr3t-value-123";
    let repo = git_repo(&[("app.py", LEAKY_APP)])?;
    let id = create(
        &alice,
        json!({ "name": "leaky", "repository": { "url": file_url(repo.path()) },
                "env": [{ "key": "API_KEY", "value": secret }] }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"));

    let lines = eventually(Duration::from_secs(20), || async {
        let p = page(&alice, json!({ "app": id, "limit": 1000 })).await?;
        let lines = p["lines"].as_array().cloned().unwrap_or_default();
        let failed = lines.iter().any(|l| {
            l["text"]
                .as_str()
                .is_some_and(|t| t.starts_with("status FAILED"))
        });
        // The output of the last start is read a moment after its exit.
        let starts = lines.iter().filter(|l| l["stream"] == "STDOUT").count();
        Ok((failed && starts >= 3).then_some(lines))
    })
    .await?;
    let of = |stream: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["stream"] == stream)
            .filter_map(|l| l["text"].as_str().map(str::to_owned))
            .collect()
    };
    // The app's own output is its own, as it wrote it (three starts).
    let stdout = of("STDOUT");
    assert_eq!(stdout.len(), 3, "{stdout:?}");
    assert!(stdout.iter().all(|t| t == &format!("my key is {secret}")));
    // The platform's lines quote that output, with the secret scrubbed.
    let system = of("SYSTEM");
    assert!(system.iter().all(|t| !t.contains(secret)), "{system:?}");
    let failed = system
        .iter()
        .find(|t| t.starts_with("status FAILED"))
        .cloned()
        .unwrap_or_default();
    assert!(failed.contains("code 3"), "{failed}");
    assert!(
        system.iter().any(|t| t.contains("my key is [redacted]")),
        "{system:?}"
    );

    // Nobody else reads them, in any way.
    assert_eq!(
        bob.error_code(LOGS, json!({ "app": id })).await?,
        "NOT_FOUND"
    );
    let dep = app(&alice, &id).await?["deployments"][0]["id"].clone();
    assert_eq!(
        bob.error_code(LOGS, json!({ "app": id, "dep": dep }))
            .await?,
        "NOT_FOUND"
    );
    for (query, vars) in [
        (FOLLOW, json!({ "app": id })),
        (FOLLOW_BATCHES, json!({ "app": id })),
        (BUILD_LOGS, json!({ "dep": dep })),
    ] {
        let mut sub = bob.subscribe(query, vars).await?;
        let refused = sub.next(Duration::from_secs(10)).await?;
        assert_eq!(
            refused["errors"][0]["extensions"]["code"], "NOT_FOUND",
            "{refused}"
        );
        assert!(refused["data"].is_null(), "{refused}");
        assert!(sub.next_or_end(Duration::from_secs(10)).await?.is_none());
    }
    let url = format!("{}/apps/{id}/logs", alice.base());
    let http = reqwest::Client::new();
    let as_bob = http
        .get(&url)
        .bearer_auth(bob.token().unwrap_or_default())
        .send()
        .await?;
    assert_eq!(as_bob.status(), 404);
    assert_eq!(http.get(&url).send().await?.status(), 401);

    // Bad arguments: typed codes.
    let alice_token = alice.token().unwrap_or_default();
    for (query, code) in [
        (vec![("limit", "0")], "INVALID_LIMIT"),
        (vec![("from", "yesterday")], "INVALID_TIMESTAMP"),
    ] {
        let resp = http
            .get(&url)
            .query(&query)
            .bearer_auth(alice_token)
            .send()
            .await?;
        assert_eq!(resp.status(), 400);
        let body: Value = resp.json().await?;
        assert_eq!(body["code"], code);
    }
    let other_dep = uuid::Uuid::now_v7().to_string();
    for (vars, code) in [
        (json!({ "app": id, "limit": 5001 }), "INVALID_LIMIT"),
        (
            json!({ "app": id, "from": "2026-13-01" }),
            "INVALID_TIMESTAMP",
        ),
        (json!({ "app": id, "last": "nope" }), "INVALID_TIMESTAMP"),
        (json!({ "app": "not-an-id" }), "INVALID_ID"),
        (json!({ "app": id, "dep": other_dep }), "NOT_FOUND"),
    ] {
        assert_eq!(alice.error_code(LOGS, vars).await?, code);
    }
    Ok(())
}
on_both_databases!(logs_are_the_owners_alone_and_secrets_stay_out_of_system_lines);
