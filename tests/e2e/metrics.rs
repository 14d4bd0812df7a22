//! `GET /metrics` on the real `paas serve`: the operator's only (401 without a token, 403 with
//! another), Prometheus text a scraper parses, and its series move with what happens: a create
//! and its deploy, GraphQL queries, requests through the router, the apps' statuses.

use std::time::Duration;

use anyhow::Context;
use paas_tests::apps::hello;
use paas_tests::metrics::Scrape;
use paas_tests::router::{get_host, routed};
use paas_tests::steps::deployed;
use paas_tests::{TestDb, TestServer};
use serde_json::json;

use crate::on_both_databases;

const ADMIN: &str = "operator-token-for-metrics";
const LIST: &str = "{ applications(first: 10) { edges { node { id name status } } } }";

on_both_databases!(metrics_are_the_operators_and_move_with_what_happens);

/// Scrapes `url` (with the operator's token when `token` is given).
pub(crate) async fn scrape(url: &str, token: Option<&str>) -> anyhow::Result<Scrape> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut req = http.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await?;
    anyhow::ensure!(res.status() == 200, "GET {url}: {}", res.status());
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    anyhow::ensure!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&res.text().await?)
}

async fn metrics_are_the_operators_and_move_with_what_happens(db: TestDb) -> anyhow::Result<()> {
    let server = TestServer::spawn(db, &["--admin-token", ADMIN]).await?;
    let url = format!("{}/metrics", server.url);
    let http = reqwest::Client::new();
    let none = http.get(&url).send().await?;
    assert_eq!(none.status(), 401);
    assert_eq!(
        none.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    let alice = server.user("alice").await?;
    let wrong = http
        .get(&url)
        .bearer_auth(alice.token().context("no token")?)
        .send()
        .await?;
    assert_eq!(wrong.status(), 403, "a user's token is not the operator's");

    let before = scrape(&url, Some(ADMIN)).await?;
    assert!(before.has("paas_apps", &[("status", "RUNNING")]));
    assert_eq!(before.value("paas_apps", &[("status", "RUNNING")]), 0.0);
    assert!(before.has("paas_queue_depth", &[("topic", "builds")]));

    // A create and its deploy, a request through the router, queries good and bad.
    let (_repo, _id) = deployed(&alice, "metered", &[("app.py", &hello())]).await?;
    let router = server.router.context("no router")?;
    routed(router, "metered.localhost").await?;
    let (status, _) = get_host(router, "metered.localhost", "/").await?;
    assert_eq!(status, 200);
    alice.data(LIST, json!({})).await?;
    alice.data(LIST, json!({})).await?;
    let code = alice
        .error_code(
            "query($id: ID!) { application(id: $id) { id } }",
            json!({ "id": "not-an-id" }),
        )
        .await?;

    // The deploy is counted as its step ends, a moment after the app shows RUNNING; the
    // router's request as its body ends.
    let deploys = |s: &Scrape| s.value("paas_deploy_duration_seconds_count", &[("outcome", "ok")]);
    let after = paas_tests::eventually(Duration::from_secs(30), || async {
        let s = scrape(&url, Some(ADMIN)).await?;
        let routed = s.value("paas_router_requests_total", &[("app", "metered")]);
        Ok((deploys(&s) > deploys(&before) && routed > 0.0).then_some(s))
    })
    .await?;
    let moved = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(after.value("paas_apps", &[("status", "RUNNING")]), 1.0);
    let ok = [("outcome", "ok")];
    assert_eq!(moved("paas_build_duration_seconds_count", &ok), 1.0);
    assert_eq!(moved("paas_deploy_duration_seconds_count", &ok), 1.0);
    assert!(moved("paas_instance_start_duration_seconds_count", &ok) >= 1.0);
    assert!(after.value("paas_build_duration_seconds_sum", &ok) > 0.0);
    assert!(moved("paas_log_lines_stored_total", &[("stream", "build")]) > 0.0);
    assert!(moved("paas_log_lines_stored_total", &[("stream", "system")]) > 0.0);
    assert!(
        moved(
            "paas_graphql_operations_total",
            &[("operation", "applications"), ("outcome", "ok")]
        ) >= 2.0
    );
    assert_eq!(
        moved(
            "paas_graphql_operations_total",
            &[("operation", "application"), ("outcome", code.as_str())]
        ),
        1.0,
        "the failed query is counted under its error code {code}"
    );
    assert!(
        moved(
            "paas_graphql_operations_total",
            &[("operation", "createApplication")]
        ) >= 1.0
    );
    assert!(
        moved(
            "paas_http_requests_total",
            &[("route", "/graphql"), ("class", "2xx")]
        ) >= 3.0
    );
    let app = [("app", "metered")];
    assert!(
        after.value(
            "paas_router_requests_total",
            &[("app", "metered"), ("class", "2xx")]
        ) >= 1.0
    );
    assert!(after.value("paas_router_request_duration_seconds_count", &app) >= 1.0);
    let lookups = |s: &Scrape| {
        s.value("paas_cache_hits_total", &[]) + s.value("paas_cache_misses_total", &[])
    };
    assert!(
        lookups(&after) > lookups(&before),
        "cache lookups are counted"
    );
    // No label carries an unbounded value: operations are the schema's root fields.
    for s in after
        .samples
        .iter()
        .filter(|s| s.name == "paas_graphql_operations_total")
    {
        let op = s.labels.get("operation").map(String::as_str);
        assert!(op.is_some_and(|op| !op.contains(' ')), "{s:?}");
    }
    Ok(())
}

/// With `metrics_listen`, `/metrics` answers there without a token, and not on the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_listen_serves_them_apart_from_the_api() -> anyhow::Result<()> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let addr = format!("127.0.0.1:{port}");
    let server = TestServer::spawn(
        TestDb::Sqlite,
        &["--admin-token", ADMIN, "--metrics-listen", &addr],
    )
    .await?;
    let alice = server.user("alice").await?;
    alice.data(LIST, json!({})).await?;
    let own = scrape(&format!("http://{addr}/metrics"), None).await?;
    assert!(
        own.value(
            "paas_graphql_operations_total",
            &[("operation", "applications")]
        ) >= 1.0
    );
    let api = reqwest::Client::new()
        .get(format!("{}/metrics", server.url))
        .bearer_auth(ADMIN)
        .send()
        .await?;
    assert_eq!(api.status(), 404, "off the API listener");
    Ok(())
}
