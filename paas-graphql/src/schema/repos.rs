//! The viewer's repositories on their git hosts: `gitHosts`, `gitRepositories` and
//! `setGitHostToken` resolve here; the tokens are written, never read back.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{ComplexObject, Context, Enum, SimpleObject};
use chrono::{DateTime, Utc};
use paas_core::git::hosts::{HostBranch, HostRepo, RepoHost, listing};
use paas_core::model::{GitHostToken, Secret};
use paas_core::{ErrorCode, Platform};

use crate::auth::viewer;
use crate::error::{GqlResult, OrGql, coded};

const MAX_PAGE: i32 = 100;
const DEFAULT_PAGE: i32 = 20;
const MAX_SEARCH: usize = 200;
const MAX_TOKEN: usize = 4096;
const MAX_URL: usize = 2048;

/// A kind of git host whose API lists your repositories.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "paas_core::model::GitHostKind")]
pub enum GitHostKind {
    /// github.com, or GitHub Enterprise with its API URL as `baseUrl`
    /// (`https://HOST/api/v3`).
    #[graphql(name = "GITHUB")]
    GitHub,
    /// Gitea or Forgejo, at the URL given as `baseUrl`.
    Gitea,
}

/// Whether you keep a token for a git host; the token is never shown.
#[derive(SimpleObject)]
pub struct GitHost {
    pub provider: GitHostKind,
    pub configured: bool,
    /// The API URL the token is used with.
    pub base_url: Option<String>,
}

/// A repository your token for a git host can see.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct GitRepository {
    pub name: String,
    /// `owner/name`.
    pub full_name: String,
    /// The HTTPS clone URL: what `createApplication` takes.
    pub url: String,
    pub private: bool,
    /// `null` for an empty repository.
    pub default_branch: Option<String>,
    pub updated_at: DateTime<Utc>,
    #[graphql(skip)]
    host: Arc<dyn RepoHost>,
}

/// A branch and its head commit.
#[derive(SimpleObject)]
pub struct GitBranch {
    pub name: String,
    pub commit: String,
    /// When the head commit was committed (`null` when the host did not say).
    pub updated_at: Option<DateTime<Utc>>,
}

impl From<HostBranch> for GitBranch {
    fn from(b: HostBranch) -> Self {
        Self {
            name: b.name,
            commit: b.commit,
            updated_at: b.updated_at,
        }
    }
}

impl GitRepository {
    fn new(r: HostRepo, host: Arc<dyn RepoHost>) -> Self {
        Self {
            name: r.name,
            full_name: r.full_name,
            url: r.clone_url,
            private: r.private,
            default_branch: r.default_branch,
            updated_at: r.updated_at,
            host,
        }
    }
}

#[ComplexObject]
impl GitRepository {
    /// The branches, latest commit first (one page of the host's: up to 100 read).
    async fn branches(&self, #[graphql(default = 10)] first: i32) -> GqlResult<Vec<GitBranch>> {
        if !(0..=MAX_PAGE).contains(&first) {
            return Err(coded(
                ErrorCode::InvalidArgument,
                format!("first must be between 0 and {MAX_PAGE}"),
            ));
        }
        let mut branches = self.host.branches(&self.full_name).await.gql()?;
        listing::order_branches(&mut branches);
        branches.truncate(first as usize);
        Ok(branches.into_iter().map(GitBranch::from).collect())
    }
}

/// `Query.gitHosts`.
pub async fn hosts(ctx: &Context<'_>) -> GqlResult<Vec<GitHost>> {
    let user = viewer(ctx)?;
    Ok(ctx
        .data::<Platform>()?
        .git_hosts(user)
        .await
        .gql()?
        .into_iter()
        .map(|h| GitHost {
            provider: h.kind.into(),
            configured: h.configured,
            base_url: h.base_url,
        })
        .collect())
}

/// `Query.gitRepositories`.
pub async fn repositories(
    ctx: &Context<'_>,
    provider: GitHostKind,
    search: Option<String>,
    first: Option<i32>,
    after: Option<String>,
) -> GqlResult<Connection<String, GitRepository, EmptyFields, EmptyFields>> {
    let user = viewer(ctx)?;
    let first = first.unwrap_or(DEFAULT_PAGE);
    if !(0..=MAX_PAGE).contains(&first) {
        return Err(coded(
            ErrorCode::InvalidArgument,
            format!("first must be between 0 and {MAX_PAGE}"),
        ));
    }
    let search = search
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if search.as_ref().is_some_and(|s| s.len() > MAX_SEARCH) {
        return Err(coded(
            ErrorCode::InvalidArgument,
            format!("search is longer than {MAX_SEARCH} characters"),
        ));
    }
    let after = after
        .map(|c| {
            listing::position(&c).ok_or_else(|| {
                coded(
                    ErrorCode::InvalidCursor,
                    "after is not a cursor of this list",
                )
            })
        })
        .transpose()?;
    let platform = ctx.data::<Platform>()?;
    let host = platform.repo_host(user, provider.into()).await.gql()?;
    let page = platform
        .git_repositories(host.as_ref(), search.as_deref(), first as usize, after)
        .await
        .gql()?;
    let mut conn = Connection::new(page.offset > 0, page.has_next);
    conn.edges
        .extend(page.repos.into_iter().enumerate().map(|(i, r)| {
            Edge::new(
                listing::cursor(page.offset + i),
                GitRepository::new(r, host.clone()),
            )
        }));
    Ok(conn)
}

/// `Mutation.setGitHostToken`.
pub async fn set_token(
    ctx: &Context<'_>,
    provider: GitHostKind,
    token: Option<String>,
    base_url: Option<String>,
) -> GqlResult<bool> {
    let user = viewer(ctx)?;
    let token = token.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let base_url = base_url
        .map(|u| u.trim().to_owned())
        .filter(|u| !u.is_empty());
    if token.as_ref().is_some_and(|t| t.len() > MAX_TOKEN)
        || base_url.as_ref().is_some_and(|u| u.len() > MAX_URL)
    {
        return Err(coded(
            ErrorCode::InvalidArgument,
            format!("the token or the URL is too long (at most {MAX_TOKEN} and {MAX_URL})"),
        ));
    }
    let stored = token.map(|t| GitHostToken {
        token: Secret::new(t),
        base_url,
    });
    ctx.data::<Platform>()?
        .set_git_host_token(user, provider.into(), stored)
        .await
        .gql()?;
    Ok(true)
}
