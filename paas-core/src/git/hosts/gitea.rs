//! Gitea's and Forgejo's API (`/api/v1`): `GET /user/repos` (paged by `Link`, in name order, so
//! the listing reads every page and sorts), and `GET /repos/{owner}/{repo}/branches`, whose
//! branches carry their head commit's timestamp.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::github::checked_full_name;
use super::http::Api;
use super::{GitHostsConfig, HostBranch, HostPage, HostRepo, RepoHost};
use crate::error::Result;
use crate::model::{GitHostKind, Secret};

pub struct Gitea {
    api: Api,
    per_page: usize,
}

impl Gitea {
    /// Reads the Gitea at `base` (e.g. `https://gitea.example.com`) with `token`.
    pub fn new(base: &str, token: &Secret, limits: &GitHostsConfig) -> Result<Self> {
        let auth = Secret::new(format!("token {}", token.expose()));
        Ok(Self {
            api: Api::new(GitHostKind::Gitea, base, &auth, &[], limits)?,
            // Gitea's default MAX_RESPONSE_ITEMS.
            per_page: limits.per_page.clamp(1, 50),
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
    #[serde(default)]
    empty: bool,
}

#[derive(Deserialize)]
struct Branch {
    name: String,
    commit: Commit,
}

#[derive(Deserialize)]
struct Commit {
    id: String,
    timestamp: Option<DateTime<Utc>>,
}

#[async_trait]
impl RepoHost for Gitea {
    fn kind(&self) -> GitHostKind {
        GitHostKind::Gitea
    }

    fn newest_first(&self) -> bool {
        false
    }

    async fn repos_page(&self, next: Option<&str>) -> Result<HostPage> {
        let first = self.api.url(&format!(
            "/api/v1/user/repos?page=1&limit={}",
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
                    default_branch: r.default_branch.filter(|b| !r.empty && !b.is_empty()),
                    updated_at: r.updated_at,
                })
                .collect(),
            next: answer.next,
        })
    }

    async fn branches(&self, full_name: &str) -> Result<Vec<HostBranch>> {
        let full_name = checked_full_name(full_name)?;
        let url = self.api.url(&format!(
            "/api/v1/repos/{full_name}/branches?page=1&limit=50"
        ));
        Ok(self
            .api
            .get::<Vec<Branch>>(&url)
            .await?
            .body
            .into_iter()
            .map(|b| HostBranch {
                name: b.name,
                commit: b.commit.id,
                updated_at: b.commit.timestamp,
            })
            .collect())
    }
}
