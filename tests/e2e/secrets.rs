//! Secrets at rest: env values and git tokens are sealed in the database and in the Redis cache,
//! the data dir is the server's alone, values of older versions get sealed, the key rotates
//! (`paas secrets rotate`), and a wrong key stops the start with an error naming the key.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use paas_tests::dump::{database_dump, holds, redis_dump};
use paas_tests::redis::{unique_prefix, url as redis_url};
use paas_tests::server::{open_temp_dir, paas_bin};
use paas_tests::steps::{app, deployed_with};
use paas_tests::{Client, TestDb, TestServer};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::json;

use crate::on_both_databases;

const SET_TOKEN: &str = "mutation($t: String) { setGitToken(token: $t) }";
const REDEPLOY: &str = "mutation($id: ID!) { redeployApplication(id: $id) { id status } }";

fn unique(what: &str) -> String {
    format!("{what}-{}", uuid::Uuid::now_v7().simple())
}

/// Creates the Python test app with its answer `GREETING = secret` and waits until it serves it; returns its
/// repository (kept for redeploys) and id.
async fn secret_app(
    client: &Client,
    name: &str,
    secret: &str,
) -> anyhow::Result<(tempfile::TempDir, String)> {
    deployed_with(
        client,
        name,
        &[("app.py", &paas_tests::apps::hello())],
        json!({ "env": [{ "key": "GREETING", "value": secret }] }),
    )
    .await
}

/// Redeploys the app, waiting while it is busy (a stopped server's lock lapses after its
/// lease).
async fn redeploy(client: &Client, id: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let answer = client.gql(REDEPLOY, json!({ "id": id })).await?;
        let code = &answer["errors"][0]["extensions"]["code"];
        if code.is_null() {
            return Ok(());
        }
        anyhow::ensure!(
            code == "APP_BUSY" && tokio::time::Instant::now() < deadline,
            "redeploy answered {answer}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Polls until the app is `RUNNING` and answers `expected` (after a redeploy or a restart).
async fn serves(client: &Client, id: &str, expected: &str) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        let shown = app(client, id).await?;
        if shown["status"] == "RUNNING"
            && let Ok(text) = paas_tests::steps::body(client, id).await
        {
            last = text;
            if last == expected {
                return Ok(());
            }
        } else {
            last = shown.to_string();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    anyhow::bail!("the app did not serve {expected:?}; last seen: {last}")
}

fn mode(path: &Path) -> anyhow::Result<u32> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("{} is missing", path.display()))?
        .permissions()
        .mode()
        & 0o777)
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            files_under(&entry.path(), out)?;
        } else if entry.file_type()?.is_file() {
            out.push(entry.path());
        }
    }
    Ok(())
}

async fn secrets_rest_sealed(db: TestDb) -> anyhow::Result<()> {
    let dir = open_temp_dir()?;
    let data = dir.path().join("data");
    let database_url = db.url_in(&data).await?;
    let (redis, prefix) = (redis_url(), unique_prefix());
    let env = [
        ("REDIS_URL", redis.as_str()),
        ("PAAS_REDIS_PREFIX", prefix.as_str()),
    ];
    let server = TestServer::spawn_in(&data, &database_url, &[], &env).await?;
    let alice = server.user("alice").await?;
    let (secret, token) = (unique("s3cret"), unique("ghp_token"));
    let set = alice.data(SET_TOKEN, json!({ "t": token })).await?;
    assert_eq!(set["setGitToken"], true);
    let (_repo, id) = secret_app(&alice, "sealed", &secret).await?;

    // The app got the value at run time.
    serves(&alice, &id, &secret).await?;
    // Reads go through the cache, so Redis holds the app now.
    app(&alice, &id).await?;
    alice
        .data(
            "{ applications(first: 10) { edges { node { id } } } }",
            json!({}),
        )
        .await?;

    let stored = database_dump(&database_url, &data).await?;
    assert!(holds(&stored, "paas:v1:"), "no sealed value was stored");
    for plain in [&secret, &token] {
        assert!(!holds(&stored, plain), "{plain} is in the database");
    }
    let (keys, cached) = redis_dump(&prefix).await?;
    assert!(
        keys.iter().any(|k| k.ends_with(&format!(":app:{id}"))),
        "the app was not cached: {keys:?}"
    );
    for plain in [&secret, &token] {
        assert!(!holds(&cached, plain), "{plain} is in Redis");
    }

    // The data dir is the server's alone.
    assert_eq!(mode(&data)?, 0o700, "data dir");
    assert_eq!(mode(&data.join("secret.key"))?, 0o600, "key file");
    if db == TestDb::Sqlite {
        assert_eq!(mode(&data.join("paas.db"))?, 0o600, "paas.db");
    }
    let mut files = Vec::new();
    files_under(&data, &mut files)?;
    for file in files {
        assert_eq!(mode(&file)?, 0o600, "{}", file.display());
    }
    Ok(())
}
on_both_databases!(secrets_rest_sealed);

/// The one value of `sql` (a `SELECT` of one text column of one row).
async fn one_text(database_url: &str, sql: &str) -> anyhow::Result<String> {
    let db = Database::connect(database_url).await?;
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await?
        .with_context(|| format!("no row for {sql}"))?;
    let text: String = row.try_get_by_index(0)?;
    db.close().await?;
    Ok(text)
}

async fn execute(database_url: &str, sql: &str) -> anyhow::Result<()> {
    let db = Database::connect(database_url).await?;
    db.execute_unprepared(sql).await?;
    db.close().await?;
    Ok(())
}

/// The key id in sealed text `paas:v1:<id>:…`.
fn key_id(sealed: &str) -> String {
    sealed.split(':').nth(2).unwrap_or_default().to_owned()
}

async fn older_rows_sealed_rotation_and_a_wrong_key(db: TestDb) -> anyhow::Result<()> {
    let dir = open_temp_dir()?;
    let data = dir.path().join("data");
    let database_url = db.url_in(&data).await?;
    let mut server = TestServer::spawn_in(&data, &database_url, &[], &[]).await?;
    let alice = server.user("alice").await?;
    alice
        .data(SET_TOKEN, json!({ "t": unique("ghp_first") }))
        .await?;
    let (_repo, id) = secret_app(&alice, "rotated", &unique("first")).await?;
    server.stop().await?;

    // Rows as a version before encryption wrote them: plain text.
    let (legacy, legacy_token) = (unique("legacy"), unique("ghp_legacy"));
    execute(
        &database_url,
        &format!("UPDATE applications SET env = '{{\"GREETING\":\"{legacy}\"}}'"),
    )
    .await?;
    execute(
        &database_url,
        &format!("UPDATE users SET git_token = '{legacy_token}' WHERE git_token IS NOT NULL"),
    )
    .await?;
    let mut server = TestServer::spawn_in(&data, &database_url, &[], &[]).await?;
    let alice =
        Client::new(&server.url, alice.token().map(str::to_owned)).with_router(server.router);
    let env_1 = one_text(&database_url, "SELECT env FROM applications").await?;
    let token_1 = one_text(
        &database_url,
        "SELECT git_token FROM users WHERE git_token IS NOT NULL",
    )
    .await?;
    for (sealed, plain) in [(&env_1, &legacy), (&token_1, &legacy_token)] {
        assert!(
            sealed.starts_with("paas:v1:"),
            "not sealed at start: {sealed}"
        );
        assert!(!sealed.contains(plain.as_str()));
    }
    redeploy(&alice, &id).await?;
    serves(&alice, &id, &legacy).await?;
    server.stop().await?;

    // Rotation: everything sealed again with a new key, which replaces the old one.
    let key_file = data.join("secret.key");
    let old_key = std::fs::read_to_string(&key_file)?;
    let out = tokio::process::Command::new(paas_bin()?)
        .args(["secrets", "rotate", "--data-dir"])
        .arg(&data)
        .env("DATABASE_URL", &database_url)
        .output()
        .await?;
    assert!(
        out.status.success(),
        "paas secrets rotate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let env_2 = one_text(&database_url, "SELECT env FROM applications").await?;
    let token_2 = one_text(
        &database_url,
        "SELECT git_token FROM users WHERE git_token IS NOT NULL",
    )
    .await?;
    assert_ne!(env_2, env_1, "the ciphertext did not change");
    assert_ne!(token_2, token_1);
    assert_ne!(key_id(&env_2), key_id(&env_1), "sealed with the old key");
    assert_eq!(key_id(&env_2), key_id(&token_2));
    let new_key = std::fs::read_to_string(&key_file)?;
    assert_ne!(new_key, old_key, "the key file still holds the old key");
    assert_eq!(mode(&key_file)?, 0o600);
    assert!(!data.join("secret.key.next").exists());

    // The new key alone (the old one is gone) runs the app with its value.
    let mut server = TestServer::spawn_in(&data, &database_url, &[], &[]).await?;
    let alice =
        Client::new(&server.url, alice.token().map(str::to_owned)).with_router(server.router);
    redeploy(&alice, &id).await?;
    serves(&alice, &id, &legacy).await?;
    server.stop().await?;

    // Another key: the start stops with an error naming the key the data needs.
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        paas_tests::server::serve_command(&data)?
            .env("DATABASE_URL", &database_url)
            .env("PAAS_SECRET_KEY", "ab".repeat(32))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .context("paas serve started with a wrong key")??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(&format!("sealed with key {}", key_id(&env_2)))
            && stderr.contains("not configured"),
        "{stderr}"
    );
    Ok(())
}
on_both_databases!(older_rows_sealed_rotation_and_a_wrong_key);
