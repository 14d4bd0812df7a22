//! [`GitProvider`] on the `git` command-line client, run as a child process for every operation.
//!
//! Why a child process: a repository is input from users, and a git library inside the server
//! reads it in the server's own address space (libgit2 crashed the whole server on a detached
//! `HEAD`). Here a crash, a hang or a runaway checkout of git ends one child.
//!
//! Guarantees (see `run.rs`): each operation ends by its deadline ([`GitLimits`]); a check reads
//! a bounded ref listing; a clone is stopped past its disk bound (`REPO_TOO_LARGE`); git runs
//! with no system or user configuration, no prompts, only the protocols the [`SourcePolicy`]
//! allows (`file` only with local repositories on); submodules are never fetched and symbolic
//! links are checked out as plain files, so nothing in a checkout points out of it. A token is
//! passed in git's environment (`GIT_CONFIG_*`, an `Authorization` header scoped to the
//! repository's URL), never on a command line (readable in `/proc`) and never logged.
//!
//! Assumptions: git 2.32 or newer on `PATH` ([`GitCli::probe`] checks it at start).

mod failure;
mod refs;
mod run;
mod usage;

use std::ffi::OsString;
use std::path::Path;

use async_trait::async_trait;
use base64::Engine;
use tokio::time::Instant;

use self::failure::{Step, exited, failure};
use self::refs::Listing;
use self::run::{Output, Run};
use crate::error::{Error, Fault, Result};
use crate::git::{GitLimits, GitProvider, HeadCommit, RepoCheck};
use crate::model::{Branch, CommitId, GitUrl, Secret, SourcePolicy};

/// The oldest git with `GIT_CONFIG_GLOBAL` (an isolated configuration).
const MIN_VERSION: (u32, u32) = (2, 32);

/// Cheap to clone; holds no state but its settings.
#[derive(Clone, Debug)]
pub struct GitCli {
    limits: GitLimits,
    /// `GIT_ALLOW_PROTOCOL`: the schemes of [`GitUrl`], `file` only when the policy allows it
    /// (so neither a URL nor a redirect reaches the server's disk otherwise).
    protocols: &'static str,
    /// `file://<dir>/`: the platform's own repositories (those `git push` fills), read even
    /// when the policy keeps `file` out: no user can name them as a source.
    internal: Option<String>,
}

impl GitCli {
    pub fn new(limits: GitLimits, policy: SourcePolicy) -> Self {
        let protocols = if policy.allow_local {
            "https:http:ssh:git:file"
        } else {
            "https:http:ssh:git"
        };
        Self {
            limits,
            protocols,
            internal: None,
        }
    }

    /// Also reads the repositories under `dir` (absolute), whatever the policy.
    pub fn with_internal_repos(mut self, dir: &std::path::Path) -> Self {
        self.internal = Some(format!("file://{}/", dir.display()));
        self
    }

    /// Checks that a usable git is on `PATH`, with an error saying what to install.
    pub async fn probe(&self) -> Result<()> {
        let missing = |why: String| Error::Git {
            message: format!("the git command-line client (2.32 or newer) is needed: {why}"),
            fault: Fault::Platform,
            source: None,
        };
        let out = self
            .git(
                vec!["--version".into()],
                Instant::now() + self.limits.check_timeout,
            )
            .await
            .map_err(|f| match f {
                run::Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    missing("`git` was not found on PATH".into())
                }
                other => missing(format!("`git --version` failed: {other:?}")),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        match run::parse_version(&text) {
            Some(v) if v >= MIN_VERSION => Ok(()),
            Some(_) => Err(missing(format!("found {}", text.trim()))),
            None => Err(missing(format!(
                "`git --version` answered {:?}",
                text.trim()
            ))),
        }
    }

    fn run(&self, args: Vec<OsString>, deadline: Instant) -> Run {
        Run {
            args,
            env: Vec::new(),
            deadline,
            max_stdout: self.limits.max_ref_output,
            watch: None,
            protocols: self.protocols,
        }
    }

    async fn git(&self, args: Vec<OsString>, deadline: Instant) -> Result<Output, run::Failure> {
        run::run(self.run(args, deadline)).await
    }

    /// Runs git against `url`; a run that did not finish becomes its typed error.
    async fn remote(&self, url: &GitUrl, mut run: Run, token: Option<&Secret>) -> Result<Output> {
        run.env = credentials(url, token);
        let internal = self
            .internal
            .as_deref()
            .is_some_and(|root| url.as_str().starts_with(root) && !url.as_str().contains("/../"));
        if internal {
            run.protocols = "https:http:ssh:git:file";
        }
        run::run(run)
            .await
            .map_err(|f| failure(url, f, self.limits.max_clone_bytes))
    }
}

impl GitCli {
    /// `branch`'s head commit and its trees only (`blob:none`; a server without partial clone
    /// sends the blobs of that one commit), fetched into a scratch repository, bounded like a
    /// clone, by `deadline`. Returns the repository (removed when dropped) and the ref it holds.
    async fn shallow(
        &self,
        url: &GitUrl,
        branch: &Branch,
        token: Option<&Secret>,
        deadline: Instant,
    ) -> Result<(tempfile::TempDir, String)> {
        let scratch = tempfile::tempdir().map_err(|e| Error::Git {
            message: format!("a scratch directory for a look at {url}: {e}"),
            fault: Fault::Platform,
            source: None,
        })?;
        let dest = scratch.path();
        let mut init = os(&["init", "-q", "--bare", "--template="]);
        init.push(dest.as_os_str().to_owned());
        let out = self.remote(url, self.run(init, deadline), None).await?;
        if !out.status.success() {
            return Err(exited(url, Step::Remote, &out));
        }
        let tracking = format!("refs/remotes/origin/{branch}");
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        let fetch = in_dir(
            dest,
            &[
                "fetch",
                "-q",
                "--no-tags",
                "--no-recurse-submodules",
                "--depth=1",
                "--filter=blob:none",
                "--",
                url.as_str(),
                refspec.as_str(),
            ],
        );
        let watched = Run {
            watch: Some((dest.to_path_buf(), self.limits.max_clone_bytes)),
            ..self.run(fetch, deadline)
        };
        let out = self.remote(url, watched, token).await?;
        if !out.status.success() {
            if out.stderr.contains("couldn't find remote ref") {
                return Err(Error::BranchNotFound {
                    url: url.to_string(),
                    branch: branch.to_string(),
                });
            }
            return Err(exited(url, Step::Remote, &out));
        }
        Ok((scratch, tracking))
    }

    /// `rev`'s id, author and message in the repository `dir`.
    async fn describe(
        &self,
        url: &GitUrl,
        dir: &Path,
        rev: &str,
        deadline: Instant,
    ) -> Result<HeadCommit> {
        let args = in_dir(
            dir,
            &[
                "log",
                "-1",
                "--no-show-signature",
                "--format=%H%x00%an <%ae>%x00%B",
                rev,
                "--",
            ],
        );
        let out = self.remote(url, self.run(args, deadline), None).await?;
        if !out.status.success() {
            return Err(exited(url, Step::Checkout, &out));
        }
        refs::commit_info(&out.stdout).ok_or_else(|| Error::Git {
            message: format!("git log gave no commit in {}", dir.display()),
            fault: Fault::Platform,
            source: None,
        })
    }
}

/// The token as HTTP basic auth (what GitHub, GitLab and Gitea accept), in an `extraHeader`
/// scoped to this repository's URL, given through the environment.
fn credentials(url: &GitUrl, token: Option<&Secret>) -> Vec<(String, String)> {
    let Some(token) = token else {
        return Vec::new();
    };
    if !(url.as_str().starts_with("https://") || url.as_str().starts_with("http://")) {
        return Vec::new();
    }
    let basic = base64::engine::general_purpose::STANDARD
        .encode(format!("x-access-token:{}", token.expose()));
    vec![
        ("GIT_CONFIG_COUNT".into(), "1".into()),
        ("GIT_CONFIG_KEY_0".into(), format!("http.{url}.extraHeader")),
        (
            "GIT_CONFIG_VALUE_0".into(),
            format!("Authorization: Basic {basic}"),
        ),
    ]
}

fn os(parts: &[&str]) -> Vec<OsString> {
    parts.iter().map(OsString::from).collect()
}

/// `-C <dir>` then `parts`.
fn in_dir(dir: &Path, parts: &[&str]) -> Vec<OsString> {
    let mut args = vec![OsString::from("-C"), dir.as_os_str().to_owned()];
    args.extend(os(parts));
    args
}

#[async_trait]
impl GitProvider for GitCli {
    #[tracing::instrument(skip_all, fields(url = %url), err)]
    async fn check(
        &self,
        url: &GitUrl,
        branch: Option<&Branch>,
        token: Option<&Secret>,
    ) -> Result<RepoCheck> {
        let wanted = branch.map(|b| format!("refs/heads/{b}"));
        let mut parts = vec!["ls-remote", "--symref", "--", url.as_str(), "HEAD"];
        parts.extend(wanted.as_deref());
        let run = self.run(os(&parts), Instant::now() + self.limits.check_timeout);
        let out = self.remote(url, run, token).await?;
        if !out.status.success() {
            return Err(exited(url, Step::Remote, &out));
        }
        Ok(Listing::parse(&String::from_utf8_lossy(&out.stdout)).check(branch))
    }

    #[tracing::instrument(skip_all, fields(url = %url), err)]
    async fn branches(
        &self,
        url: &GitUrl,
        token: Option<&Secret>,
    ) -> Result<Vec<(Branch, CommitId)>> {
        let parts = ["ls-remote", "--heads", "--", url.as_str()];
        let run = self.run(os(&parts), Instant::now() + self.limits.check_timeout);
        let out = self.remote(url, run, token).await?;
        if !out.status.success() {
            return Err(exited(url, Step::Remote, &out));
        }
        Ok(Listing::parse(&String::from_utf8_lossy(&out.stdout)).branches())
    }

    #[tracing::instrument(skip_all, fields(url = %url, branch = %branch), err)]
    async fn top_files(
        &self,
        url: &GitUrl,
        branch: &Branch,
        token: Option<&Secret>,
    ) -> Result<Vec<String>> {
        let deadline = Instant::now() + self.limits.check_timeout;
        let (scratch, tracking) = self.shallow(url, branch, token, deadline).await?;
        let dest = scratch.path();
        let list = in_dir(dest, &["ls-tree", "-z", "--", tracking.as_str()]);
        let out = self.remote(url, self.run(list, deadline), None).await?;
        if !out.status.success() {
            return Err(exited(url, Step::Checkout, &out));
        }
        Ok(refs::blob_names(&out.stdout))
    }

    #[tracing::instrument(skip_all, fields(url = %url, branch = %branch), err)]
    async fn clone_at(
        &self,
        url: &GitUrl,
        branch: &Branch,
        commit: Option<&CommitId>,
        dest: &Path,
        token: Option<&Secret>,
    ) -> Result<CommitId> {
        let deadline = Instant::now() + self.limits.clone_timeout;
        let watched = |args| Run {
            watch: Some((dest.to_path_buf(), self.limits.max_clone_bytes)),
            ..self.run(args, deadline)
        };
        let mut init = os(&["init", "-q", "--template="]);
        init.push(dest.as_os_str().to_owned());
        let out = self.remote(url, self.run(init, deadline), None).await?;
        if !out.status.success() {
            return Err(Error::Git {
                message: format!("creating {}: {}", dest.display(), out.stderr.trim()),
                fault: Fault::Platform,
                source: None,
            });
        }

        let tracking = format!("refs/remotes/origin/{branch}");
        let refspec = format!("+refs/heads/{branch}:{tracking}");
        let mut fetch = vec!["fetch", "-q", "--no-tags", "--no-recurse-submodules"];
        if commit.is_none() {
            // The head is all a build needs; a pinned commit needs the branch's history.
            fetch.push("--depth=1");
        }
        fetch.extend(["--", url.as_str(), refspec.as_str()]);
        let out = self
            .remote(url, watched(in_dir(dest, &fetch)), token)
            .await?;
        if !out.status.success() {
            if out.stderr.contains("couldn't find remote ref") {
                return Err(Error::BranchNotFound {
                    url: url.to_string(),
                    branch: branch.to_string(),
                });
            }
            return Err(exited(url, Step::Remote, &out));
        }

        let rev = commit.map_or(tracking.as_str(), CommitId::as_str);
        let switch = in_dir(dest, &["switch", "-q", "--detach", rev]);
        let out = self.remote(url, watched(switch), None).await?;
        if !out.status.success() {
            let missing = out.stderr.contains("invalid reference")
                || out.stderr.contains("unable to read tree");
            return Err(match commit {
                Some(c) if missing => {
                    Error::BuildFailed(format!("commit {c} is not on branch {branch} of {url}"))
                }
                _ => exited(url, Step::Checkout, &out),
            });
        }

        let out = self
            .remote(
                url,
                self.run(in_dir(dest, &["rev-parse", "--verify", "HEAD"]), deadline),
                None,
            )
            .await?;
        let head = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            return Err(exited(url, Step::Checkout, &out));
        }
        Ok(CommitId::parse(head.trim())?)
    }

    #[tracing::instrument(skip_all, err)]
    async fn checked_out(&self, url: &GitUrl, dir: &Path) -> Result<HeadCommit> {
        let deadline = Instant::now() + self.limits.check_timeout;
        self.describe(url, dir, "HEAD", deadline).await
    }

    #[tracing::instrument(skip_all, fields(commit = %commit), err)]
    async fn commit_in(&self, url: &GitUrl, dir: &Path, commit: &CommitId) -> Result<HeadCommit> {
        let deadline = Instant::now() + self.limits.check_timeout;
        self.describe(url, dir, commit.as_str(), deadline).await
    }

    #[tracing::instrument(skip_all, fields(old = %old, new = %new), err)]
    async fn is_ancestor(
        &self,
        url: &GitUrl,
        dir: &Path,
        old: &CommitId,
        new: &CommitId,
    ) -> Result<bool> {
        let deadline = Instant::now() + self.limits.check_timeout;
        let args = in_dir(
            dir,
            &["merge-base", "--is-ancestor", old.as_str(), new.as_str()],
        );
        let out = self.remote(url, self.run(args, deadline), None).await?;
        match out.status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(exited(url, Step::Checkout, &out)),
        }
    }

    #[tracing::instrument(skip_all, fields(url = %url, branch = %branch), err)]
    async fn head_commit(
        &self,
        url: &GitUrl,
        branch: &Branch,
        token: Option<&Secret>,
    ) -> Result<HeadCommit> {
        let deadline = Instant::now() + self.limits.check_timeout;
        let (scratch, tracking) = self.shallow(url, branch, token, deadline).await?;
        self.describe(url, scratch.path(), &tracking, deadline)
            .await
    }
}
