//! Apps on the local runtime of a server run as root cannot read the server's data, another
//! app's files or the server's environment: each runs as its own user, in bubblewrap where it
//! works, or with the user switch alone.

use std::path::{Path, PathBuf};

use anyhow::Context;

use paas_tests::apps::PythonApp;
use paas_tests::steps::{app, body, deployed};
use paas_tests::{Client, TestDb, TestServer};
use serde_json::{Value, json};

/// Answers, as JSON, its uid and what became of reading each of `TARGETS`: `ok: <content>` or
/// `refused: <error>`.
fn prober() -> String {
    PythonApp::new()
        .prelude(
            r#"import json
TARGETS = json.loads(open("targets.json").read())
def probe(p):
    try:
        return "ok: " + " ".join(os.listdir(p))
    except NotADirectoryError:
        pass
    except Exception as e:
        return "refused: " + type(e).__name__
    try:
        with open(p, "rb") as f:
            # Environments whole (the test looks for the server's marker), the rest in brief.
            return "ok: " + f.read(65536 if p.endswith("environ") else 64).decode("latin-1")
    except Exception as e:
        return "refused: " + type(e).__name__
def seen():
    out = {t: probe(t) for t in TARGETS}
    out["uid"] = os.getuid()
    return json.dumps(out)"#,
        )
        .body("seen()")
        .local_only()
        .source()
}

/// A plain app whose checkout the prober tries to read.
fn victim_app() -> String {
    PythonApp::new().local_only().source()
}

/// Where the app's live deployment was built, as its build log says.
async fn checkout(client: &Client, id: &str) -> anyhow::Result<PathBuf> {
    let shown = app(client, id).await?;
    let log = shown["deployments"][0]["buildLog"]
        .as_str()
        .unwrap_or_default();
    log.lines()
        .find_map(|l| l.strip_prefix("build finished: "))
        .map(PathBuf::from)
        .with_context(|| format!("no checkout in the build log: {log}"))
}

async fn apps_cannot_read_the_server_or_each_other(
    args: &[&str],
    sandboxed: bool,
) -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped: apps switch users only when the server runs as root");
        return Ok(());
    }
    let marker = format!("server-only-{}", uuid::Uuid::now_v7().simple());
    let server =
        TestServer::spawn_with_env(TestDb::Sqlite, args, &[("PAAS_TEST_MARKER", &marker)]).await?;
    let alice = server.user("alice").await?;
    let (_victim_repo, victim) = deployed(&alice, "victim", &[("app.py", &victim_app())]).await?;
    let victim_dir = checkout(&alice, &victim).await?;
    assert!(
        victim_dir.join("app.py").is_file(),
        "the victim's checkout is not at {}",
        victim_dir.display()
    );
    let server_pid = server.pid().unwrap_or_default();
    let data = &server.data_dir;
    let targets = [
        data.join("paas.db"),
        data.join("secret.key"),
        data.to_path_buf(),
        victim_dir.clone(),
        victim_dir.join("app.py"),
        Path::new(&format!("/proc/{server_pid}/environ")).to_path_buf(),
    ]
    .map(|p| p.display().to_string());
    let mut all_targets = targets.to_vec();
    all_targets.push("/proc/1/environ".into());
    let (_prober_repo, prober) = deployed(
        &alice,
        "prober",
        &[
            ("app.py", &prober()),
            ("targets.json", &serde_json::to_string(&all_targets)?),
        ],
    )
    .await?;

    let seen: Value = serde_json::from_str(&body(&alice, &prober).await?)?;
    assert_ne!(seen["uid"], json!(0), "the app runs as root");
    for target in &targets {
        let result = seen[target].as_str().unwrap_or_default();
        let brief: String = result.chars().take(200).collect();
        assert!(
            result.starts_with("refused"),
            "the app read {target}: {brief}"
        );
    }
    if sandboxed {
        // In its own PID namespace the server's process does not even exist.
        let server_env = &targets[targets.len() - 1];
        assert_eq!(seen[server_env], "refused: FileNotFoundError", "{seen}");
    }
    // PID 1 is the sandbox's own (its environment is the app's) or init's (closed to apps).
    let init = seen["/proc/1/environ"].as_str().unwrap_or_default();
    assert!(
        init.starts_with("refused") || !init.contains(&marker),
        "the app read the server's environment through /proc/1: {init}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_isolated_in_the_sandbox() -> anyhow::Result<()> {
    let sandboxed = std::path::Path::new("/usr/bin/bwrap").exists();
    if !sandboxed {
        eprintln!("bubblewrap is not installed: apps run as their own users alone");
    }
    apps_cannot_read_the_server_or_each_other(&[], sandboxed).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apps_are_isolated_by_their_users_alone() -> anyhow::Result<()> {
    apps_cannot_read_the_server_or_each_other(&["--no-sandbox"], false).await
}
