//! Watching a branch with the git provider's poll, against real repositories on disk: heads are
//! told once each, with their message and author; other branches' commits are not. (The
//! poll's rules, backoff included, are unit tests of `git::poll`.)

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use paas_core::git::cli::GitCli;
use paas_core::git::poll::PollEvery;
use paas_core::git::{GitLimits, GitProvider, WatchTarget};
use paas_core::model::{Branch, CommitId, GitUrl, SourcePolicy};
use paas_tests::git_repo;
use paas_tests::repo::{commit, file_url};

fn watch(
    dir: &std::path::Path,
) -> anyhow::Result<futures::stream::BoxStream<'static, paas_core::git::NewHead>> {
    let local = SourcePolicy { allow_local: true };
    let git: Arc<dyn GitProvider> = Arc::new(GitCli::new(GitLimits::default(), local));
    let target = WatchTarget {
        url: GitUrl::parse(&file_url(dir), local)?,
        branch: Branch::parse("main")?,
        token: None,
    };
    Ok(git.watch(target, PollEvery::new(Duration::from_millis(20))))
}

/// The next head told, within a bound far above the poll interval.
async fn next(
    heads: &mut futures::stream::BoxStream<'static, paas_core::git::NewHead>,
) -> anyhow::Result<paas_core::git::NewHead> {
    tokio::time::timeout(Duration::from_secs(30), heads.next())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the watch ended"))
}

#[tokio::test]
async fn heads_are_told_once_each_with_message_and_author() -> anyhow::Result<()> {
    let dir = git_repo(&[("a.txt", "1\n")])?;
    let repo = git2::Repository::open(dir.path())?;
    let first = repo.head()?.peel_to_commit()?.id().to_string();
    let mut heads = watch(dir.path())?;

    let seen = next(&mut heads).await?;
    assert!(seen.first);
    assert_eq!(seen.head.commit, CommitId::parse(&first)?);
    assert_eq!(seen.head.message.as_deref(), Some("initial"));
    assert_eq!(
        seen.head.author.as_deref(),
        Some("paas test <test@paas.invalid>")
    );

    // A commit on another branch, then one on main: only main's is told.
    let head = repo.head()?.peel_to_commit()?;
    repo.branch("other", &head, false)?;
    repo.set_head("refs/heads/other")?;
    commit(&repo, dir.path(), &[("b.txt", "2\n")], "elsewhere")?;
    repo.set_head("refs/heads/main")?;
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))?;
    let second = commit(&repo, dir.path(), &[("c.txt", "3\n")], "Second\n\nbody")?;
    let seen = next(&mut heads).await?;
    assert!(!seen.first);
    assert_eq!(seen.head.commit, CommitId::parse(&second)?);
    assert_eq!(seen.head.message.as_deref(), Some("Second\n\nbody"));
    Ok(())
}
