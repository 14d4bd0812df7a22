//! The `GitProvider` port: what the platform asks of repositories. Adapter: [`cli::GitCli`], the
//! `git` command-line client run as a child process, so that nothing a repository holds can
//! crash, hang or fill up the server process (see `cli.rs` for the guarantees). `poll.rs`:
//! [`GitProvider::watch`]'s default, a poll of the remote's refs. The user's repositories as
//! their git host lists them: [`hosts`].

pub mod cli;
pub mod hosts;
pub mod poll;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::stream::BoxStream;

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

/// A commit with what a deployment records of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadCommit {
    pub commit: CommitId,
    /// Its message, trimmed.
    pub message: Option<String>,
    /// `Name <email>` of its author.
    pub author: Option<String>,
}

/// A branch to follow, with the credential its reads use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchTarget {
    pub url: GitUrl,
    pub branch: Branch,
    pub token: Option<Secret>,
}

/// What a watch of a branch tells.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewHead {
    pub head: HeadCommit,
    /// The head the watch found first: not known to be new, only not seen before by this watch
    /// (a commit pushed while nobody watched, or the one already deployed).
    pub first: bool,
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

    /// Every branch with its head commit, read without cloning (one listing of the remote's
    /// refs, bounded like [`GitProvider::check`]); branch names the platform cannot use are
    /// left out.
    async fn branches(
        &self,
        url: &GitUrl,
        token: Option<&Secret>,
    ) -> Result<Vec<(Branch, CommitId)>>;

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

    /// The commit checked out in `dir` (by [`GitProvider::clone_at`] from `url`), with its
    /// message and author.
    async fn checked_out(&self, url: &GitUrl, dir: &Path) -> Result<HeadCommit>;

    /// `commit` with its message and author, in the repository `dir` (one the platform keeps,
    /// read from `url`).
    async fn commit_in(&self, url: &GitUrl, dir: &Path, commit: &CommitId) -> Result<HeadCommit>;

    /// Whether `old` is an ancestor of `new` in the repository `dir` (false: `new` was force
    /// pushed over `old`).
    async fn is_ancestor(
        &self,
        url: &GitUrl,
        dir: &Path,
        old: &CommitId,
        new: &CommitId,
    ) -> Result<bool>;

    /// The head commit of `branch` with its message and author, read without a clone (the
    /// commit alone, no file contents).
    async fn head_commit(
        &self,
        url: &GitUrl,
        branch: &Branch,
        token: Option<&Secret>,
    ) -> Result<HeadCommit>;

    /// The heads of `target`'s branch, each once, as they change: the seed's channel of a
    /// repository's updates. The default polls the remote's refs ([`poll`]): it works for any
    /// git URL. The stream ends only when dropped. Each call polls on its own: callers share one
    /// watch among everything that follows a branch (the auto-deploy loop keeps one per
    /// repository, branch and owner).
    fn watch(
        self: Arc<Self>,
        target: WatchTarget,
        every: poll::PollEvery,
    ) -> BoxStream<'static, NewHead>
    where
        Self: 'static,
    {
        poll::watch(self, target, every)
    }
}
