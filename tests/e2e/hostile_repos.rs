//! Hostile repositories: no repository, however made, takes the API down. Each one of the corpus
//! (tests/support/hostile.rs) is looked at with `repository(url:)`, created with
//! `createApplication`, and one is detached after its app was created and then redeployed; over
//! `file://` and over smart HTTP. Each gets a typed error, or, where it is merely odd, a correct
//! answer; the server answers `/healthz` and is still running after the whole corpus.

use std::path::Path;
use std::time::Duration;

use paas_tests::apps::{PythonApp, versioned};
use paas_tests::git_http::PrivateGitServer;
use paas_tests::repo::file_url;
use paas_tests::steps::{CREATE, app, body, create, statuses_until_settled};
use paas_tests::{Client, TestDb, TestServer, hostile};
use serde_json::{Value, json};

use crate::on_both_databases;

const CHECK: &str = "query($u: String!, $b: String) {
  repository(url: $u, branch: $b) { exists defaultBranch branchExists }
}";
const REDEPLOY: &str = "mutation($id: ID!) { redeployApplication(id: $id) { id } }";

/// Answers what its checkout lets it read: the symbolic links (if they were followed, the
/// server's secret) and the submodule's file (if it was fetched).
fn probe_app() -> String {
    PythonApp::new()
        .prelude(
            "def read(path):\n    try:\n        with open(path) as f:\n            return f.read().strip()\n    except OSError:\n        return \"none\"",
        )
        .body("\"link=%s;up=%s;sub=%s\" % (read(\"link\"), read(\"up\"), read(\"sub/secret.txt\"))")
        .source()
}

/// Repositories whose `HEAD` names no usable branch.
const NO_DEFAULT_BRANCH: [&str; 6] = [
    "detached",
    "empty",
    "no-branches",
    "head-missing",
    "symref-loop",
    "huge-refs",
];

/// Builds the corpus under one root (served as is over HTTP); returns the secret's path.
fn corpus(root: &Path) -> anyhow::Result<std::path::PathBuf> {
    let p = |n: &str| root.join(n);
    let secret = root.join("secret.txt");
    std::fs::write(&secret, "server secret")?;
    let probe = probe_app();
    let probe: &[(&str, &str)] = &[("app.py", &probe)];
    hostile::detached_head(&p("detached"), probe)?;
    hostile::empty(&p("empty"))?;
    hostile::no_branches(&p("no-branches"), probe)?;
    hostile::head_to_missing_ref(&p("head-missing"), probe)?;
    hostile::symref_loop(&p("symref-loop"), probe)?;
    hostile::huge_ref_names(&p("huge-refs"), probe)?;
    hostile::many_refs(&p("many-refs"), probe, 5000)?;
    hostile::submodule_to_file(&p("submodule"), probe, &p("private"))?;
    hostile::symlinks_out(&p("symlinks"), probe, &secret)?;
    hostile::packfile_bomb(&p("bomb"), probe, 4096)?;
    hostile::repo(
        &p("redeploy"),
        &[("app.py", &versioned()), ("version.txt", "v1\n")],
    )?;
    Ok(secret)
}

async fn check(client: &Client, url: &str, branch: Option<&str>) -> anyhow::Result<Value> {
    Ok(client.data(CHECK, json!({ "u": url, "b": branch })).await?["repository"].clone())
}

async fn refused(
    client: &Client,
    name: &str,
    url: &str,
    branch: Option<&str>,
) -> anyhow::Result<String> {
    let repository = match branch {
        Some(b) => json!({ "url": url, "branch": b }),
        None => json!({ "url": url }),
    };
    client
        .error_code(
            CREATE,
            json!({ "input": { "name": name, "repository": repository } }),
        )
        .await
}

/// Waits until the app's newest deployment is settled; returns the app.
async fn newest_settled(client: &Client, id: &str) -> anyhow::Result<Value> {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let shown = app(client, id).await?;
            if matches!(
                shown["deployments"][0]["status"].as_str(),
                Some("RUNNING" | "FAILED")
            ) {
                return Ok(shown);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await?
}

async fn hostile_repositories_get_typed_answers_and_the_server_stays_up(
    db: TestDb,
) -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let secret = corpus(root.path())?;
    let git = PrivateGitServer::start_public(root.path()).await?;
    let mut server = TestServer::spawn(db, &["--git-clone-max-mb", "8"]).await?;
    let alice = server.user("alice").await?;
    let transports = [
        ("file", file_url(root.path())),
        ("http", git.url("").trim_end_matches('/').to_owned()),
    ];

    let mut running = Vec::new();
    let mut bombs = Vec::new();
    let mut redeploys = Vec::new();
    for (transport, base) in &transports {
        let url = |name: &str| format!("{base}/{name}");
        let at = |name: &str| format!("{name} over {transport}");

        for name in NO_DEFAULT_BRANCH {
            let seen = check(&alice, &url(name), None).await?;
            assert_eq!(
                seen,
                json!({ "exists": true, "defaultBranch": null, "branchExists": false }),
                "{}",
                at(name)
            );
            let code = refused(&alice, &format!("{name}-{transport}"), &url(name), None).await?;
            assert_eq!(code, "NO_DEFAULT_BRANCH", "{}", at(name));
        }
        for (name, branch, exists) in [
            ("detached", "main", true),
            ("head-missing", "main", true),
            ("symref-loop", "main", true),
            ("symref-loop", "a", false),
            ("huge-refs", "main", true),
            ("empty", "main", false),
            ("no-branches", "main", false),
            ("many-refs", "b-4999", true),
            ("many-refs", "b-5000", false),
        ] {
            let seen = check(&alice, &url(name), Some(branch)).await?;
            assert_eq!(seen["branchExists"], exists, "{} at {branch}", at(name));
        }
        for (name, branch) in [("empty", "main"), ("symref-loop", "a")] {
            let code = refused(
                &alice,
                &format!("x-{name}-{transport}"),
                &url(name),
                Some(branch),
            )
            .await?;
            assert_eq!(code, "BRANCH_NOT_FOUND", "{}", at(name));
        }
        let long = hostile::long_branch_name(4000);
        let code = refused(
            &alice,
            &format!("long-{transport}"),
            &url("huge-refs"),
            Some(&long),
        )
        .await?;
        assert_eq!(code, "INVALID_BRANCH");
        let code = refused(
            &alice,
            &format!("gone-{transport}"),
            &url("nothing-here"),
            None,
        )
        .await?;
        assert_eq!(code, "REPO_NOT_FOUND");

        // Odd but valid: a correct answer, and an app that runs.
        for name in ["many-refs", "submodule", "symlinks", "bomb"] {
            let seen = check(&alice, &url(name), None).await?;
            assert_eq!(
                seen,
                json!({ "exists": true, "defaultBranch": "main", "branchExists": true }),
                "{}",
                at(name)
            );
            let id = create(
                &alice,
                json!({ "name": format!("{name}-{transport}"), "repository": { "url": url(name) } }),
            )
            .await?;
            if name == "bomb" {
                bombs.push((at(name), id));
            } else {
                running.push((at(name), name, id));
            }
        }
        let id = create(
            &alice,
            json!({ "name": format!("redeploy-{transport}"), "repository": { "url": url("redeploy") } }),
        )
        .await?;
        redeploys.push((at("redeploy"), id));
    }

    for (what, name, id) in &running {
        let seen = statuses_until_settled(&alice, id).await?;
        assert_eq!(
            seen.last().map(String::as_str),
            Some("RUNNING"),
            "{what}: {seen:?}"
        );
        let expected = match *name {
            // The links are plain files holding their target: nothing outside was read.
            "symlinks" => format!(
                "link={};up=../../../../../../../../etc/passwd;sub=none",
                secret.display()
            ),
            // The submodule (a file:// repository on the server's disk) was never fetched.
            _ => "link=none;up=none;sub=none".to_owned(),
        };
        assert_eq!(body(&alice, id).await?, expected, "{what}");
    }
    for (what, id) in &bombs {
        let seen = statuses_until_settled(&alice, id).await?;
        assert_eq!(
            seen.last().map(String::as_str),
            Some("FAILED"),
            "{what}: {seen:?}"
        );
        let shown = app(&alice, id).await?;
        let reason = shown["statusReason"].as_str().unwrap_or_default();
        assert!(reason.contains("too large"), "{what}: {reason}");
    }

    // The owner detaches HEAD (at an older commit) after the apps were created; the next
    // redeploy follows the app's branch as before.
    for (what, id) in &redeploys {
        let seen = statuses_until_settled(&alice, id).await?;
        assert_eq!(
            seen.last().map(String::as_str),
            Some("RUNNING"),
            "{what}: {seen:?}"
        );
    }
    let repo = root.path().join("redeploy");
    std::fs::write(repo.join("version.txt"), "v2\n")?;
    hostile::git(&repo, &["commit", "-qam", "v2"])?;
    hostile::git(&repo, &["checkout", "-q", "--detach", "HEAD~1"])?;
    for (what, id) in &redeploys {
        alice.data(REDEPLOY, json!({ "id": id })).await?;
        let shown = newest_settled(&alice, id).await?;
        assert_eq!(
            shown["deployments"][0]["status"], "RUNNING",
            "{what}: {shown}"
        );
        // The router switches on the bus, a moment after the API shows the deployment live.
        let answered = paas_tests::eventually(std::time::Duration::from_secs(10), || async {
            Ok((body(&alice, id).await? == "v2").then_some(()))
        })
        .await;
        assert!(answered.is_ok(), "{what}: the router never answered v2");
    }

    let health = reqwest::get(format!("{}/healthz", server.url)).await?;
    assert!(health.status().is_success(), "healthz: {}", health.status());
    assert!(server.alive(), "the server died");
    Ok(())
}
on_both_databases!(hostile_repositories_get_typed_answers_and_the_server_stays_up);

/// The server reads repositories with the git client; without one it does not start, and says
/// what is missing.
#[tokio::test]
async fn the_server_does_not_start_without_git() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let no_git = dir.path().join("bin");
    std::fs::create_dir(&no_git)?;
    let out = tokio::time::timeout(
        Duration::from_secs(30),
        paas_tests::server::serve_command(&dir.path().join("data"))?
            .env("PATH", &no_git)
            .env_remove("DATABASE_URL")
            .env("RUST_BACKTRACE", "0")
            .kill_on_drop(true)
            .output(),
    )
    .await??;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "started without git: {stderr}");
    assert!(
        stderr.contains("`git` was not found on PATH"),
        "unclear error: {stderr}"
    );
    Ok(())
}
