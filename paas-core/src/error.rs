//! Errors of the core: one enum, each variant knowing its [`Fault`] class and its stable API code.

mod code;

use std::fmt;

pub use code::ErrorCode;

use crate::git::hosts::GitHostError;
use crate::model::ValidationError;
use crate::status::IllegalTransition;

/// Who is to blame for a failure, which decides whether it is retried.
///
/// Only [`Fault::Platform`] faults are retried (by [`crate::retry::RetryPolicy`]); a user fault
/// would fail the same way again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Bad input, a broken build script, an app that will not start: retrying cannot help.
    User,
    /// A socket down, a timeout, a full disk: the same request may succeed later.
    Platform,
}

/// Boxed source error, so that adapters can keep their own error types behind the ports.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Everything that can go wrong in the core and its ports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("the name {0} is already taken")]
    NameTaken(String),
    #[error("the domain {0} already routes to an application")]
    DomainTaken(String),
    #[error("repository {0} was not found or cannot be read")]
    RepoNotFound(String),
    #[error("branch {branch} was not found in {url}")]
    BranchNotFound { url: String, branch: String },
    /// No branch was named and the repository's `HEAD` names none the platform can use
    /// (detached, unborn, a broken or looping symbolic ref, an unusable branch name).
    #[error(
        "repository {0} has no usable default branch (its HEAD is detached, unborn or broken): \
         name a branch"
    )]
    NoDefaultBranch(String),
    /// A repository past the platform's bounds (disk a checkout may use, refs it may list).
    #[error("repository {url} is too large: {what}")]
    RepoTooLarge { url: String, what: String },
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("missing or invalid token")]
    Unauthenticated,
    #[error("the application changed meanwhile (expected version {expected}, found {found})")]
    VersionConflict { expected: i64, found: i64 },
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// Another task is under way on the app; says which.
    #[error("the application is busy: {0}")]
    Busy(String),
    /// A start of an app that is not stopped (says what it is).
    #[error("the application is not stopped: it is {0}")]
    NotStopped(String),
    /// A stop of an app a user already stopped.
    #[error("the application is already stopped")]
    AlreadyStopped,
    /// The task needs a built deployment and there is none.
    #[error("nothing to run: {0}")]
    NotBuilt(String),
    /// A lock this task held was taken over (a forced task) or lapsed; the task stopped.
    #[error("the lock {0} was lost: another task took it over")]
    LockLost(String),
    /// A build that failed because of the app's code or configuration.
    #[error("build failed: {0}")]
    BuildFailed(String),
    /// An app that was built but would not start or answer.
    #[error("start failed: {0}")]
    StartFailed(String),
    #[error("git: {message}")]
    Git {
        message: String,
        fault: Fault,
        #[source]
        source: Option<BoxError>,
    },
    /// A git host's API refused or failed (see [`crate::git::hosts`]).
    #[error(transparent)]
    GitHost(#[from] crate::git::hosts::GitHostError),
    #[error("storage: {0}")]
    Storage(#[source] BoxError),
    /// The queue or event bus (Redis) failed. `message` is whole for people (it quotes the
    /// source's text); `source` keeps the driver's error for logs and callers that inspect it.
    #[error("queue: {message}")]
    Queue {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// The runtime or image builder failed (Podman, Nomad, a local process). Same shape as
    /// [`Error::Queue`]: the message says it all, the source is kept where there is one.
    #[error("runtime: {message}")]
    Runtime {
        message: String,
        #[source]
        source: Option<BoxError>,
    },
    /// A sealed secret that cannot be opened (wrong key, altered value) or a bad key.
    #[error("secrets: {0}")]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("io: {context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

/// Shorthand used across the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether retrying may help.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Invalid(_)
            | Error::NameTaken(_)
            | Error::DomainTaken(_)
            | Error::RepoNotFound(_)
            | Error::BranchNotFound { .. }
            | Error::NoDefaultBranch(_)
            | Error::RepoTooLarge { .. }
            | Error::NotFound(_)
            | Error::Unauthenticated
            | Error::VersionConflict { .. }
            | Error::IllegalTransition(_)
            | Error::Busy(_)
            | Error::NotBuilt(_)
            | Error::NotStopped(_)
            | Error::AlreadyStopped
            | Error::BuildFailed(_)
            | Error::StartFailed(_) => Fault::User,
            Error::Git { fault, .. } => *fault,
            Error::GitHost(e) => match e {
                GitHostError::RateLimited { .. } | GitHostError::Unavailable { .. } => {
                    Fault::Platform
                }
                GitHostError::NoToken(_)
                | GitHostError::Unauthorized(_)
                | GitHostError::BadBaseUrl(_) => Fault::User,
            },
            Error::Storage(_)
            | Error::Queue { .. }
            | Error::Runtime { .. }
            | Error::LockLost(_)
            | Error::Secrets(_)
            | Error::Io { .. } => Fault::Platform,
        }
    }

    /// Stable machine-readable code, sent to API clients (see [`ErrorCode`]).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Invalid(v) => v.code(),
            Error::NameTaken(_) => ErrorCode::NameTaken,
            Error::DomainTaken(_) => ErrorCode::DomainTaken,
            Error::RepoNotFound(_) => ErrorCode::RepoNotFound,
            Error::BranchNotFound { .. } => ErrorCode::BranchNotFound,
            Error::NoDefaultBranch(_) => ErrorCode::NoDefaultBranch,
            Error::RepoTooLarge { .. } => ErrorCode::RepoTooLarge,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::Unauthenticated => ErrorCode::Unauthenticated,
            Error::VersionConflict { .. } => ErrorCode::VersionConflict,
            Error::IllegalTransition(_) => ErrorCode::IllegalTransition,
            Error::Busy(_) => ErrorCode::AppBusy,
            Error::LockLost(_) => ErrorCode::LockLost,
            Error::NotBuilt(_) => ErrorCode::NotBuilt,
            Error::NotStopped(_) => ErrorCode::NotStopped,
            Error::AlreadyStopped => ErrorCode::AlreadyStopped,
            Error::BuildFailed(_) => ErrorCode::BuildFailed,
            Error::StartFailed(_) => ErrorCode::StartFailed,
            Error::Git { .. } => ErrorCode::GitError,
            Error::GitHost(e) => match e {
                GitHostError::NoToken(_) => ErrorCode::GitHostNotConfigured,
                GitHostError::Unauthorized(_) => ErrorCode::GitHostUnauthorized,
                GitHostError::RateLimited { .. } => ErrorCode::GitHostRateLimited,
                GitHostError::Unavailable { .. } => ErrorCode::GitHostUnavailable,
                GitHostError::BadBaseUrl(_) => ErrorCode::InvalidArgument,
            },
            Error::Storage(_)
            | Error::Queue { .. }
            | Error::Runtime { .. }
            | Error::Secrets(_)
            | Error::Io { .. } => ErrorCode::Internal,
        }
    }

    /// Wraps a storage driver error.
    pub fn storage(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Storage(Box::new(e))
    }

    /// A queue failure with nothing underneath (a message that cannot be queued, say).
    pub fn queue(message: impl Into<String>) -> Self {
        Error::Queue {
            message: message.into(),
            source: None,
        }
    }

    /// A queue failure caused by `source`: the message is `"{context}: {source}"`.
    pub fn queue_from(
        context: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Queue {
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }

    /// A runtime failure with nothing underneath (a missing port, an answer without a field).
    pub fn runtime(message: impl Into<String>) -> Self {
        Error::Runtime {
            message: message.into(),
            source: None,
        }
    }

    /// A runtime failure caused by `source`: the message is `"{context}: {source}"`.
    pub fn runtime_from(
        context: impl fmt::Display,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Error::Runtime {
            message: format!("{context}: {source}"),
            source: Some(Box::new(source)),
        }
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn codes_keep_their_strings() {
        let cases = [
            (Error::NameTaken("web".into()), "NAME_TAKEN"),
            (Error::Busy("a deploy".into()), "APP_BUSY"),
            (Error::RepoNotFound("u".into()), "REPO_NOT_FOUND"),
            (Error::NoDefaultBranch("u".into()), "NO_DEFAULT_BRANCH"),
            (Error::LockLost("app".into()), "LOCK_LOST"),
            (
                Error::Invalid(ValidationError::GitUrl("x".into())),
                "INVALID_REPOSITORY",
            ),
            (Error::queue("full"), "INTERNAL"),
            (Error::runtime("down"), "INTERNAL"),
        ];
        for (error, code) in cases {
            assert_eq!(error.code().as_str(), code, "{error}");
        }
    }

    #[test]
    fn runtime_and_queue_errors_keep_their_source() {
        let e = Error::runtime_from("podman create", std::io::Error::other("socket gone"));
        assert_eq!(e.to_string(), "runtime: podman create: socket gone");
        assert_eq!(e.fault(), Fault::Platform);
        let source = e.source().map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("socket gone"));
        let e = Error::queue_from("redis push", std::io::Error::other("refused"));
        assert_eq!(e.to_string(), "queue: redis push: refused");
        assert!(e.source().is_some());
        assert!(Error::runtime("no port").source().is_none());
    }
}
