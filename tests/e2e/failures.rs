//! Failures: a user's broken build is failed at once, an app that will not start is failed after
//! three starts.

use paas_tests::apps::BROKEN_BUILD;
use paas_tests::repo::file_url;
use paas_tests::steps::{app, create, statuses_until_settled};
use paas_tests::{TestApp, TestDb, git_repo};
use serde_json::json;

use crate::on_both_databases;

async fn failing_build_is_not_retried(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(BROKEN_BUILD)?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "broken", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "FAILED"]);

    let shown = app(&alice, &id).await?;
    let reason = shown["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("SyntaxError: unexpected token"),
        "reason: {reason}"
    );
    let dep = &shown["deployments"][0];
    assert_eq!(dep["status"], "FAILED");
    assert_eq!(dep["buildAttempts"], 1, "a user fault is never retried");
    let log = dep["buildLog"].as_str().unwrap_or_default();
    assert!(log.contains("cloning file://"), "{log}");
    assert!(log.contains("as NODE"), "{log}");
    assert!(log.contains("$ npm run build"), "{log}");
    assert!(
        log.contains("SyntaxError: unexpected token in app.js"),
        "{log}"
    );
    assert_eq!(dep["startAttempts"], 0);
    Ok(())
}
on_both_databases!(failing_build_is_not_retried);

async fn app_that_exits_fails_after_three_starts(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[(
        "app.py",
        "import sys\nprint('missing DATABASE_URL', file=sys.stderr)\nsys.exit(3)\n",
    )])?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "crashy", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen, ["PENDING", "BUILDING", "STARTING", "FAILED"]);

    let shown = app(&alice, &id).await?;
    let reason = shown["statusReason"].as_str().unwrap_or_default();
    assert!(reason.contains("after 3 attempts"), "reason: {reason}");
    assert!(reason.contains("code 3"), "reason: {reason}");
    assert!(reason.contains("missing DATABASE_URL"), "reason: {reason}");
    let dep = &shown["deployments"][0];
    assert_eq!(dep["startAttempts"], 3);
    assert_eq!(dep["buildAttempts"], 1);
    Ok(())
}
on_both_databases!(app_that_exits_fails_after_three_starts);

async fn undetectable_language_is_a_clear_failure(db: TestDb) -> anyhow::Result<()> {
    let repo = git_repo(&[("README.md", "nothing to run here\n")])?;
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let id = create(
        &alice,
        json!({ "name": "docs", "repository": { "url": file_url(repo.path()) } }),
    )
    .await?;
    let seen = statuses_until_settled(&alice, &id).await?;
    assert_eq!(seen.last().map(String::as_str), Some("FAILED"));
    let shown = app(&alice, &id).await?;
    let reason = shown["statusReason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("could not tell the app's language"),
        "reason: {reason}"
    );
    Ok(())
}
on_both_databases!(undetectable_language_is_a_clear_failure);
