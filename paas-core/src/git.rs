//! The `GitProvider` port: what the platform asks of repositories. Adapter: [`libgit::Git2Provider`]
//! (git2, for any URL git itself can fetch).

pub mod libgit;

use std::path::Path;

use async_trait::async_trait;

use crate::error::Result;
use crate::model::{Branch, CommitId, GitUrl, Secret};

/// What a look at a repository found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoCheck {
    /// Always true when returned: a missing repository is [`crate::Error::RepoNotFound`].
    pub exists: bool,
    pub default_branch: Option<Branch>,
    /// Whether the asked branch (or the default one, if none was asked) exists.
    pub branch_exists: bool,
    /// Head commit of that branch, if it exists.
    pub head: Option<CommitId>,
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
