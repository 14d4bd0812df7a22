//! The playground in headless Chromium against the real `paas serve`, with every other origin
//! blocked: GraphiQL renders with the schema's docs, the token typed once into the prefilled
//! Authorization header serves a query and a subscription (over `/graphql/ws`), and the
//! subscription shows a change made while it runs (`tests/browser/playground.mjs`).

use anyhow::Context;
use paas_tests::apps::hello;
use paas_tests::browser::run_script;
use paas_tests::steps::{deployed, settled};
use paas_tests::{TestDb, TestServer};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_and_a_live_subscription_offline() -> anyhow::Result<()> {
    let server = TestServer::spawn(TestDb::Sqlite, &[]).await?;
    let alice = server.user("alice").await?;
    let (_repo, id) = deployed(&alice, "hello", &[("app.py", &hello())]).await?;

    let out = run_script(
        "playground.mjs",
        &[
            ("PAAS_URL", server.url.clone()),
            ("PAAS_TOKEN", alice.token().context("a token")?.to_owned()),
            ("PAAS_USER_NAME", "alice".to_owned()),
            ("PAAS_APP_ID", id.clone()),
        ],
    )
    .await?;
    let seen: Value = serde_json::from_str(out.trim()).with_context(|| format!("{out:?}"))?;

    assert_eq!(seen["me"], "alice", "{seen}");
    // The replay ends with the deployment's last change; the restart's changes come after it.
    assert_eq!(seen["first"]["status"], "RUNNING", "{seen}");
    let first = seen["first"]["version"].as_i64().context("a version")?;
    let live = seen["live"]["version"].as_i64().context("a version")?;
    assert!(live > first, "no change after the restart: {seen}");
    // The subscription went over this server's websocket endpoint.
    let ws = format!("{}/graphql/ws", server.url.replacen("http://", "ws://", 1));
    assert_eq!(seen["sockets"], serde_json::json!([ws]), "{seen}");

    // The restart the script asked for completes.
    let app = settled(&alice, &id).await?;
    assert_eq!(app["status"], "RUNNING", "{app}");
    Ok(())
}
