//! [`GitProvider`] on libgit2 (the `git2` crate): works for https, ssh, git and file URLs without
//! a `git` binary. libgit2 is blocking, so every call runs on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use git2::{Cred, CredentialType, Direction, ErrorClass, ErrorCode, FetchOptions, RemoteCallbacks};

use crate::error::{Error, Fault, Result};
use crate::git::{GitProvider, RepoCheck};
use crate::model::{Branch, CommitId, GitUrl, Secret};

/// Stateless; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Git2Provider;

/// Credentials for private repositories: the token as the password of HTTP basic auth (what
/// GitHub, GitLab and Gitea accept), the ssh agent for ssh URLs. libgit2 asks again after a
/// refused credential; answering twice would loop, so the second ask fails.
fn callbacks(token: Option<Secret>) -> RemoteCallbacks<'static> {
    let mut cb = RemoteCallbacks::new();
    let asked = AtomicU32::new(0);
    cb.credentials(move |_url, username, allowed| {
        if asked.fetch_add(1, Ordering::SeqCst) > 0 {
            return Err(git2::Error::from_str("credentials were refused"));
        }
        if allowed.contains(CredentialType::USER_PASS_PLAINTEXT)
            && let Some(token) = &token
        {
            return Cred::userpass_plaintext(username.unwrap_or("x-access-token"), token.expose());
        }
        if allowed.contains(CredentialType::SSH_KEY) {
            return Cred::ssh_key_from_agent(username.unwrap_or("git"));
        }
        Err(git2::Error::from_str("the repository needs credentials"))
    });
    cb
}

/// Sorts a libgit2 error into the platform's classes: a timeout or a broken connection may pass,
/// anything else means the repository is not there for this user.
fn connect_error(url: &GitUrl, e: git2::Error) -> Error {
    let transient = matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssl
    ) && e.code() != ErrorCode::Auth
        && (e.message().contains("timed out") || e.message().contains("reset"));
    if transient {
        Error::Git {
            message: format!("could not reach {url}: {}", e.message()),
            fault: Fault::Platform,
            source: Some(Box::new(e)),
        }
    } else {
        tracing::debug!(%url, error = %e, "repository not readable");
        Error::RepoNotFound(url.to_string())
    }
}

fn git_error(what: &str, e: git2::Error) -> Error {
    Error::Git {
        message: format!("{what}: {}", e.message()),
        fault: Fault::Platform,
        source: Some(Box::new(e)),
    }
}

fn short_branch(full: &str) -> Option<Branch> {
    full.strip_prefix("refs/heads/")
        .and_then(|b| Branch::parse(b).ok())
}

fn check_blocking(url: GitUrl, branch: Option<Branch>, token: Option<Secret>) -> Result<RepoCheck> {
    let mut remote =
        git2::Remote::create_detached(url.as_str()).map_err(|e| connect_error(&url, e))?;
    let conn = remote
        .connect_auth(Direction::Fetch, Some(callbacks(token)), None)
        .map_err(|e| connect_error(&url, e))?;
    let default_branch = conn
        .default_branch()
        .ok()
        .and_then(|b| b.as_str().ok().and_then(short_branch));
    let wanted = branch.or_else(|| default_branch.clone());
    let heads = conn.list().map_err(|e| git_error("listing refs", e))?;
    let head = wanted.as_ref().and_then(|b| {
        let full = format!("refs/heads/{b}");
        heads
            .iter()
            .find(|h| h.name() == full)
            .and_then(|h| CommitId::parse(&h.oid().to_string()).ok())
    });
    Ok(RepoCheck {
        exists: true,
        default_branch,
        branch_exists: head.is_some(),
        head,
    })
}

fn clone_blocking(
    url: GitUrl,
    branch: Branch,
    commit: Option<CommitId>,
    dest: PathBuf,
    token: Option<Secret>,
) -> Result<CommitId> {
    let mut fetch = FetchOptions::new();
    fetch.remote_callbacks(callbacks(token));
    let repo = git2::build::RepoBuilder::new()
        .branch(branch.as_str())
        .fetch_options(fetch)
        .clone(url.as_str(), &dest)
        .map_err(|e| match e.code() {
            // The branch vanished between the check and the clone: the user's to fix.
            ErrorCode::NotFound => Error::BranchNotFound {
                url: url.to_string(),
                branch: branch.to_string(),
            },
            _ => connect_error(&url, e),
        })?;
    let oid = match &commit {
        Some(c) => {
            let oid = git2::Oid::from_str(c.as_str()).map_err(|e| git_error("commit id", e))?;
            let object = repo.find_object(oid, None).map_err(|_| {
                Error::BuildFailed(format!("commit {c} is not on branch {branch} of {url}"))
            })?;
            repo.checkout_tree(&object, Some(git2::build::CheckoutBuilder::new().force()))
                .map_err(|e| git_error("checkout", e))?;
            repo.set_head_detached(oid)
                .map_err(|e| git_error("checkout", e))?;
            oid
        }
        None => repo
            .head()
            .ok()
            .and_then(|h| h.target())
            .ok_or_else(|| git_error("reading HEAD", git2::Error::from_str("no HEAD")))?,
    };
    CommitId::parse(&oid.to_string()).map_err(Error::from)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Git {
            message: format!("git task failed: {e}"),
            fault: Fault::Platform,
            source: None,
        })?
}

#[async_trait]
impl GitProvider for Git2Provider {
    #[tracing::instrument(skip_all, fields(url = %url), err)]
    async fn check(
        &self,
        url: &GitUrl,
        branch: Option<&Branch>,
        token: Option<&Secret>,
    ) -> Result<RepoCheck> {
        let (url, branch, token) = (url.clone(), branch.cloned(), token.cloned());
        blocking(move || check_blocking(url, branch, token)).await
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
        let args = (
            url.clone(),
            branch.clone(),
            commit.cloned(),
            dest.to_path_buf(),
            token.cloned(),
        );
        blocking(move || clone_blocking(args.0, args.1, args.2, args.3, args.4)).await
    }
}
