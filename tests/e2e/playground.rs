//! The playground page loads nothing from outside the server: every script and stylesheet it
//! names is served by the server itself, under a Content-Security-Policy of 'self'. (In a
//! browser that cannot reach any other host, `browser_playground` runs it.)

use anyhow::{Context, ensure};
use paas_tests::{TestApp, TestDb};

/// Every `src="…"` and `href="…"` value of an HTML page.
fn references(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = html;
        while let Some(at) = rest.find(attr) {
            rest = &rest[at + attr.len()..];
            if let Some(end) = rest.find('"') {
                found.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_everything_it_loads_come_from_the_server() -> anyhow::Result<()> {
    let server = TestApp::spawn(TestDb::Sqlite, &[]).await?;
    let http = reqwest::Client::new();
    // GraphiQL at /graphql (`GET /` is the dashboard).
    let path = "/graphql";
    let resp = http.get(format!("{}{path}", server.url)).send().await?;
    ensure!(resp.status() == 200, "{path}: {}", resp.status());
    let csp = resp
        .headers()
        .get("content-security-policy")
        .context("no Content-Security-Policy")?
        .to_str()?
        .to_owned();
    ensure!(csp.contains("default-src 'self'"), "{csp}");
    ensure!(
        !csp.contains("http"),
        "the policy names another origin: {csp}"
    );
    let html = resp.text().await?;
    let refs = references(&html);
    ensure!(refs.len() >= 4, "scripts and styles expected: {refs:?}");
    for r in refs {
        // Same origin: a path on this server, never a scheme or a `//host`.
        ensure!(
            r.starts_with('/') && !r.starts_with("//"),
            "{r} is not on the server"
        );
        let asset = http.get(format!("{}{r}", server.url)).send().await?;
        ensure!(asset.status() == 200, "{r}: {}", asset.status());
        ensure!(!asset.bytes().await?.is_empty(), "{r} is empty");
    }
    Ok(())
}
