//! GitHub's REST API (github.com, or GitHub Enterprise at `https://HOST/api/v3`):
//! `GET /user/repos?sort=updated&direction=desc` (newest first, paged by `Link`),
//! `GET /repos/{owner}/{repo}/branches`, and the date of each branch's head from
//! `GET /repos/{owner}/{repo}/commits/{sha}` (the branch list does not carry it).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Deserialize;

use super::http::Api;
use super::{GitHostsConfig, HostBranch, HostPage, HostRepo, RepoHost};
use crate::error::{Error, Result};
use crate::model::{GitHostKind, Secret};

/// Branch head dates asked at once.
const DATE_REQUESTS: usize = 4;

pub struct GitHub {
    api: Api,
    per_page: usize,
    max_dated: usize,
}

impl GitHub {
    /// Reads `base` (e.g. `https://api.github.com`) with `token`.
    pub fn new(base: &str, token: &Secret, limits: &GitHostsConfig) -> Result<Self> {
        let auth = Secret::new(format!("Bearer {}", token.expose()));
        let extra = [
            ("accept", "application/vnd.github+json"),
            ("x-github-api-version", "2022-11-28"),
        ];
        Ok(Self {
            api: Api::new(GitHostKind::GitHub, base, &auth, &extra, limits)?,
            per_page: limits.per_page.clamp(1, 100),
            max_dated: limits.max_dated_branches,
        })
    }
}

#[derive(Deserialize)]
struct Repo {
    name: String,
    full_name: String,
    private: bool,
    clone_url: String,
    default_branch: Option<String>,
    updated_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Branch {
    name: String,
    commit: BranchCommit,
}

#[derive(Deserialize)]
struct BranchCommit {
    sha: String,
}

#[derive(Deserialize)]
struct Commit {
    commit: CommitDetail,
}

#[derive(Deserialize)]
struct CommitDetail {
    committer: Option<Signature>,
}

#[derive(Deserialize)]
struct Signature {
    date: Option<DateTime<Utc>>,
}

/// `owner/name` as GitHub and Gitea spell them, so that it can go in a path as it is.
pub(super) fn checked_full_name(full_name: &str) -> Result<&str> {
    let ok = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match full_name.split_once('/') {
        Some((owner, name)) if ok(owner) && ok(name) => Ok(full_name),
        _ => Err(Error::NotFound("repository")),
    }
}

#[async_trait]
impl RepoHost for GitHub {
    fn kind(&self) -> GitHostKind {
        GitHostKind::GitHub
    }

    fn newest_first(&self) -> bool {
        true
    }

    async fn repos_page(&self, next: Option<&str>) -> Result<HostPage> {
        let first = self.api.url(&format!(
            "/user/repos?sort=updated&direction=desc&per_page={}",
            self.per_page
        ));
        let answer = self.api.get::<Vec<Repo>>(next.unwrap_or(&first)).await?;
        Ok(HostPage {
            repos: answer
                .body
                .into_iter()
                .map(|r| HostRepo {
                    name: r.name,
                    full_name: r.full_name,
                    clone_url: r.clone_url,
                    private: r.private,
                    default_branch: r.default_branch,
                    updated_at: r.updated_at,
                })
                .collect(),
            next: answer.next,
        })
    }

    async fn branches(&self, full_name: &str) -> Result<Vec<HostBranch>> {
        let full_name = checked_full_name(full_name)?;
        let url = self
            .api
            .url(&format!("/repos/{full_name}/branches?per_page=100"));
        let branches = self.api.get::<Vec<Branch>>(&url).await?.body;
        let dated = self.max_dated;
        futures::stream::iter(branches.into_iter().enumerate())
            .map(|(i, b)| async move {
                let sha = b.commit.sha;
                let updated_at = if i < dated && sha.chars().all(|c| c.is_ascii_hexdigit()) {
                    let url = self.api.url(&format!("/repos/{full_name}/commits/{sha}"));
                    let commit = self.api.get::<Commit>(&url).await?.body;
                    commit.commit.committer.and_then(|c| c.date)
                } else {
                    None
                };
                Ok::<_, Error>(HostBranch {
                    name: b.name,
                    commit: sha,
                    updated_at,
                })
            })
            .buffered(DATE_REQUESTS)
            .try_collect()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::checked_full_name;

    #[test]
    fn full_names_go_in_paths_only_when_plain() {
        assert!(checked_full_name("octo-org/hello.world_2").is_ok());
        for bad in ["a", "a/b/c", "../x", "a/..", "a/b?x=1", "a/b#c", "/b", "a/"] {
            assert!(checked_full_name(bad).is_err(), "{bad}");
        }
    }
}
