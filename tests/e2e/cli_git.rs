//! The `paas` client's git commands against a real server: `paas webhook` prints a full URL and
//! a secret that a signed delivery is accepted with (again: a new pair, the old URL refused;
//! `--delete` removes it), and `paas git-token` + `paas repos` list the repositories a git
//! host's API shows (an HTTP server of the test speaking GitHub's documented JSON), newest
//! update first, with the host's refusals as exit 1 and their code.

use anyhow::Context;
use chrono::{Duration, TimeZone, Utc};
use paas_core::hooks::sign;
use paas_tests::apps::hello;
use paas_tests::cli::CliUser;
use paas_tests::git_hosts::{FakeGitHost, FakeRepo, Flavor};
use paas_tests::repo::file_url;
use paas_tests::{TestApp, TestDb, git_repo};

use crate::on_both_databases;

/// A GitHub `ping` delivery to `url`, signed with `secret`: the answer's status.
async fn ping(url: &str, secret: &str) -> anyhow::Result<u16> {
    let body = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#.to_vec();
    let answer = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-GitHub-Event", "ping")
        .header("X-GitHub-Delivery", uuid::Uuid::new_v4().to_string())
        .header(
            "X-Hub-Signature-256",
            format!("sha256={}", sign(secret, &body)),
        )
        .body(body)
        .send()
        .await?;
    Ok(answer.status().as_u16())
}

async fn webhooks_and_repositories_from_the_command_line(db: TestDb) -> anyhow::Result<()> {
    let server = TestApp::spawn(db, &[]).await?;
    let alice = server.user("alice").await?;
    let token = alice.token().context("a token")?.to_owned();
    let user = CliUser::new()?;
    user.login(&server.url, &token).await?.ok()?;
    let repo = git_repo(&[("app.py", &hello())])?;
    let url = file_url(repo.path());
    user.run(&["create", "hooked", "--repo", &url, "--no-wait"])
        .await?
        .ok()?;

    // A webhook: the full URL on this server and its secret, which a signed ping passes.
    let made = user.json(&["webhook", "hooked"]).await?;
    let hook_url = made["url"].as_str().context("a url")?.to_owned();
    let secret = made["secret"].as_str().context("a secret")?.to_owned();
    assert!(
        hook_url.starts_with(&format!("{}/hooks/git/", server.url)),
        "{hook_url}"
    );
    assert_eq!(ping(&hook_url, &secret).await?, 200);
    assert_eq!(ping(&hook_url, "not-the-secret").await?, 401);

    // Again: a new URL and secret; the old pair is refused. People get words, not JSON.
    let out = user.run(&["webhook", "hooked"]).await?.ok()?;
    assert!(out.contains("URL:") && out.contains("Secret:"), "{out}");
    assert!(!out.contains(&secret), "the old secret was shown again");
    assert_eq!(ping(&hook_url, &secret).await?, 401);
    let shown = alice
        .data(
            "query($n: String!) { application(name: $n) { webhook { url } } }",
            serde_json::json!({ "n": "hooked" }),
        )
        .await?;
    let new_path = shown["application"]["webhook"]["url"]
        .as_str()
        .context("a webhook")?
        .to_owned();
    assert!(out.contains(&format!("{}{new_path}", server.url)), "{out}");

    // Removed: gone from the app; removing again says so.
    assert_eq!(
        user.json(&["webhook", "hooked", "--delete"]).await?["deleted"],
        true
    );
    assert_eq!(
        user.json(&["webhook", "hooked", "--delete"]).await?["deleted"],
        false
    );
    assert_eq!(user.run(&["webhook", "nothing-here"]).await?.code, Some(4));

    // Repositories: none until a token is stored.
    let ran = user.run(&["repos"]).await?;
    assert_eq!(ran.code, Some(1), "{ran:?}");
    assert!(
        ran.stderr.contains("GIT_HOST_NOT_CONFIGURED"),
        "{}",
        ran.stderr
    );
    let start = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .context("a time")?;
    let fixture: Vec<FakeRepo> = (0..120i64)
        .map(|i| FakeRepo {
            full_name: format!("octo/repo-{i:03}"),
            private: i % 2 == 1,
            updated_at: start + Duration::hours((i * 37) % 120),
            clone_url: format!("https://git.example/octo/repo-{i:03}.git"),
            branches: vec![("main".into(), format!("{:040x}", i + 1), start)],
        })
        .collect();
    let github = FakeGitHost::start(Flavor::GitHub, "ghp_alice", fixture.clone()).await?;
    let base = github.base_url();
    let stored = user
        .run_with_stdin(
            &["git-token", "github", "--base-url", &base],
            Some("ghp_alice\n"),
        )
        .await?
        .ok()?;
    assert!(stored.contains("Stored"), "{stored}");
    assert!(!stored.contains("ghp_alice"), "the token was printed");

    // 105 of them, across the host's pages and ours, newest update first.
    let mut newest = fixture.clone();
    newest.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    let listed = user.json(&["repos", "-n", "105"]).await?;
    let names: Vec<&str> = listed["repositories"]
        .as_array()
        .context("repositories")?
        .iter()
        .filter_map(|r| r["fullName"].as_str())
        .collect();
    let want: Vec<&str> = newest
        .iter()
        .take(105)
        .map(|r| r.full_name.as_str())
        .collect();
    assert_eq!(names, want);
    let table = user
        .run(&["repos", "--search", "repo-01", "-n", "3"])
        .await?
        .ok()?;
    let rows: Vec<&str> = table.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{table}");
    assert!(table.starts_with("REPOSITORY"), "{table}");
    assert!(rows.iter().all(|r| r.contains("octo/repo-01")), "{table}");

    // A bad flag is a usage error before anything is sent; removal works.
    assert_eq!(
        user.run(&["repos", "--provider", "gitlab"]).await?.code,
        Some(2)
    );
    user.run(&["git-token", "github", "--remove"]).await?.ok()?;
    let ran = user.run(&["repos"]).await?;
    assert!(
        ran.stderr.contains("GIT_HOST_NOT_CONFIGURED"),
        "{}",
        ran.stderr
    );
    Ok(())
}
on_both_databases!(webhooks_and_repositories_from_the_command_line);
