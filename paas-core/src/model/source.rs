use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// What the operator allows as repository URLs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourcePolicy {
    /// `file://` URLs: what a person trying paas on a laptop uses; production turns it off so
    /// users cannot read the server's disk.
    pub allow_local: bool,
}

impl Default for SourcePolicy {
    fn default() -> Self {
        Self { allow_local: true }
    }
}

/// A git repository URL from the scheme allow-list: `https`, `http`, `ssh`, `git`, scp-like
/// `user@host:path`, and `file` when the policy allows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GitUrl(String);

impl GitUrl {
    pub fn parse(s: &str, policy: SourcePolicy) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            Err(ValidationError::GitUrl(format!(
                "{} {why}",
                super::validation::quote(s)
            )))
        };
        if s.is_empty() || s.len() > 2048 {
            return bad("must be 1 to 2048 characters long");
        }
        if s.starts_with('-') {
            return bad("may not start with '-'");
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return bad("may not hold spaces or control characters");
        }
        match s.split_once("://") {
            Some(("https" | "http" | "ssh" | "git", rest)) if !rest.is_empty() => {
                Ok(Self(s.into()))
            }
            Some(("file", rest)) if rest.starts_with('/') => {
                if policy.allow_local {
                    Ok(Self(s.into()))
                } else {
                    Err(ValidationError::LocalReposDisabled)
                }
            }
            Some(_) => bad("must use https, http, ssh, git or file"),
            None if is_scp_like(s) => Ok(Self(s.into())),
            None => bad("is not a URL (e.g. https://host/owner/repo.git)"),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this URL points at the server's own disk.
    pub fn is_local(&self) -> bool {
        self.0.starts_with("file://")
    }
}

/// `git@github.com:owner/repo.git`: user, host, a colon, a path.
fn is_scp_like(s: &str) -> bool {
    match s.split_once(':') {
        Some((user_host, path)) => match user_host.split_once('@') {
            Some((user, host)) => {
                !user.is_empty() && !host.is_empty() && !host.contains('/') && !path.is_empty()
            }
            None => false,
        },
        None => false,
    }
}

impl fmt::Display for GitUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A branch name, following git's ref-name rules; never starts with `-` so it can never be read
/// as an option by any tool it is passed to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Branch(String);

impl Branch {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            Err(ValidationError::Branch(format!(
                "{} {why}",
                super::validation::quote(s)
            )))
        };
        if s.is_empty() || s.len() > 255 {
            return bad("must be 1 to 255 characters long");
        }
        if s.starts_with('-') {
            return bad("may not start with '-'");
        }
        if s.starts_with('/') || s.ends_with('/') || s.ends_with('.') || s.ends_with(".lock") {
            return bad("is not a valid git branch name");
        }
        if s.contains("..") || s.contains("//") || s.contains("@{") || s.contains("/.") {
            return bad("is not a valid git branch name");
        }
        if s.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '~' | '^' | ':' | '?' | '*' | '[' | '\\')
        }) {
            return bad("holds a character git does not allow in branch names");
        }
        Ok(Self(s.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Branch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A full commit hash (40 hex digits, lowercase).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CommitId(String);

impl CommitId {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        if s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(ValidationError::Commit(format!(
                "{} is not a full 40-digit commit hash",
                super::validation::quote(s)
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where an app's code comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitSource {
    pub url: GitUrl,
    pub branch: Branch,
    /// Pinned commit; `None` follows the branch head at each deployment.
    pub commit: Option<CommitId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_the_allow_list() {
        let p = SourcePolicy::default();
        for ok in [
            "https://github.com/o/r.git",
            "http://git.local/r",
            "ssh://git@host/r.git",
            "git://host/r",
            "git@github.com:o/r.git",
            "file:///tmp/repo",
        ] {
            assert!(GitUrl::parse(ok, p).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "-u",
            "--upload-pack=x",
            "ftp://h/r",
            "https://",
            "just words",
            "/tmp/repo",
        ] {
            assert!(GitUrl::parse(bad, p).is_err(), "{bad}");
        }
    }

    #[test]
    fn local_repos_follow_the_policy() {
        let off = SourcePolicy { allow_local: false };
        assert_eq!(
            GitUrl::parse("file:///tmp/repo", off),
            Err(ValidationError::LocalReposDisabled)
        );
    }

    #[test]
    fn branches() {
        for ok in ["main", "feature/x", "v1.2", "release-2"] {
            assert!(Branch::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "", "-x", "--force", "a..b", "a b", "a:b", "x.lock", "a/", "/a", "a^",
        ] {
            assert!(Branch::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commits() {
        assert!(CommitId::parse(&"a".repeat(40)).is_ok());
        assert!(CommitId::parse("abc").is_err());
        assert!(CommitId::parse(&"g".repeat(40)).is_err());
    }
}
