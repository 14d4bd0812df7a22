//! The HTTP surface besides GraphQL: the playground and the health check (the dashboard is in
//! `dashboard`).

use paas_tests::{TestApp, TestDb};

use crate::on_both_databases;

async fn playground_and_health(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let page = reqwest::get(format!("{}/graphql", server.url)).await?;
    assert!(page.status().is_success());
    let html = page.text().await?;
    assert!(
        html.contains("graphiql") || html.contains("GraphiQL"),
        "not the playground"
    );
    // The page's own script (served by the server) knows the subscription endpoint.
    let script = reqwest::get(format!("{}/playground/playground.js", server.url))
        .await?
        .text()
        .await?;
    assert!(
        html.contains("/playground/playground.js") && script.contains("/graphql/ws"),
        "the playground must know the subscription endpoint"
    );
    let health = reqwest::get(format!("{}/healthz", server.url)).await?;
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await?, "ok");
    Ok(())
}
on_both_databases!(playground_and_health);
