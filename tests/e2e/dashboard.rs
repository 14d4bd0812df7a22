//! The web dashboard as the server hands it out: `GET /` sends browsers to `/ui/`, the page and
//! its built files come from the binary with their content types, a client-side route answers
//! the page, and the page runs under a Content-Security-Policy of this origin only. (What the
//! page does in a browser is `browser_dashboard`.)

use anyhow::{Context, ensure};
use paas_tests::{TestApp, TestDb};
use reqwest::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};

/// The `/ui/...` paths a page's `src="…"` and `href="…"` attributes name.
fn built_files(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attr| html.split(attr).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .filter(|path| path.starts_with("/ui/"))
        .map(str::to_owned)
        .collect()
}

fn header<'a>(resp: &'a reqwest::Response, name: &str) -> anyhow::Result<&'a str> {
    Ok(resp
        .headers()
        .get(name)
        .with_context(|| format!("no {name}"))?
        .to_str()?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_its_files_come_from_the_binary() -> anyhow::Result<()> {
    let server = TestApp::spawn(TestDb::Sqlite, &[]).await?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;

    let root = http.get(format!("{}/", server.url)).send().await?;
    ensure!(root.status() == 303, "GET /: {}", root.status());
    ensure!(
        header(&root, LOCATION.as_str())? == "/ui/",
        "GET / goes elsewhere"
    );

    let mut index = None;
    for path in ["/ui", "/ui/"] {
        let resp = http.get(format!("{}{path}", server.url)).send().await?;
        ensure!(resp.status() == 200, "{path}: {}", resp.status());
        ensure!(header(&resp, CONTENT_TYPE.as_str())?.starts_with("text/html"));
        let csp = header(&resp, "content-security-policy")?;
        ensure!(
            csp.contains("default-src 'self'") && csp.contains("connect-src 'self'"),
            "{csp}"
        );
        ensure!(
            !csp.contains("unsafe-inline") && !csp.contains("http"),
            "{csp}"
        );
        ensure!(header(&resp, "x-content-type-options")? == "nosniff");
        ensure!(header(&resp, "referrer-policy")? == "no-referrer");
        let html = resp.text().await?;
        ensure!(
            html.contains("<div id=\"app\">"),
            "not the dashboard: {html}"
        );
        index = Some(html);
    }
    let index = index.context("the page")?;

    let files = built_files(&index);
    ensure!(
        files.iter().any(|f| f.ends_with(".js")) && files.iter().any(|f| f.ends_with(".css")),
        "a script and a stylesheet expected: {files:?}"
    );
    for file in &files {
        let resp = http.get(format!("{}{file}", server.url)).send().await?;
        ensure!(resp.status() == 200, "{file}: {}", resp.status());
        let expected = if file.ends_with(".js") {
            "text/javascript"
        } else {
            "text/css"
        };
        ensure!(
            header(&resp, CONTENT_TYPE.as_str())?.starts_with(expected),
            "{file}: {}",
            header(&resp, CONTENT_TYPE.as_str())?
        );
        ensure!(header(&resp, CACHE_CONTROL.as_str())?.contains("immutable"));
        ensure!(header(&resp, "x-content-type-options")? == "nosniff");
        ensure!(!resp.bytes().await?.is_empty(), "{file} is empty");
    }

    // A page of the app (a reload, a shared link) is the same document; its script routes.
    let route = http
        .get(format!("{}/ui/apps/some-app/logs", server.url))
        .send()
        .await?;
    ensure!(route.status() == 200, "client route: {}", route.status());
    ensure!(header(&route, "content-security-policy")?.contains("default-src 'self'"));
    ensure!(
        route.text().await? == index,
        "a client route answers the page"
    );

    // A built file that does not exist is not the page.
    let missing = http
        .get(format!("{}/ui/assets/missing-0000.js", server.url))
        .send()
        .await?;
    ensure!(
        missing.status() == 404,
        "missing file: {}",
        missing.status()
    );

    // The playground stayed at /graphql.
    let playground = http.get(format!("{}/graphql", server.url)).send().await?;
    ensure!(playground.status() == 200);
    ensure!(playground.text().await?.contains("/playground/"));
    Ok(())
}
