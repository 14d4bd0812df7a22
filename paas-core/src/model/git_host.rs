//! The git hosts whose API lists a user's repositories, and the credential a user keeps for one.

use std::fmt;

use super::Secret;

/// A kind of git host with a REST API the platform reads repositories from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GitHostKind {
    /// GitHub (github.com, or GitHub Enterprise at its own API URL).
    GitHub,
    /// Gitea and Forgejo (same API), always at the URL the user gives.
    Gitea,
}

impl GitHostKind {
    /// Every kind, in the order they are shown.
    pub const ALL: [GitHostKind; 2] = [GitHostKind::GitHub, GitHostKind::Gitea];

    /// The name stored in the database: never change one.
    pub const fn as_str(self) -> &'static str {
        match self {
            GitHostKind::GitHub => "github",
            GitHostKind::Gitea => "gitea",
        }
    }

    /// The kind stored as `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for GitHostKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GitHostKind::GitHub => "GitHub",
            GitHostKind::Gitea => "Gitea",
        })
    }
}

/// What a user stored for one git host: the API token and, for hosts not at their default
/// address (GitHub Enterprise, every Gitea), the API's base URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GitHostToken {
    /// Read with, never returned by the API.
    pub token: Secret,
    /// `None`: the host's default (GitHub's `api_url` setting).
    pub base_url: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_read_back() {
        for kind in GitHostKind::ALL {
            assert_eq!(GitHostKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(GitHostKind::parse("GitHub"), None);
    }
}
