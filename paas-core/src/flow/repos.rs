//! The user's repositories on their git hosts: the tokens they keep per host, the listing, and
//! which token a clone uses.

use std::sync::Arc;

use crate::Platform;
use crate::error::Result;
use crate::git::hosts::{self, GitHostError, RepoHost, listing};
use crate::model::{GitHostKind, GitHostToken, GitUrl, Secret, User, UserId};

/// Whether a user keeps a token for a host (the token itself is never shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHostStatus {
    pub kind: GitHostKind,
    pub configured: bool,
    /// The API URL the token is used with, when one is stored.
    pub base_url: Option<String>,
}

impl Platform {
    /// Stores `token` for `kind` (with its API URL: GitHub Enterprise, Gitea), or removes it
    /// with `None`. The URL is checked before anything is stored.
    #[tracing::instrument(skip_all, fields(user = %user.id, host = %kind), err)]
    pub async fn set_git_host_token(
        &self,
        user: &User,
        kind: GitHostKind,
        token: Option<GitHostToken>,
    ) -> Result<()> {
        let token = match token {
            Some(t) => {
                let base = hosts::base_url(kind, &t, &self.config().git_hosts.github_api_url)?;
                Some(GitHostToken {
                    base_url: t.base_url.map(|_| base),
                    token: t.token,
                })
            }
            None => None,
        };
        self.store()
            .set_git_host_token(user.id, kind, token.as_ref())
            .await?;
        self.record_token(user, kind.as_str(), token.is_some())
            .await;
        Ok(())
    }

    /// Records that `user` set (or removed) their git token for `host`.
    pub async fn record_token(&self, user: &User, host: &str, set: bool) {
        use crate::event_log::{EventKind, EventRecord};
        let (kind, message) = if set {
            (EventKind::TokenCreated, format!("git token for {host} set"))
        } else {
            (
                EventKind::TokenRevoked,
                format!("git token for {host} removed"),
            )
        };
        let record =
            EventRecord::user(user.id, kind, message).details(serde_json::json!({ "host": host }));
        self.record(record).await;
    }

    /// Every host kind and whether `user` keeps a token for it.
    pub async fn git_hosts(&self, user: &User) -> Result<Vec<GitHostStatus>> {
        let stored = self.store().git_host_tokens(user.id, None).await?;
        let github_api = &self.config().git_hosts.github_api_url;
        Ok(GitHostKind::ALL
            .into_iter()
            .map(|kind| {
                let mine = stored.iter().find(|(k, _)| *k == kind).map(|(_, t)| t);
                GitHostStatus {
                    kind,
                    configured: mine.is_some(),
                    base_url: mine.and_then(|t| hosts::base_url(kind, t, github_api).ok()),
                }
            })
            .collect())
    }

    /// `user`'s view of `kind` through their stored token.
    pub async fn repo_host(&self, user: &User, kind: GitHostKind) -> Result<Arc<dyn RepoHost>> {
        let stored = self
            .store()
            .git_host_tokens(user.id, Some(kind))
            .await?
            .into_iter()
            .next()
            .map(|(_, t)| t)
            .ok_or(GitHostError::NoToken(kind))?;
        hosts::connect(kind, &stored, &self.config().git_hosts)
    }

    /// A page of the repositories `host` (a user's, from [`Platform::repo_host`]) shows, newest update first (see
    /// [`listing`]).
    #[tracing::instrument(skip_all, fields(host = %host.kind()), err)]
    pub async fn git_repositories(
        &self,
        host: &dyn RepoHost,
        search: Option<&str>,
        first: usize,
        after: Option<usize>,
    ) -> Result<listing::RepoPage> {
        listing::page(
            host,
            search,
            first,
            after,
            self.config().git_hosts.max_pages,
        )
        .await
    }

    /// The token a clone of `url` by `owner` uses: the one kept for the git host the URL is on
    /// (an `http(s)` URL whose host is that host's), else the user's git token. A local
    /// repository takes none (nothing is read).
    pub(crate) async fn clone_token(&self, owner: UserId, url: &GitUrl) -> Result<Option<Secret>> {
        if url.is_local() {
            return Ok(None);
        }
        let host = reqwest::Url::parse(url.as_str())
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase));
        if let Some(host) = host {
            for (kind, stored) in self.store().git_host_tokens(owner, None).await? {
                let on_host =
                    hosts::base_url(kind, &stored, &self.config().git_hosts.github_api_url)
                        .ok()
                        .and_then(|b| hosts::clone_host(&b))
                        .is_some_and(|h| h == host);
                if on_host {
                    return Ok(Some(stored.token));
                }
            }
        }
        self.store().git_token(owner).await
    }
}
