//! The user's repositories on a git host: the [`RepoHost`] port and its adapters over the hosts'
//! REST APIs, [`github::GitHub`] and [`gitea::Gitea`] (Gitea and Forgejo).
//!
//! ## Layout
//! - `hosts.rs`: the port, what it answers ([`HostRepo`], [`HostBranch`]), its errors and bounds.
//! - `http.rs`: the one bounded GET both adapters use (timeouts, body cap, statuses to errors).
//! - `link.rs`: the `Link` header that pages both APIs.
//! - `listing.rs`: ordering, search and our cursor over what the host pages.
//! - `github.rs`, `gitea.rs`: the adapters.
//!
//! ## Guarantees
//! - The token goes only to the host's API origin: a `Link` to another origin is refused.
//! - Every answer is bounded: a timeout per request, a cap on each body, at most
//!   [`GitHostsConfig::max_pages`] pages of repositories and one page of branches per repository.
//! - A host's refusal is a typed error: 401 [`GitHostError::Unauthorized`], a spent rate limit
//!   [`GitHostError::RateLimited`] with its reset time, 404 [`crate::Error::NotFound`], anything
//!   else (down, timeouts, 5xx, unreadable answers) [`GitHostError::Unavailable`].

pub mod gitea;
pub mod github;
mod http;
pub mod link;
pub mod listing;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::Result;
use crate::model::{GitHostKind, GitHostToken};

/// GitHub's public API, the default base URL of [`GitHostKind::GitHub`].
pub const GITHUB_API: &str = "https://api.github.com";

/// A repository as a host lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostRepo {
    pub name: String,
    /// `owner/name`, what the host's other endpoints take.
    pub full_name: String,
    /// The HTTPS clone URL.
    pub clone_url: String,
    pub private: bool,
    /// `None` for an empty repository.
    pub default_branch: Option<String>,
    pub updated_at: DateTime<Utc>,
}

/// A branch and its head commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostBranch {
    pub name: String,
    pub commit: String,
    /// When the head commit was committed; `None` when the host did not say.
    pub updated_at: Option<DateTime<Utc>>,
}

/// One page of repositories as the host pages them.
#[derive(Clone, Debug, Default)]
pub struct HostPage {
    pub repos: Vec<HostRepo>,
    /// The URL of the next page (from `Link: rel="next"`).
    pub next: Option<String>,
}

/// A host's refusals, each with its own API code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GitHostError {
    #[error("no {0} token is stored: set one with setGitHostToken")]
    NoToken(GitHostKind),
    #[error("{0} refused the stored token: set a valid one with setGitHostToken")]
    Unauthorized(GitHostKind),
    #[error("{kind} rate limit reached; {}", reset_text(.reset_at))]
    RateLimited {
        kind: GitHostKind,
        /// When the host will answer again, if it said.
        reset_at: Option<DateTime<Utc>>,
    },
    #[error("{kind} is unavailable: {message}")]
    Unavailable { kind: GitHostKind, message: String },
    #[error("invalid git host URL: {0}")]
    BadBaseUrl(String),
}

fn reset_text(reset_at: &Option<DateTime<Utc>>) -> String {
    match reset_at {
        Some(t) => format!("it resets at {}", t.to_rfc3339()),
        None => "try again later".into(),
    }
}

/// Where GitHub is, and bounds on what reading a host may cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHostsConfig {
    /// GitHub's API when a user's token has no URL of its own: [`GITHUB_API`], or a GitHub
    /// Enterprise server's `https://HOST/api/v3`.
    pub github_api_url: String,
    /// Per request, connection included.
    pub timeout: Duration,
    /// Bytes of one answer's body.
    pub max_body: usize,
    /// Pages of repositories read for one listing.
    pub max_pages: usize,
    /// Repositories asked per page (hosts cap it: GitHub 100, Gitea 50 by default).
    pub per_page: usize,
    /// Branches whose head commit date is asked, one request each where the host needs it
    /// (GitHub); the others sort last.
    pub max_dated_branches: usize,
}

impl Default for GitHostsConfig {
    fn default() -> Self {
        Self {
            github_api_url: GITHUB_API.into(),
            timeout: Duration::from_secs(15),
            max_body: 8 * 1024 * 1024,
            max_pages: 20,
            per_page: 100,
            max_dated_branches: 30,
        }
    }
}

/// A user's view of one git host through their token.
#[async_trait]
pub trait RepoHost: Send + Sync {
    fn kind(&self) -> GitHostKind;
    /// Whether pages come newest first, so that a listing may stop once it has enough.
    fn newest_first(&self) -> bool;
    /// A page of the repositories the token sees: the first with `None`, then each `next`.
    async fn repos_page(&self, next: Option<&str>) -> Result<HostPage>;
    /// The branches of `full_name` (`owner/name`) with their head commits.
    async fn branches(&self, full_name: &str) -> Result<Vec<HostBranch>>;
}

/// The base URL a stored token is used with: the user's, else the host's default
/// (`github_api` for GitHub; Gitea has none).
pub fn base_url(kind: GitHostKind, stored: &GitHostToken, github_api: &str) -> Result<String> {
    let raw = match (&stored.base_url, kind) {
        (Some(u), _) => u.as_str(),
        (None, GitHostKind::GitHub) => github_api,
        (None, GitHostKind::Gitea) => {
            return Err(GitHostError::BadBaseUrl("Gitea needs its URL (baseUrl)".into()).into());
        }
    };
    let trimmed = raw.trim().trim_end_matches('/');
    let trimmed = match kind {
        GitHostKind::Gitea => trimmed.trim_end_matches("/api/v1"),
        GitHostKind::GitHub => trimmed,
    };
    let url = reqwest::Url::parse(trimmed)
        .map_err(|e| GitHostError::BadBaseUrl(format!("{}: {e}", crate::model::quote(raw))))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(GitHostError::BadBaseUrl(format!(
            "{}: not an http(s) URL with a host",
            crate::model::quote(raw)
        ))
        .into());
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(GitHostError::BadBaseUrl(format!(
            "{}: no credentials or query in the URL",
            crate::model::quote(raw)
        ))
        .into());
    }
    Ok(trimmed.to_owned())
}

/// The host name clone URLs of this host have (`api.github.com` clones from `github.com`):
/// an HTTPS clone from it uses this host's token.
pub fn clone_host(base_url: &str) -> Option<String> {
    let host = reqwest::Url::parse(base_url)
        .ok()?
        .host_str()?
        .to_ascii_lowercase();
    Some(match host.strip_prefix("api.") {
        Some("github.com") => "github.com".into(),
        _ => host,
    })
}

/// The adapter for `kind` reading with `stored`.
pub fn connect(
    kind: GitHostKind,
    stored: &GitHostToken,
    limits: &GitHostsConfig,
) -> Result<Arc<dyn RepoHost>> {
    let base = base_url(kind, stored, &limits.github_api_url)?;
    Ok(match kind {
        GitHostKind::GitHub => Arc::new(github::GitHub::new(&base, &stored.token, limits)?),
        GitHostKind::Gitea => Arc::new(gitea::Gitea::new(&base, &stored.token, limits)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Secret;

    fn stored(url: Option<&str>) -> GitHostToken {
        GitHostToken {
            token: Secret::new("t"),
            base_url: url.map(str::to_owned),
        }
    }

    #[test]
    fn base_urls_default_and_normalise() {
        let gh = GitHostKind::GitHub;
        let gitea = GitHostKind::Gitea;
        assert_eq!(
            base_url(gh, &stored(None), GITHUB_API).ok().as_deref(),
            Some(GITHUB_API)
        );
        assert_eq!(
            base_url(
                gh,
                &stored(Some("https://ghe.example.com/api/v3/")),
                GITHUB_API
            )
            .ok()
            .as_deref(),
            Some("https://ghe.example.com/api/v3")
        );
        assert_eq!(
            base_url(
                gitea,
                &stored(Some("https://git.example.com/api/v1")),
                GITHUB_API
            )
            .ok()
            .as_deref(),
            Some("https://git.example.com")
        );
        assert!(base_url(gitea, &stored(None), GITHUB_API).is_err());
        assert!(base_url(gh, &stored(Some("ftp://x")), GITHUB_API).is_err());
        assert!(base_url(gh, &stored(Some("https://u:p@x")), GITHUB_API).is_err());
    }

    #[test]
    fn clone_hosts() {
        assert_eq!(clone_host(GITHUB_API).as_deref(), Some("github.com"));
        assert_eq!(
            clone_host("https://GHE.example.com/api/v3").as_deref(),
            Some("ghe.example.com")
        );
        assert_eq!(
            clone_host("http://127.0.0.1:3000").as_deref(),
            Some("127.0.0.1")
        );
    }
}
