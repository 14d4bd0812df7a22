//! The git provider (the `git` client as a child process) against real repositories on disk.

use paas_core::Error;
use paas_core::git::cli::GitCli;
use paas_core::git::{GitLimits, GitProvider};
use paas_core::model::{Branch, CommitId, GitUrl, SourcePolicy};
use paas_tests::git_repo;
use paas_tests::repo::{commit, file_url};

fn git_cli() -> GitCli {
    GitCli::new(GitLimits::default(), SourcePolicy::default())
}

fn url(dir: &std::path::Path) -> anyhow::Result<GitUrl> {
    Ok(GitUrl::parse(&file_url(dir), SourcePolicy::default())?)
}

#[tokio::test]
async fn check_finds_default_branch_branches_and_heads() -> anyhow::Result<()> {
    let dir = git_repo(&[("app.py", "print(1)\n")])?;
    let repo = git2::Repository::open(dir.path())?;
    let head = repo.head()?.peel_to_commit()?;
    repo.branch("feature/x", &head, false)?;
    let git = git_cli();

    let c = git.check(&url(dir.path())?, None, None).await?;
    assert!(c.exists && c.branch_exists);
    assert_eq!(c.default_branch, Some(Branch::parse("main")?));
    assert_eq!(c.head, Some(CommitId::parse(&head.id().to_string())?));

    let c = git
        .check(&url(dir.path())?, Some(&Branch::parse("feature/x")?), None)
        .await?;
    assert!(c.branch_exists);
    let c = git
        .check(&url(dir.path())?, Some(&Branch::parse("nope")?), None)
        .await?;
    assert!(!c.branch_exists);
    assert_eq!(c.head, None);
    Ok(())
}

#[tokio::test]
async fn a_missing_repository_is_repo_not_found() -> anyhow::Result<()> {
    let gone = GitUrl::parse("file:///nonexistent/paas/repo", SourcePolicy::default())?;
    let r = git_cli().check(&gone, None, None).await;
    assert!(matches!(r, Err(Error::RepoNotFound(_))), "{r:?}");
    Ok(())
}

#[tokio::test]
async fn clone_at_head_or_at_a_pinned_commit() -> anyhow::Result<()> {
    let dir = git_repo(&[("version.txt", "one\n")])?;
    let repo = git2::Repository::open(dir.path())?;
    let first = repo.head()?.peel_to_commit()?.id().to_string();
    let second = commit(&repo, dir.path(), &[("version.txt", "two\n")], "second")?;
    let git = git_cli();
    let main = Branch::parse("main")?;

    let out = tempfile::tempdir()?;
    let got = git
        .clone_at(&url(dir.path())?, &main, None, &out.path().join("a"), None)
        .await?;
    assert_eq!(got.as_str(), second);
    assert_eq!(
        std::fs::read_to_string(out.path().join("a/version.txt"))?,
        "two\n"
    );

    let pinned = CommitId::parse(&first)?;
    let got = git
        .clone_at(
            &url(dir.path())?,
            &main,
            Some(&pinned),
            &out.path().join("b"),
            None,
        )
        .await?;
    assert_eq!(got.as_str(), first);
    assert_eq!(
        std::fs::read_to_string(out.path().join("b/version.txt"))?,
        "one\n"
    );
    Ok(())
}

#[tokio::test]
async fn private_repositories_need_the_token() -> anyhow::Result<()> {
    use paas_core::model::Secret;
    use paas_tests::git_http::PrivateGitServer;

    let work = git_repo(&[("app.py", "print(1)\n")])?;
    let root = tempfile::tempdir()?;
    git2::Repository::clone(&file_url(work.path()), root.path().join("app.git"))?;
    let server = PrivateGitServer::start(root.path(), "s3cret-token").await?;
    let url = GitUrl::parse(&server.url("app.git"), SourcePolicy::default())?;
    let git = git_cli();

    let r = git.check(&url, None, None).await;
    assert!(matches!(r, Err(Error::RepoNotFound(_))), "no token: {r:?}");
    let wrong = Secret::new("wrong");
    let r = git.check(&url, None, Some(&wrong)).await;
    assert!(
        matches!(r, Err(Error::RepoNotFound(_))),
        "wrong token: {r:?}"
    );

    let token = Secret::new("s3cret-token");
    let c = git.check(&url, None, Some(&token)).await?;
    assert!(c.exists && c.branch_exists, "{c:?}");
    let out = tempfile::tempdir()?;
    let main = Branch::parse("main")?;
    git.clone_at(&url, &main, None, &out.path().join("co"), Some(&token))
        .await?;
    assert!(out.path().join("co/app.py").is_file());
    Ok(())
}
