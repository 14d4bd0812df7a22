//! Hostile repositories: odd, broken or malicious ones a user could point the platform at. Each
//! is made on disk with the `git` command-line client (as an attacker would make it), under a
//! directory of the caller's choosing, so one root can be served over `file://` and over smart
//! HTTP alike.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Runs git in `dir` with a fixed identity and no user configuration; returns its stdout.
pub fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    git_with_input(dir, args, None)
}

fn git_with_input(dir: &Path, args: &[&str], input: Option<&[u8]>) -> anyhow::Result<String> {
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=hostile", "-c", "user.email=h@paas.invalid"])
        .args(["-c", "protocol.file.allow=always"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(input) = input {
        child.stdin.take().context("stdin")?.write_all(input)?;
    }
    drop(child.stdin.take());
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "git {args:?} in {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// A repository at `dir` with `files` committed on `main`; returns the commit.
pub fn repo(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    git(dir, &["init", "-q", "-b", "main"])?;
    for (path, content) in files {
        let full = dir.join(path);
        if let Some(parent) = full.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(full, content)?;
    }
    git(dir, &["add", "-A"])?;
    git(dir, &["commit", "-q", "--allow-empty", "-m", "app"])?;
    Ok(git(dir, &["rev-parse", "HEAD"])?.trim().to_owned())
}

/// `HEAD` detached at the head of `main` (which still exists).
pub fn detached_head(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    repo(dir, files)?;
    detach(dir)
}

/// Detaches `HEAD` of an existing repository, as its owner can at any time.
pub fn detach(dir: &Path) -> anyhow::Result<()> {
    git(dir, &["checkout", "-q", "--detach"])?;
    Ok(())
}

/// `git init` and nothing else: no commit, `HEAD` unborn.
pub fn empty(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    git(dir, &["init", "-q", "-b", "main"])?;
    Ok(())
}

/// Commits reachable only from a tag and a detached `HEAD`: not one branch.
pub fn no_branches(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    repo(dir, files)?;
    git(dir, &["tag", "v1"])?;
    detach(dir)?;
    git(dir, &["branch", "-q", "-D", "main"])?;
    Ok(())
}

/// `HEAD` names `refs/heads/gone`, which does not exist (`main` does).
pub fn head_to_missing_ref(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    repo(dir, files)?;
    git(dir, &["symbolic-ref", "HEAD", "refs/heads/gone"])?;
    Ok(())
}

/// `HEAD` → `refs/heads/a` → `refs/heads/b` → `refs/heads/a` (`main` exists too).
pub fn symref_loop(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    repo(dir, files)?;
    let heads = dir.join(".git/refs/heads");
    std::fs::write(heads.join("a"), "ref: refs/heads/b\n")?;
    std::fs::write(heads.join("b"), "ref: refs/heads/a\n")?;
    git(dir, &["symbolic-ref", "HEAD", "refs/heads/a"])?;
    Ok(())
}

/// `main` plus `n` branches `b-0` … (written straight into `packed-refs`, as fast as a real
/// attacker would).
pub fn many_refs(dir: &Path, files: &[(&str, &str)], n: usize) -> anyhow::Result<()> {
    let head = repo(dir, files)?;
    let mut packed = String::from("# pack-refs with: peeled fully-peeled sorted \n");
    let mut names: Vec<String> = (0..n).map(|i| format!("refs/heads/b-{i}")).collect();
    names.sort();
    for name in names {
        packed.push_str(&format!("{head} {name}\n"));
    }
    std::fs::write(dir.join(".git/packed-refs"), packed)?;
    Ok(())
}

/// A branch name of `len` characters (in components of 200), longer than any the platform takes.
pub fn long_branch_name(len: usize) -> String {
    let mut name = String::new();
    while name.len() < len {
        if !name.is_empty() {
            name.push('/');
        }
        name.push_str(&"x".repeat(200.min(len - name.len()).max(1)));
    }
    name
}

/// `HEAD` names a branch with a huge name (in `packed-refs`), and 100 more such branches.
pub fn huge_ref_names(dir: &Path, files: &[(&str, &str)]) -> anyhow::Result<()> {
    let head = repo(dir, files)?;
    let mut names: Vec<String> = (0..100)
        .map(|i| format!("refs/heads/{}-{i}", long_branch_name(4000)))
        .collect();
    names.sort();
    let mut packed = String::from("# pack-refs with: peeled fully-peeled sorted \n");
    for name in &names {
        packed.push_str(&format!("{head} {name}\n"));
    }
    std::fs::write(dir.join(".git/packed-refs"), packed)?;
    git(dir, &["symbolic-ref", "HEAD", &names[0]])?;
    Ok(())
}

/// `files` plus a submodule `sub` whose URL is `file://<target>` (a repository on the server's
/// disk holding `secret.txt`).
pub fn submodule_to_file(dir: &Path, files: &[(&str, &str)], target: &Path) -> anyhow::Result<()> {
    let secret_head = repo(target, &[("secret.txt", "submodule secret")])?;
    repo(dir, files)?;
    let gitmodules = format!(
        "[submodule \"sub\"]\n\tpath = sub\n\turl = file://{}\n",
        target.display()
    );
    std::fs::write(dir.join(".gitmodules"), gitmodules)?;
    git(dir, &["add", ".gitmodules"])?;
    let cacheinfo = format!("160000,{secret_head},sub");
    git(dir, &["update-index", "--add", "--cacheinfo", &cacheinfo])?;
    git(dir, &["commit", "-q", "-m", "submodule"])?;
    Ok(())
}

/// `files` plus symbolic links pointing out of the checkout: `link` → `secret` (absolute) and
/// `up` → a relative path climbing out.
pub fn symlinks_out(dir: &Path, files: &[(&str, &str)], secret: &Path) -> anyhow::Result<()> {
    repo(dir, files)?;
    std::os::unix::fs::symlink(secret, dir.join("link"))?;
    std::os::unix::fs::symlink("../../../../../../../../etc/passwd", dir.join("up"))?;
    git(dir, &["add", "link", "up"])?;
    git(dir, &["commit", "-q", "-m", "links"])?;
    Ok(())
}

/// `files` plus one 1 MiB blob of zeros under `copies` paths: a pack of a few kilobytes whose
/// checkout writes `copies` MiB.
pub fn packfile_bomb(dir: &Path, files: &[(&str, &str)], copies: usize) -> anyhow::Result<()> {
    repo(dir, files)?;
    let blob = git_with_input(
        dir,
        &["hash-object", "-w", "--stdin"],
        Some(&vec![0u8; 1024 * 1024]),
    )?;
    let blob = blob.trim();
    let mut index = String::new();
    for i in 0..copies {
        index.push_str(&format!("100644 {blob}\tbomb/{}/{i}\n", i % 64));
    }
    git_with_input(
        dir,
        &["update-index", "--index-info"],
        Some(index.as_bytes()),
    )?;
    git(dir, &["commit", "-q", "-m", "bomb"])?;
    Ok(())
}
