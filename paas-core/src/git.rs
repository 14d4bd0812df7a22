//! The `GitProvider` port: what the platform asks of repositories. Adapter: [`cli::GitCli`], the
//! `git` command-line client run as a child process, so that nothing a repository holds can
//! crash, hang or fill up the server process (see `cli.rs` for the guarantees). The user's
//! repositories as their git host lists them: [`hosts`].

pub mod cli;
pub mod hosts;

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Branch, CommitId, GitUrl, Secret};

/// What a look at a repository found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoCheck {
    /// Always true when returned: a missing repository is [`crate::Error::RepoNotFound`].
    pub exists: bool,
    /// The branch `HEAD` names; `None` when `HEAD` is detached, unborn, broken or names a branch
    /// the platform cannot use.
    pub default_branch: Option<Branch>,
    /// Whether the asked branch (or the default one, if none was asked) exists.
    pub branch_exists: bool,
    /// Head commit of that branch, if it exists.
    pub head: Option<CommitId>,
}

/// Bounds on what one git operation may cost, so that a hostile or broken repository costs the
/// platform a typed error and nothing more.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitLimits {
    /// A look at a repository (`check`), which users wait for.
    pub check_timeout: Duration,
    /// A whole clone (fetch and checkout).
    pub clone_timeout: Duration,
    /// Disk a clone may use (its `.git` included); past it the clone is stopped.
    pub max_clone_bytes: u64,
    /// Ref listing a check may read; a repository advertising more is refused.
    pub max_ref_output: usize,
}

impl Default for GitLimits {
    fn default() -> Self {
        Self {
            check_timeout: Duration::from_secs(30),
            clone_timeout: Duration::from_secs(600),
            max_clone_bytes: 2048 * 1024 * 1024,
            max_ref_output: 1024 * 1024,
        }
    }
}

#[async_trait]
pub trait GitProvider: Send + Sync {
    /// Looks at a repository without cloning it. `token` is the credential for private
    /// repositories (sent as the password of HTTP basic auth).
    async fn check(
        &self,
        url: &GitUrl,
        branch: Option<&Branch>,
        token: Option<&Secret>,
    ) -> Result<RepoCheck>;

    /// The names of the files (not directories) at the top of `branch`'s head, read without
    /// fetching their contents: what language detection looks at before any build.
    async fn top_files(
        &self,
        url: &GitUrl,
        branch: &Branch,
        token: Option<&Secret>,
    ) -> Result<Vec<String>>;

    /// Checks out `branch` (at `commit` if given, else its head) into `dest`; returns the commit.
    async fn clone_at(
        &self,
        url: &GitUrl,
        branch: &Branch,
        commit: Option<&CommitId>,
        dest: &Path,
        token: Option<&Secret>,
    ) -> Result<CommitId>;
}
