//! The steps scenarios share: the GraphQL documents, creating an app and following it until it
//! settles, reading it, its logs and its tasks.

use std::time::Duration;

use crate::Client;
use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::eventually;
use crate::repo::commit;
use std::path::Path;

pub const CREATE: &str = "mutation($input: CreateApplicationInput!) {
  createApplication(input: $input) { application { id name status } }
}";

pub const APP: &str = "query($id: ID!) {
  application(id: $id) {
    id name status statusReason language port env { key }
    repository { url branch commit }
    endpoint { host port url }
    instances { id host port deployment }
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
    deployed_with(client, name, files, json!({})).await
}

/// Like [`deployed`], with more fields of `CreateApplicationInput` (`env`, `port`, …).
pub async fn deployed_with(
    client: &Client,
    name: &str,
    files: &[(&str, &str)],
    extra: Value,
) -> anyhow::Result<(tempfile::TempDir, String)> {
    let repo = crate::git_repo(files)?;
    let mut input =
        json!({ "name": name, "repository": { "url": crate::repo::file_url(repo.path()) } });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let id = create(client, input).await?;
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

/// The body the app answers at the stable URL the platform reports for it, through the
/// server's router. The router hears of a status change on the bus a moment after the API
/// shows it: a 503 (not running, as far as the router knows yet) is asked again, briefly.
pub async fn body(client: &Client, id: &str) -> anyhow::Result<String> {
    let url = app(client, id).await?["endpoint"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let router = client
        .router()
        .ok_or_else(|| anyhow::anyhow!("the server runs no router"))?;
    let (status, text) = eventually(Duration::from_secs(5), || async {
        let (status, text) = crate::router::get(router, &url).await?;
        Ok((status != 503).then_some((status, text)))
    })
    .await?;
    anyhow::ensure!(status == 200, "{url} answered {status}: {text}");
    Ok(text)
}

/// The own address of the instance serving the app now (`http://host:port/`), to look at it
/// past the router.
pub async fn instance_url(client: &Client, id: &str) -> anyhow::Result<String> {
    let found = instance(client, id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("nothing serves the app"))?;
    Ok(format!(
        "http://{}:{}/",
        found["host"].as_str().unwrap_or_default(),
        found["port"]
    ))
}

/// The instance serving the app now, at its own address (`instances[0]`), if any.
pub async fn instance(client: &Client, id: &str) -> anyhow::Result<Option<Value>> {
    let data = client
        .data(
            "query($id: ID!) { application(id: $id) { instances { id host port deployment } } }",
            json!({ "id": id }),
        )
        .await?;
    Ok(data["application"]["instances"]
        .as_array()
        .and_then(|i| i.first().cloned()))
}

pub async fn versioned_app(
    client: &Client,
    name: &str,
) -> anyhow::Result<(tempfile::TempDir, String)> {
    deployed(
        client,
        name,
        &[
            ("app.py", &crate::apps::versioned()),
            ("version.txt", "v1\n"),
        ],
    )
    .await
}

pub fn commit_version(repo: &Path, files: &[(&str, &str)]) -> anyhow::Result<String> {
    let r = git2::Repository::open(repo)?;
    commit(&r, repo, files, "next")
}

pub const LOGS: &str = "query($app: ID!, $dep: ID, $streams: [LogStream!], $from: String,
                          $last: String, $limit: Int, $dir: LogDirection) {
  logs(appId: $app, deployment: $dep, streams: $streams, from: $from, lastNano: $last,
       limit: $limit, direction: $dir) {
    lines { timestamp stream deployment text }
    lastNano
  }
}";

pub const FOLLOW: &str = "subscription($app: ID!, $streams: [LogStream!], $from: String) {
  logs(appId: $app, streams: $streams, from: $from) {
    __typename
    ... on LogLine { timestamp stream text }
    ... on LogsLagged { skipped first last }
  }
}";

/// `logs` in batches: the lines ready together in one message, a lagged marker first.
pub const FOLLOW_BATCHES: &str = "subscription($app: ID!, $streams: [LogStream!], $from: String) {
  logBatches(appId: $app, streams: $streams, from: $from) {
    lagged { skipped first last }
    lines { timestamp stream text }
  }
}";

pub const BUILD_LOGS: &str = "subscription($dep: ID!) {
  buildLogs(deployment: $dep) {
    __typename
    ... on LogLine { timestamp stream text }
  }
}";

pub async fn page(client: &Client, vars: Value) -> anyhow::Result<Value> {
    Ok(client.data(LOGS, vars).await?["logs"].clone())
}

/// The texts of log lines (of a [`page`]'s `lines`, or of `paas logs --json`), in order.
pub fn texts(lines: &[Value]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| l["text"].as_str().map(str::to_owned))
        .collect()
}

pub const FAST_CRASH_POLICY: &[&str] = &["--crash-restarts", "2", "--crash-backoff-ms", "200"];

/// Process records of the local runtime: `(instance id, process group)`.
pub fn records(data_dir: &std::path::Path) -> anyhow::Result<Vec<(String, i32)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(data_dir.join("logs").join("run"))? {
        let record: serde_json::Value = serde_json::from_slice(&std::fs::read(entry?.path())?)?;
        out.push((
            record["id"].as_str().unwrap_or_default().to_owned(),
            i32::try_from(record["pgid"].as_i64().unwrap_or_default())?,
        ));
    }
    Ok(out)
}

/// The local runtime's records of the app `name`'s instances: `(instance id, process group)`.
pub fn records_of(data_dir: &std::path::Path, name: &str) -> anyhow::Result<Vec<(String, i32)>> {
    let prefix = format!("{name}-");
    Ok(records(data_dir)?
        .into_iter()
        .filter(|(id, _)| id.starts_with(&prefix))
        .collect())
}

/// The process groups of the app `name`'s instances that are alive.
pub fn live_processes(data_dir: &std::path::Path, name: &str) -> anyhow::Result<Vec<i32>> {
    Ok(records_of(data_dir, name)?
        .into_iter()
        .map(|(_, pgid)| pgid)
        .filter(|pgid| nix::sys::signal::killpg(nix::unistd::Pid::from_raw(*pgid), None).is_ok())
        .collect())
}

/// Waits (up to 90 s) until the app shows `status`; returns it as [`show`] reads it.
pub async fn until_status(client: &Client, id: &str, status: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(90), || async {
        let app = show(client, id).await?;
        Ok((app["status"] == status).then_some(app))
    })
    .await
    .with_context(|| format!("app {id} never became {status}"))
}

pub const SHOW: &str = "query($id: ID!) {
  application(id: $id) {
    id name status statusReason version visibility port env { key } endpoint { url }
    instances { id host port deployment }
    repository { branch commit }
    deployments { id status commit error buildAttempts startAttempts restarts origin }
    tasks { id kind state progress error deployment startedAt endedAt }
  }
}";

pub async fn show(client: &Client, id: &str) -> anyhow::Result<Value> {
    Ok(client.data(SHOW, json!({ "id": id })).await?["application"].clone())
}

/// Waits until the app is RUNNING or FAILED and its newest task is over.
pub async fn settled(client: &Client, id: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(120), || async {
        let app = show(client, id).await?;
        let status = app["status"].as_str().unwrap_or_default();
        let task = app["tasks"][0]["state"].as_str().unwrap_or_default();
        let over = matches!(task, "SUCCEEDED" | "FAILED" | "");
        Ok((matches!(status, "RUNNING" | "FAILED") && over).then_some(app))
    })
    .await
}

/// An app's deployments, newest first, with what started each and its commit.
pub const DEPLOYMENTS: &str = "query($id: ID!) {
  application(id: $id) {
    autoDeploy
    deployments { id status commit trigger commitMessage commitAuthor }
  }
}";

/// An app's deployments, newest first (see [`DEPLOYMENTS`]).
pub async fn deployments(client: &Client, id: &str) -> anyhow::Result<Vec<Value>> {
    let data = client.data(DEPLOYMENTS, json!({ "id": id })).await?;
    Ok(data["application"]["deployments"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}

/// Waits until the app has a running deployment at `commit`; returns it.
pub async fn deployment_at(client: &Client, id: &str, commit: &str) -> anyhow::Result<Value> {
    eventually(Duration::from_secs(120), || async {
        let deps = deployments(client, id).await?;
        Ok(deps
            .into_iter()
            .find(|d| d["commit"] == commit && d["status"] == "RUNNING"))
    })
    .await
}

/// Deletes the app and waits until it is gone (`NOT_FOUND`).
pub async fn delete_app(client: &Client, id: &str) -> anyhow::Result<()> {
    let deleted = client
        .data(
            "mutation($id: ID!) { deleteApplication(id: $id) }",
            json!({ "id": id }),
        )
        .await?;
    anyhow::ensure!(deleted["deleteApplication"] == true, "{deleted}");
    eventually(Duration::from_secs(30), || async {
        let code = client.error_code(APP, json!({ "id": id })).await.ok();
        Ok((code.as_deref() == Some("NOT_FOUND")).then_some(()))
    })
    .await
    .context("the deleted app is still there")
}
