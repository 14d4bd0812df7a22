//! The API's error codes as one type: clients read them as `extensions.code` (GraphQL) and as
//! `code` (the HTTP logs endpoint), so their strings are a contract. The edge maps a code to its
//! transport (an HTTP status, whether details are hidden) by matching on this enum, never on the
//! strings.

use std::fmt;

/// A stable, machine-readable error code of the API.
///
/// [`ErrorCode::as_str`] gives the exact string clients see; it never changes for a variant.
/// New codes may be added, hence `#[non_exhaustive]`.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// An application name that is not a valid name.
    InvalidName,
    /// A port (or a port binding) out of range or malformed.
    InvalidPort,
    /// An environment variable with a bad key or value.
    InvalidEnv,
    /// A repository URL the platform will not clone.
    InvalidRepository,
    /// A branch name git would not accept.
    InvalidBranch,
    /// A commit that is not a commit id.
    InvalidCommit,
    /// A language the platform does not know how to build.
    InvalidLanguage,
    /// CPU or memory limits out of bounds.
    InvalidResources,
    /// A domain that is not a DNS host name.
    InvalidDomain,
    /// Scaling settings out of bounds (`0 ≤ min ≤ max ≤ the server's cap`, idle and target).
    InvalidScaling,
    /// Health check settings out of bounds (path, interval, timeout, thresholds, start period).
    InvalidHealthCheck,
    /// An id that is not an id of this server.
    InvalidId,
    /// A log timestamp or cursor that cannot be read.
    InvalidTimestamp,
    /// A page size out of bounds.
    InvalidLimit,
    /// A `file://` repository on a server that turned local repositories off.
    LocalReposDisabled,
    /// An argument the edge refuses before any core work (too long, out of range).
    InvalidArgument,
    /// A page cursor that this list did not hand out.
    InvalidCursor,
    /// The application name belongs to someone already.
    NameTaken,
    /// The custom domain routes to an application already.
    DomainTaken,
    /// The repository does not exist or cannot be read.
    RepoNotFound,
    /// The named branch does not exist in the repository.
    BranchNotFound,
    /// No branch was named and the repository's `HEAD` names no usable one.
    NoDefaultBranch,
    /// The repository is past the platform's bounds.
    RepoTooLarge,
    /// The thing asked for does not exist (or is not the caller's to see).
    NotFound,
    /// No token, or a token the server does not know.
    Unauthenticated,
    /// The application changed since the caller read it.
    VersionConflict,
    /// The application's status does not allow the asked change.
    IllegalTransition,
    /// Another task is under way on the application.
    AppBusy,
    /// A task's lock was taken over or lapsed.
    LockLost,
    /// The task needs a built deployment and there is none.
    NotBuilt,
    /// A start of an application that is not stopped.
    NotStopped,
    /// A stop of an application already stopped.
    AlreadyStopped,
    /// The build failed because of the application's code or configuration.
    BuildFailed,
    /// The application was built but would not start or answer.
    StartFailed,
    /// Git failed in a way that is not one of the repository codes above.
    GitError,
    /// No token is stored for the git host asked (`setGitHostToken`).
    GitHostNotConfigured,
    /// The git host refused the stored token.
    GitHostUnauthorized,
    /// The git host's rate limit is spent; `extensions.resetAt` says until when, if known.
    GitHostRateLimited,
    /// The git host is down, slow, or answered something unreadable.
    GitHostUnavailable,
    /// The connection or user has as many subscriptions open as the server allows.
    TooManySubscriptions,
    /// The server's own failure; details stay in the server log.
    Internal,
}

impl ErrorCode {
    /// Every code, for tests and documentation.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidName,
        ErrorCode::InvalidPort,
        ErrorCode::InvalidEnv,
        ErrorCode::InvalidRepository,
        ErrorCode::InvalidBranch,
        ErrorCode::InvalidCommit,
        ErrorCode::InvalidLanguage,
        ErrorCode::InvalidResources,
        ErrorCode::InvalidDomain,
        ErrorCode::InvalidScaling,
        ErrorCode::InvalidHealthCheck,
        ErrorCode::InvalidId,
        ErrorCode::InvalidTimestamp,
        ErrorCode::InvalidLimit,
        ErrorCode::LocalReposDisabled,
        ErrorCode::InvalidArgument,
        ErrorCode::InvalidCursor,
        ErrorCode::NameTaken,
        ErrorCode::DomainTaken,
        ErrorCode::RepoNotFound,
        ErrorCode::BranchNotFound,
        ErrorCode::NoDefaultBranch,
        ErrorCode::RepoTooLarge,
        ErrorCode::NotFound,
        ErrorCode::Unauthenticated,
        ErrorCode::VersionConflict,
        ErrorCode::IllegalTransition,
        ErrorCode::AppBusy,
        ErrorCode::LockLost,
        ErrorCode::NotBuilt,
        ErrorCode::NotStopped,
        ErrorCode::AlreadyStopped,
        ErrorCode::BuildFailed,
        ErrorCode::StartFailed,
        ErrorCode::GitError,
        ErrorCode::GitHostNotConfigured,
        ErrorCode::GitHostUnauthorized,
        ErrorCode::GitHostRateLimited,
        ErrorCode::GitHostUnavailable,
        ErrorCode::TooManySubscriptions,
        ErrorCode::Internal,
    ];

    /// The string clients see. Part of the API: never change one.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidName => "INVALID_NAME",
            ErrorCode::InvalidPort => "INVALID_PORT",
            ErrorCode::InvalidEnv => "INVALID_ENV",
            ErrorCode::InvalidRepository => "INVALID_REPOSITORY",
            ErrorCode::InvalidBranch => "INVALID_BRANCH",
            ErrorCode::InvalidCommit => "INVALID_COMMIT",
            ErrorCode::InvalidLanguage => "INVALID_LANGUAGE",
            ErrorCode::InvalidResources => "INVALID_RESOURCES",
            ErrorCode::InvalidDomain => "INVALID_DOMAIN",
            ErrorCode::InvalidScaling => "INVALID_SCALING",
            ErrorCode::InvalidHealthCheck => "INVALID_HEALTH_CHECK",
            ErrorCode::InvalidId => "INVALID_ID",
            ErrorCode::InvalidTimestamp => "INVALID_TIMESTAMP",
            ErrorCode::InvalidLimit => "INVALID_LIMIT",
            ErrorCode::LocalReposDisabled => "LOCAL_REPOS_DISABLED",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::InvalidCursor => "INVALID_CURSOR",
            ErrorCode::NameTaken => "NAME_TAKEN",
            ErrorCode::DomainTaken => "DOMAIN_TAKEN",
            ErrorCode::RepoNotFound => "REPO_NOT_FOUND",
            ErrorCode::BranchNotFound => "BRANCH_NOT_FOUND",
            ErrorCode::NoDefaultBranch => "NO_DEFAULT_BRANCH",
            ErrorCode::RepoTooLarge => "REPO_TOO_LARGE",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::VersionConflict => "VERSION_CONFLICT",
            ErrorCode::IllegalTransition => "ILLEGAL_TRANSITION",
            ErrorCode::AppBusy => "APP_BUSY",
            ErrorCode::LockLost => "LOCK_LOST",
            ErrorCode::NotBuilt => "NOT_BUILT",
            ErrorCode::NotStopped => "NOT_STOPPED",
            ErrorCode::AlreadyStopped => "ALREADY_STOPPED",
            ErrorCode::BuildFailed => "BUILD_FAILED",
            ErrorCode::StartFailed => "START_FAILED",
            ErrorCode::GitError => "GIT_ERROR",
            ErrorCode::GitHostNotConfigured => "GIT_HOST_NOT_CONFIGURED",
            ErrorCode::GitHostUnauthorized => "GIT_HOST_UNAUTHORIZED",
            ErrorCode::GitHostRateLimited => "GIT_HOST_RATE_LIMITED",
            ErrorCode::GitHostUnavailable => "GIT_HOST_UNAVAILABLE",
            ErrorCode::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            ErrorCode::Internal => "INTERNAL",
        }
    }

    /// Whether the error's details must stay in the server log (they may name paths, SQL or
    /// hosts): clients get a fixed message instead.
    pub const fn is_internal(self) -> bool {
        matches!(self, ErrorCode::Internal)
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_is_unique_and_screaming_snake() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "{s} is used twice");
            assert!(
                !s.is_empty()
                    && !s.starts_with('_')
                    && !s.ends_with('_')
                    && !s.contains("__")
                    && s.chars().all(|c| c.is_ascii_uppercase() || c == '_'),
                "{s} is not SCREAMING_SNAKE"
            );
            assert_eq!(code.to_string(), s);
        }
        assert_eq!(seen.len(), ErrorCode::ALL.len());
    }

    /// A new variant breaks this match; whoever adds it here adds it to `ALL` and the count.
    #[test]
    fn all_lists_every_variant() {
        for code in ErrorCode::ALL {
            match code {
                ErrorCode::InvalidName
                | ErrorCode::InvalidPort
                | ErrorCode::InvalidEnv
                | ErrorCode::InvalidRepository
                | ErrorCode::InvalidBranch
                | ErrorCode::InvalidCommit
                | ErrorCode::InvalidLanguage
                | ErrorCode::InvalidResources
                | ErrorCode::InvalidDomain
                | ErrorCode::InvalidScaling
                | ErrorCode::InvalidHealthCheck
                | ErrorCode::InvalidId
                | ErrorCode::InvalidTimestamp
                | ErrorCode::InvalidLimit
                | ErrorCode::LocalReposDisabled
                | ErrorCode::InvalidArgument
                | ErrorCode::InvalidCursor
                | ErrorCode::NameTaken
                | ErrorCode::DomainTaken
                | ErrorCode::RepoNotFound
                | ErrorCode::BranchNotFound
                | ErrorCode::NoDefaultBranch
                | ErrorCode::RepoTooLarge
                | ErrorCode::NotFound
                | ErrorCode::Unauthenticated
                | ErrorCode::VersionConflict
                | ErrorCode::IllegalTransition
                | ErrorCode::AppBusy
                | ErrorCode::LockLost
                | ErrorCode::NotBuilt
                | ErrorCode::NotStopped
                | ErrorCode::AlreadyStopped
                | ErrorCode::BuildFailed
                | ErrorCode::StartFailed
                | ErrorCode::GitError
                | ErrorCode::GitHostNotConfigured
                | ErrorCode::GitHostUnauthorized
                | ErrorCode::GitHostRateLimited
                | ErrorCode::GitHostUnavailable
                | ErrorCode::TooManySubscriptions
                | ErrorCode::Internal => {}
            }
        }
        assert_eq!(ErrorCode::ALL.len(), 41);
    }
}
