//! Custom domains: `addDomain` routes a name of the user's own to an app through the router,
//! `removeDomain` stops it; names are checked (`INVALID_DOMAIN`), unique across every user
//! (`DOMAIN_TAKEN`), and only the owner may touch an app's domains.

use std::time::Duration;

use paas_tests::router;
use paas_tests::steps::deployed;
use paas_tests::{TestApp, TestDb, eventually};
use serde_json::json;

use crate::on_both_databases;

const ADD: &str = "mutation($id: ID!, $d: String!) { addDomain(id: $id, domain: $d) { domains } }";
const REMOVE: &str =
    "mutation($id: ID!, $d: String!) { removeDomain(id: $id, domain: $d) { domains } }";

async fn custom_domains_route_to_their_app(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let router_addr = server.router.ok_or_else(|| anyhow::anyhow!("no router"))?;
    let alice = server.user("alice").await?;
    let bob = server.user("bob").await?;
    let app = |greeting: &str| {
        paas_tests::apps::PythonApp::new()
            .body(&format!("\"{greeting}\""))
            .source()
    };
    let (_repo, shop) = deployed(&alice, "shop", &[("app.py", &app("the shop"))]).await?;
    let (_other, blog) = deployed(&bob, "blog", &[("app.py", &app("the blog"))]).await?;

    // Before: the router knows no such host.
    let (status, _) = router::get_host(router_addr, "shop.example.com", "/").await?;
    assert_eq!(status, 404);

    let added = alice
        .data(ADD, json!({ "id": shop, "d": "Shop.Example.com" }))
        .await?;
    assert_eq!(added["addDomain"]["domains"], json!(["shop.example.com"]));
    // Adding it again changes nothing.
    alice
        .data(ADD, json!({ "id": shop, "d": "shop.example.com" }))
        .await?;
    let body = eventually(Duration::from_secs(10), || async {
        let (status, body) = router::get_host(router_addr, "shop.example.com", "/").await?;
        Ok((status == 200).then_some(body))
    })
    .await?;
    assert_eq!(body, "the shop");

    // Someone else's domain, someone else's app, and names that are not domains.
    let taken = bob
        .error_code(ADD, json!({ "id": blog, "d": "shop.example.com" }))
        .await?;
    assert_eq!(taken, "DOMAIN_TAKEN");
    let foreign = bob
        .error_code(ADD, json!({ "id": shop, "d": "bob.example.com" }))
        .await?;
    assert_eq!(foreign, "NOT_FOUND");
    for bad in [
        "not a domain",
        "localhost",
        "blog.localhost",
        "10.0.0.1",
        "a_b.com",
    ] {
        let code = bob.error_code(ADD, json!({ "id": blog, "d": bad })).await?;
        assert_eq!(code, "INVALID_DOMAIN", "{bad}");
    }
    // None of that changed where the name goes.
    let (status, body) = router::get_host(router_addr, "shop.example.com", "/").await?;
    assert_eq!((status, body.as_str()), (200, "the shop"));
    let (status, _) = router::get_host(router_addr, "bob.example.com", "/").await?;
    assert_eq!(status, 404);

    let removed = alice
        .data(REMOVE, json!({ "id": shop, "d": "shop.example.com" }))
        .await?;
    assert_eq!(removed["removeDomain"]["domains"], json!([]));
    eventually(Duration::from_secs(10), || async {
        let (status, _) = router::get_host(router_addr, "shop.example.com", "/").await?;
        Ok((status == 404).then_some(()))
    })
    .await?;
    let again = alice
        .error_code(REMOVE, json!({ "id": shop, "d": "shop.example.com" }))
        .await?;
    assert_eq!(again, "NOT_FOUND");

    // Free again: bob may have it now, and it routes to his app.
    bob.data(ADD, json!({ "id": blog, "d": "shop.example.com" }))
        .await?;
    let body = eventually(Duration::from_secs(10), || async {
        let (status, body) = router::get_host(router_addr, "shop.example.com", "/").await?;
        Ok((status == 200).then_some(body))
    })
    .await?;
    assert_eq!(body, "the blog");
    Ok(())
}
on_both_databases!(custom_domains_route_to_their_app);
