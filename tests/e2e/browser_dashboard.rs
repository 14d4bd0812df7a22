//! The web dashboard driven in headless Chromium (`tests/browser/dashboard.mjs`) against a real
//! `paas serve` with its router: sign in (a wrong token refused), create a Python app through
//! the wizard (name and repository checks visible, language shown), follow it to `RUNNING`,
//! open its URL, read its log (paged back, a new line followed live), change an env var and see
//! the restart, roll back to the first deployment, delete; a build that fails shows why; the
//! list's pages. Screenshots of the main pages, at phone width too, land in
//! `target/browser-artifacts/dashboard/`.

use anyhow::Context;
use paas_tests::apps::PythonApp;
use paas_tests::browser::run_script;
use paas_tests::repo::file_url;
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_runs_an_app_from_creation_to_deletion() -> anyhow::Result<()> {
    let server = TestApp::spawn(TestDb::Sqlite, &[]).await?;
    let alice = server.user("alice").await?;
    let token = alice.token().context("alice's token")?.to_owned();
    // Answers $GREETING and prints a line per request (the log the page reads).
    let app = PythonApp::new()
        .body("(print(\"request \" + self.path, flush=True), os.environ.get(\"GREETING\", \"hello\"))[1]")
        .source();
    let repo = git_repo(&[("app.py", &app)])?;
    let bare = git_repo(&[("README.md", "nothing to run here\n")])?;

    let out = run_script(
        "dashboard.mjs",
        &[
            ("PAAS_URL", server.url.clone()),
            ("PAAS_TOKEN", token),
            ("PAAS_REPO", file_url(repo.path())),
            ("PAAS_APP", "shown".to_owned()),
            ("PAAS_BARE_REPO", file_url(bare.path())),
            ("PAAS_BROWSER_TIMEOUT_MS", "600000".to_owned()),
        ],
    )
    .await?;
    let report: Value = serde_json::from_str(out.lines().last().context("no report")?)
        .with_context(|| format!("the script's report: {out}"))?;
    assert!(report["lines"].as_u64().is_some_and(|n| n > 30), "{report}");

    // What the page did, as the API sees it: the app is gone and its name free again.
    let after = alice
        .data(
            "query { application(name: \"shown\") { id } nameAvailable(name: \"shown\") }",
            json!({}),
        )
        .await;
    match after {
        Ok(data) => {
            assert_eq!(data["application"], Value::Null, "{data}");
            assert_eq!(data["nameAvailable"], true, "{data}");
        }
        Err(e) => assert!(e.to_string().contains("NOT_FOUND"), "{e:#}"),
    }
    Ok(())
}
