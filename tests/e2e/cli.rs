//! The `paas` command-line client, run as a subprocess against a real server: login and its
//! credentials file, every app command with its `--json` output parsed, `logs -f` receiving a
//! line printed after it started and ending cleanly on Ctrl-C, and the exit codes scripts rely
//! on (1 for an app that ends FAILED, 3 for a refused token, 4 for an unknown app, 5 for a
//! server that does not answer).

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use paas_tests::apps::PythonApp;
use paas_tests::cli::CliUser;
use paas_tests::repo::file_url;
use paas_tests::steps::{commit_version, texts};
use paas_tests::{TestApp, TestDb, eventually, git_repo};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::on_both_databases;

/// Answers `<version> <GREETING> <OTHER>` and prints a line per request (`served <path>`).
fn app_files() -> Vec<(&'static str, String)> {
    let app = PythonApp::new()
        .prelude("version = open(\"version.txt\").read().strip()")
        .body(
            "(print(\"served \" + self.path, flush=True), version + \" \" + \
             os.environ.get(\"GREETING\", \"hello\") + \" \" + os.environ.get(\"OTHER\", \"-\"))[1]",
        )
        .source();
    vec![("app.py", app), ("version.txt", "v1\n".to_owned())]
}

/// What the app answers through the server's router at the URL `paas open` printed.
async fn body_at(server: &TestApp, url: &str) -> anyhow::Result<String> {
    let router = server.router.context("no router")?;
    let (status, text) = eventually(Duration::from_secs(10), || async {
        let (status, text) = paas_tests::router::get(router, url).await?;
        Ok((status != 503).then_some((status, text)))
    })
    .await?;
    anyhow::ensure!(status == 200, "{url} answered {status}: {text}");
    Ok(text)
}

/// Waits (briefly: the router hears of a switch a moment after the task ends) until the app
/// answers `expected` at `url`.
async fn answers(server: &TestApp, url: &str, expected: &str) -> anyhow::Result<()> {
    let last = std::sync::Mutex::new(String::new());
    let found = eventually(Duration::from_secs(10), || async {
        let body = body_at(server, url).await?;
        let done = body == expected;
        if let Ok(mut last) = last.lock() {
            *last = body;
        }
        Ok(done.then_some(()))
    })
    .await;
    let last = last.lock().map(|l| l.clone()).unwrap_or_default();
    found.with_context(|| format!("{url} answered {last:?}, not {expected:?}"))
}

async fn login_refusals_and_exit_codes(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let token = alice.token().context("a token")?.to_owned();
    let user = CliUser::new()?;

    // Not logged in yet: exit 3.
    let ran = user.run(&["apps"]).await?;
    assert_eq!(ran.code, Some(3), "{ran:?}");
    assert!(ran.stderr.contains("paas login"), "{}", ran.stderr);

    // A wrong token: UNAUTHENTICATED, exit 3, nothing stored.
    let ran = user.login(&server.url, "not-a-token").await?;
    assert_eq!(ran.code, Some(3), "{ran:?}");
    assert!(
        ran.stderr.starts_with("paas: UNAUTHENTICATED: "),
        "{}",
        ran.stderr
    );
    assert!(!user.credentials().exists(), "a refused token was stored");

    // The right one, piped on stdin: stored, readable by its owner only.
    let out = user.login(&server.url, &token).await?.ok()?;
    assert!(out.contains("as alice"), "{out}");
    let mode = std::fs::metadata(user.credentials())?.permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "credentials mode {mode:o}");
    let stored: toml::Table = std::fs::read_to_string(user.credentials())?.parse()?;
    assert_eq!(stored["server"].as_str(), Some(server.url.as_str()));
    assert_eq!(stored["token"].as_str(), Some(token.as_str()));
    assert_eq!(
        user.json(&["apps"]).await?["applications"],
        Value::Array(vec![])
    );

    // An unknown app: NOT_FOUND, exit 4; with --json the error is JSON on stderr.
    let ran = user.run(&["status", "nothing-here"]).await?;
    assert_eq!(ran.code, Some(4), "{ran:?}");
    assert!(
        ran.stderr.starts_with("paas: NOT_FOUND: "),
        "{}",
        ran.stderr
    );
    let ran = user.run(&["--json", "logs", "nothing-here"]).await?;
    assert_eq!(ran.code, Some(4), "{ran:?}");
    let error: Value = serde_json::from_str(ran.stderr.trim())?;
    assert_eq!(error["error"]["code"], "NOT_FOUND");

    // A wrong token given on the command line: exit 3, and a subscription refuses it too.
    let ran = user.run(&["apps", "--token", "wrong"]).await?;
    assert_eq!(ran.code, Some(3), "{ran:?}");
    assert!(
        ran.stderr.starts_with("paas: UNAUTHENTICATED: "),
        "{}",
        ran.stderr
    );

    // Nothing listening: exit 5.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };
    let ran = user
        .run(&[
            "apps",
            "--server",
            &format!("http://{closed}"),
            "--token",
            &token,
        ])
        .await?;
    assert_eq!(ran.code, Some(5), "{ran:?}");
    assert!(
        ran.stderr.starts_with("paas: UNREACHABLE: "),
        "{}",
        ran.stderr
    );

    // A usage error is clap's: exit 2.
    assert_eq!(
        user.run(&["env", "set", "web", "NOEQUALS"]).await?.code,
        Some(2)
    );

    // A followed app that ends FAILED: exit 1 with its reason; `status --watch` says the same.
    let broken = git_repo(paas_tests::apps::BROKEN_BUILD)?;
    let ran = user
        .run(&[
            "create",
            "broken",
            "--repo",
            &file_url(broken.path()),
            "--auto-deploy",
        ])
        .await?;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(ran.stdout.contains("FAILED"), "{}", ran.stdout);
    assert!(
        ran.stderr.starts_with("paas: FAILED: ") && ran.stderr.contains("SyntaxError"),
        "{}",
        ran.stderr
    );
    let ran = user.run(&["--json", "status", "broken", "--watch"]).await?;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    let shown: Value = serde_json::from_str(ran.stdout.trim())?;
    assert_eq!(shown["application"]["status"], "FAILED");
    assert_eq!(shown["application"]["autoDeploy"], true, "--auto-deploy");

    // Logged out: not logged in again.
    user.run(&["logout"]).await?.ok()?;
    assert!(!user.credentials().exists());
    assert_eq!(user.run(&["apps"]).await?.code, Some(3));
    Ok(())
}
on_both_databases!(login_refusals_and_exit_codes);

async fn an_app_through_its_life_from_the_command_line(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let user = CliUser::new()?;
    user.login(&server.url, alice.token().context("a token")?)
        .await?
        .ok()?;
    let files = app_files();
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    let repo = git_repo(&files)?;
    let repo_url = file_url(repo.path());

    // create follows the app to RUNNING: the app first, then a status change per line.
    let lines = user
        .json_lines(&[
            "create",
            "web",
            "--repo",
            &repo_url,
            "--env",
            "GREETING=hi",
            "--env",
            "OTHER=keep",
        ])
        .await?;
    assert_eq!(
        lines[0]["createApplication"]["application"]["status"],
        "PENDING"
    );
    let statuses: Vec<&str> = lines[1..]
        .iter()
        .filter_map(|l| l["status"].as_str())
        .collect();
    assert_eq!(statuses.first(), Some(&"PENDING"), "{statuses:?}");
    assert_eq!(statuses.last(), Some(&"RUNNING"), "{statuses:?}");
    assert!(statuses.contains(&"BUILDING"), "{statuses:?}");

    let listed = user.json(&["apps"]).await?;
    let web = listed["applications"]
        .as_array()
        .and_then(|apps| apps.iter().find(|a| a["name"] == "web"))
        .context("web is not listed")?;
    assert_eq!(web["status"], "RUNNING");
    let table = user.run(&["apps"]).await?.ok()?;
    assert!(table.starts_with("NAME"), "{table}");

    let shown = user.json(&["status", "web"]).await?;
    assert_eq!(shown["application"]["status"], "RUNNING");
    let url = user.run(&["open", "web"]).await?.ok()?.trim().to_owned();
    assert_eq!(shown["application"]["endpoint"]["url"], url.as_str());
    assert_eq!(user.json(&["open", "web"]).await?["url"], url.as_str());
    answers(&server, &url, "v1 hi keep").await?;

    // A page of the log holds the line of that request (it is stored a moment later).
    eventually(Duration::from_secs(20), || async {
        let page = texts(&user.json_lines(&["logs", "web", "-n", "50"]).await?);
        Ok(page.iter().any(|t| t == "served /").then_some(()))
    })
    .await
    .context("the request's line never showed in `paas logs`")?;

    // logs -f: a line printed after the command started arrives once; Ctrl-C ends with 0.
    let mut follow = user
        .command(&["--json", "logs", "web", "-f", "-n", "1"])
        .spawn()?;
    let stdout = follow.stdout.take().context("stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .context("logs -f printed nothing")??
        .context("logs -f ended")?;
    let mut seen = vec![serde_json::from_str::<Value>(&first)?];
    body_at(&server, &format!("{url}after-start")).await?;
    tokio::time::timeout(Duration::from_secs(30), async {
        while !texts(&seen).iter().any(|t| t == "served /after-start") {
            let line = lines.next_line().await?.context("logs -f ended")?;
            seen.push(serde_json::from_str(&line)?);
        }
        anyhow::Ok(())
    })
    .await
    .context("the new line never reached logs -f")??;
    let stamps: std::collections::HashSet<&str> = seen
        .iter()
        .filter_map(|l| l["timestamp"].as_str())
        .collect();
    assert_eq!(stamps.len(), seen.len(), "a line came twice: {seen:?}");
    let pid = follow.id().context("pid")?;
    kill(Pid::from_raw(i32::try_from(pid)?), Signal::SIGINT)?;
    let status = tokio::time::timeout(Duration::from_secs(10), follow.wait()).await??;
    assert_eq!(status.code(), Some(0), "logs -f after Ctrl-C: {status:?}");

    // The build log of the latest deployment, to its end.
    let build = user.json_lines(&["logs", "web", "--build"]).await?;
    assert!(
        build
            .iter()
            .all(|l| matches!(l["stream"].as_str(), Some("BUILD" | "SYSTEM")))
    );
    assert!(
        texts(&build).iter().any(|t| t.starts_with("cloning ")),
        "{build:?}"
    );

    let shown_v1_commit =
        user.json(&["status", "web"]).await?["application"]["deployments"][0]["commit"]
            .as_str()
            .context("a commit")?
            .to_owned();

    // deploy after a new commit: the new version answers.
    let v2 = commit_version(repo.path(), &[("version.txt", "v2\n")])?;
    let started = user.json_lines(&["deploy", "web", "--no-wait"]).await?;
    assert_eq!(started.len(), 1, "--no-wait follows nothing: {started:?}");
    assert_eq!(started[0]["redeployApplication"]["name"], "web");
    // status --watch follows the deploy under way to its end: the app first, then its changes.
    let watched = user.json_lines(&["status", "web", "--watch"]).await?;
    assert_eq!(watched[0]["application"]["name"], "web", "{watched:?}");
    assert!(
        watched[1..]
            .iter()
            .all(|change| change["status"].is_string()),
        "{watched:?}"
    );
    // It ended with the deploy: the task is over and the new deployment runs.
    let shown = user.json(&["status", "web"]).await?;
    let task = &shown["application"]["tasks"][0];
    assert_eq!(task["kind"], "DEPLOY", "{shown}");
    assert_eq!(task["state"], "SUCCEEDED", "{shown}");
    assert_eq!(
        shown["application"]["deployments"][0]["commit"],
        v2.as_str()
    );
    assert_eq!(shown["application"]["deployments"][0]["status"], "RUNNING");
    answers(&server, &url, "v2 hi keep").await?;

    // rollback (to the deployment before): v1 again.
    user.json_lines(&["rollback", "web"]).await?;
    answers(&server, &url, "v1 hi keep").await?;

    // env set and unset: the app restarts with the change, the other variable is kept.
    user.json_lines(&["env", "set", "web", "GREETING=bye"])
        .await?;
    answers(&server, &url, "v1 bye keep").await?;
    let keys = user.json(&["env", "list", "web"]).await?;
    assert_eq!(
        keys["env"],
        serde_json::json!([{"key": "GREETING"}, {"key": "OTHER"}])
    );
    user.json_lines(&["env", "unset", "web", "OTHER"]).await?;
    answers(&server, &url, "v1 bye -").await?;
    let keys = user.json(&["env", "list", "web"]).await?;
    assert_eq!(keys["env"], serde_json::json!([{"key": "GREETING"}]));
    // The build log is the one of the image that runs: v1's build (env changes and the
    // rollback built nothing).
    let build = user.json_lines(&["logs", "web", "--build"]).await?;
    let first = texts(&build)
        .into_iter()
        .find(|t| t.starts_with("building "));
    let v1 = shown_v1_commit.as_str();
    assert!(
        first.as_deref().is_some_and(|t| t.contains(v1)),
        "{build:?}"
    );

    // rollback again: past the env changes (same build), to the newest other build, v2.
    user.json_lines(&["rollback", "web"]).await?;
    answers(&server, &url, "v2 bye -").await?;

    // restart: a new instance, same answer.
    let before = user.json(&["status", "web"]).await?["application"]["instances"][0]["id"].clone();
    user.json_lines(&["restart", "web"]).await?;
    let after = user.json(&["status", "web"]).await?["application"]["instances"][0]["id"].clone();
    assert_ne!(before, after, "restart kept the instance");
    answers(&server, &url, "v2 bye -").await?;

    // delete: refused without --yes where nobody can confirm; gone with it.
    let ran = user.run(&["delete", "web"]).await?;
    assert_eq!(ran.code, Some(2), "{ran:?}");
    assert!(ran.stderr.contains("--yes"), "{}", ran.stderr);
    assert_eq!(
        user.json(&["status", "web"]).await?["application"]["name"],
        "web"
    );
    let deleted = user.json(&["delete", "web", "--yes"]).await?;
    assert_eq!(deleted["deleteApplication"], true);
    assert_eq!(user.run(&["status", "web"]).await?.code, Some(4));
    Ok(())
}
on_both_databases!(an_app_through_its_life_from_the_command_line);
