//! Example apps and the GraphQL documents the scenarios use.

use std::time::Duration;

use anyhow::bail;
use paas_tests::Client;
use serde_json::{Value, json};

/// A tiny Python HTTP app answering `$GREETING` (or "hello") on `0.0.0.0:$PORT` (so it is
/// reachable through a container's published port too).
pub const PYTHON_APP: &str = r#"import http.server, os

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = os.environ.get("GREETING", "hello").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), Handler).serve_forever()
"#;

/// Answers the content of `version.txt` on `0.0.0.0:$PORT` (tells deployments apart).
pub const VERSIONED_APP: &str = r#"import http.server, os
body = open("version.txt").read().strip().encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"#;
/// A Node app whose build step fails with a syntax error (the app's fault, never retried).
pub const BROKEN_BUILD: &[(&str, &str)] = &[(
    "package.json",
    r#"{ "name": "broken", "version": "1.0.0",
         "scripts": { "build": "echo 'SyntaxError: unexpected token in app.js' >&2; exit 2" } }"#,
)];

pub const CREATE: &str = "mutation($input: CreateApplicationInput!) {
  createApplication(input: $input) { application { id name status } }
}";

pub const APP: &str = "query($id: ID!) {
  application(id: $id) {
    id name status statusReason language port env { key }
    repository { url branch commit }
    endpoint { host port url }
    deployments { id status commit error buildAttempts startAttempts createdAt buildLog }
  }
}";

pub const STATUS: &str = "subscription($id: ID!) {
  applicationStatus(id: $id) { status version reason }
}";

/// Creates an app; returns its id (and checks the immediate answer is PENDING).
pub async fn create(client: &Client, input: Value) -> anyhow::Result<String> {
    let data = client.data(CREATE, json!({ "input": input })).await?;
    let app = &data["createApplication"]["application"];
    if app["status"] != "PENDING" {
        bail!("createApplication answered {app}, not PENDING");
    }
    Ok(app["id"].as_str().unwrap_or_default().to_owned())
}

/// Creates an app from `files` in a fresh repository and waits until it is `RUNNING`; returns
/// the repository (to commit to) and the app's id.
pub async fn deployed(
    client: &Client,
    name: &str,
    files: &[(&str, &str)],
) -> anyhow::Result<(tempfile::TempDir, String)> {
    let repo = paas_tests::git_repo(files)?;
    let id = create(
        client,
        json!({ "name": name, "repository": { "url": paas_tests::repo::file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(client, &id).await?;
    anyhow::ensure!(
        seen.last().map(String::as_str) == Some("RUNNING"),
        "{seen:?}"
    );
    Ok((repo, id))
}

/// Follows the status subscription until RUNNING or FAILED; returns every status seen.
pub async fn statuses_until_settled(client: &Client, id: &str) -> anyhow::Result<Vec<String>> {
    let mut sub = client.subscribe(STATUS, json!({ "id": id })).await?;
    let mut seen = Vec::new();
    let mut last_version = 0;
    loop {
        let msg = sub.next(Duration::from_secs(120)).await?;
        let change = &msg["data"]["applicationStatus"];
        let version = change["version"].as_i64().unwrap_or_default();
        if version <= last_version {
            bail!("status versions went backwards or repeated: {seen:?} then {change}");
        }
        last_version = version;
        let status = change["status"].as_str().unwrap_or_default().to_owned();
        seen.push(status.clone());
        if status == "RUNNING" || status == "FAILED" {
            return Ok(seen);
        }
    }
}

/// The app as `application(id)` shows it.
pub async fn app(client: &Client, id: &str) -> anyhow::Result<Value> {
    Ok(client.data(APP, json!({ "id": id })).await?["application"].clone())
}

/// The body the app answers at the endpoint the platform reports for it.
pub async fn body(client: &Client, id: &str) -> anyhow::Result<String> {
    let url = app(client, id).await?["endpoint"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Ok(reqwest::get(url).await?.error_for_status()?.text().await?)
}
