//! The git provider's fences: a remote that never answers is given up on (and git with it), a
//! checkout cannot point out of itself through a symbolic link, a clone cannot fill the disk,
//! and `file` is not a protocol when local repositories are off.

use std::time::{Duration, Instant};

use paas_core::Error;
use paas_core::error::Fault;
use paas_core::git::cli::GitCli;
use paas_core::git::{GitLimits, GitProvider};
use paas_core::model::{Branch, GitUrl, SourcePolicy};
use paas_tests::hostile;
use paas_tests::repo::file_url;

const APP: &[(&str, &str)] = &[("app.py", "print(1)\n")];

fn url(dir: &std::path::Path) -> anyhow::Result<GitUrl> {
    Ok(GitUrl::parse(&file_url(dir), SourcePolicy::default())?)
}

/// Processes whose command line mentions `needle` (git children left behind would).
/// A remote on a local port that accepts connections, keeps them open and never says a word;
/// abort the task to close them.
async fn silent_remote() -> anyhow::Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    Ok((port, held))
}

fn processes_mentioning(needle: &str) -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(needle))
        .collect()
}

#[tokio::test]
async fn a_remote_that_never_answers_times_out_and_leaves_no_git_behind() -> anyhow::Result<()> {
    let (port, held) = silent_remote().await?;
    let git = GitCli::new(
        GitLimits {
            check_timeout: Duration::from_secs(1),
            clone_timeout: Duration::from_secs(1),
            ..GitLimits::default()
        },
        SourcePolicy::default(),
    );
    let remote = format!("http://127.0.0.1:{port}/silent.git");
    let u = GitUrl::parse(&remote, SourcePolicy::default())?;

    let started = Instant::now();
    let r = git.check(&u, None, None).await;
    assert!(
        matches!(&r, Err(e @ Error::Git { .. }) if e.fault() == Fault::Platform),
        "{r:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let out = tempfile::tempdir()?;
    let main = Branch::parse("main")?;
    let started = Instant::now();
    let r = git
        .clone_at(&u, &main, None, &out.path().join("co"), None)
        .await;
    assert!(matches!(r, Err(Error::Git { .. })), "{r:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    // git and its helper (git-remote-http) were killed, not left hanging on the socket.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = processes_mentioning(&format!("127.0.0.1:{port}"));
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running: {left:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    held.abort();
    Ok(())
}

#[tokio::test]
async fn symbolic_links_are_checked_out_as_plain_files() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let secret = root.path().join("secret.txt");
    std::fs::write(&secret, "server secret")?;
    let repo = root.path().join("repo");
    hostile::symlinks_out(&repo, APP, &secret)?;

    let out = tempfile::tempdir()?;
    let dest = out.path().join("co");
    let git = GitCli::new(GitLimits::default(), SourcePolicy::default());
    git.clone_at(&url(&repo)?, &Branch::parse("main")?, None, &dest, None)
        .await?;

    for (name, target) in [
        ("link", secret.display().to_string()),
        ("up", "../../../../../../../../etc/passwd".to_owned()),
    ] {
        let meta = std::fs::symlink_metadata(dest.join(name))?;
        assert!(meta.file_type().is_file(), "{name} is {meta:?}");
        // Reading it gives the link's text, never what it pointed at.
        assert_eq!(std::fs::read_to_string(dest.join(name))?, target);
    }
    Ok(())
}

#[tokio::test]
async fn a_clone_past_its_disk_bound_is_stopped_with_a_typed_error() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let repo = root.path().join("bomb");
    // A pack of a few kilobytes that checks out 2 GiB.
    hostile::packfile_bomb(&repo, APP, 2048)?;
    let limit = 4 * 1024 * 1024;
    let git = GitCli::new(
        GitLimits {
            max_clone_bytes: limit,
            ..GitLimits::default()
        },
        SourcePolicy::default(),
    );
    let out = tempfile::tempdir()?;
    let dest = out.path().join("co");
    let started = Instant::now();
    let r = git
        .clone_at(&url(&repo)?, &Branch::parse("main")?, None, &dest, None)
        .await;
    assert!(matches!(&r, Err(Error::RepoTooLarge { .. })), "{r:?}");
    assert_eq!(
        r.err().map(|e| e.code()),
        Some(paas_core::ErrorCode::RepoTooLarge)
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let written: u64 = walk_size(&dest);
    assert!(written < 1024 * 1024 * 1024, "{written} bytes written");
    Ok(())
}

fn walk_size(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => walk_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[tokio::test]
async fn file_is_no_protocol_when_local_repositories_are_off() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let repo = root.path().join("r");
    hostile::repo(&repo, APP)?;
    let off = GitCli::new(GitLimits::default(), SourcePolicy { allow_local: false });
    let r = off.check(&url(&repo)?, None, None).await;
    assert!(matches!(r, Err(Error::RepoNotFound(_))), "{r:?}");
    let on = GitCli::new(GitLimits::default(), SourcePolicy::default());
    assert!(on.check(&url(&repo)?, None, None).await?.branch_exists);
    Ok(())
}

#[tokio::test]
async fn odd_heads_get_answers_not_crashes() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let p = |n: &str| root.path().join(n);
    hostile::detached_head(&p("detached"), APP)?;
    hostile::empty(&p("empty"))?;
    hostile::no_branches(&p("no-branches"), APP)?;
    hostile::head_to_missing_ref(&p("missing"), APP)?;
    hostile::symref_loop(&p("loop"), APP)?;
    hostile::huge_ref_names(&p("huge"), APP)?;
    let git = GitCli::new(GitLimits::default(), SourcePolicy::default());
    for name in [
        "detached",
        "empty",
        "no-branches",
        "missing",
        "loop",
        "huge",
    ] {
        let c = git.check(&url(&p(name))?, None, None).await?;
        assert!(
            c.exists && c.default_branch.is_none() && !c.branch_exists,
            "{name}: {c:?}"
        );
    }
    let main = Branch::parse("main")?;
    for name in ["detached", "missing", "loop", "huge"] {
        let c = git.check(&url(&p(name))?, Some(&main), None).await?;
        assert!(c.branch_exists, "{name}: {c:?}");
    }
    let out = tempfile::tempdir()?;
    let r = git
        .clone_at(&url(&p("empty"))?, &main, None, &out.path().join("e"), None)
        .await;
    assert!(matches!(r, Err(Error::BranchNotFound { .. })), "{r:?}");
    let a = Branch::parse("a")?;
    let r = git
        .clone_at(&url(&p("loop"))?, &a, None, &out.path().join("l"), None)
        .await;
    assert!(
        matches!(
            r,
            Err(Error::BranchNotFound { .. } | Error::RepoNotFound(_))
        ),
        "{r:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_ref_listing_past_its_bound_is_refused_with_a_typed_error() -> anyhow::Result<()> {
    let root = tempfile::tempdir()?;
    let repo = root.path().join("refs");
    let head = hostile::repo(&repo, APP)?;
    // Refs ending in `/HEAD` all match the `HEAD` a check asks for.
    let mut names: Vec<String> = (0..5000).map(|i| format!("refs/tags/t-{i}/HEAD")).collect();
    names.sort();
    let packed: String = names.iter().map(|n| format!("{head} {n}\n")).collect();
    std::fs::write(repo.join(".git/packed-refs"), packed)?;
    let git = GitCli::new(
        GitLimits {
            max_ref_output: 10_000,
            ..GitLimits::default()
        },
        SourcePolicy::default(),
    );
    let r = git.check(&url(&repo)?, None, None).await;
    assert!(matches!(r, Err(Error::RepoTooLarge { .. })), "{r:?}");
    // The same repository within the default bound answers normally.
    let git = GitCli::new(GitLimits::default(), SourcePolicy::default());
    let c = git.check(&url(&repo)?, None, None).await?;
    assert_eq!(c.head.map(|h| h.as_str().to_owned()), Some(head));
    Ok(())
}

#[tokio::test]
async fn the_token_is_never_on_a_command_line() -> anyhow::Result<()> {
    // The remote holds git's request open, so git can be looked at while it runs.
    let (port, held) = silent_remote().await?;
    let git = GitCli::new(
        GitLimits {
            check_timeout: Duration::from_secs(3),
            ..GitLimits::default()
        },
        SourcePolicy::default(),
    );
    let u = GitUrl::parse(
        &format!("http://127.0.0.1:{port}/private.git"),
        SourcePolicy::default(),
    )?;
    let token = paas_core::model::Secret::new("tok-8b1f0c-never-shown");
    let checking = tokio::spawn({
        let (git, u, token) = (git.clone(), u.clone(), token.clone());
        async move { git.check(&u, None, Some(&token)).await }
    });
    let deadline = Instant::now() + Duration::from_secs(3);
    while processes_mentioning(&format!("127.0.0.1:{port}")).is_empty() {
        assert!(Instant::now() < deadline, "git never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(processes_mentioning("tok-8b1f0c"), Vec::<String>::new());
    let r = checking.await?;
    assert!(matches!(r, Err(Error::Git { .. })), "{r:?}");
    held.abort();
    Ok(())
}
