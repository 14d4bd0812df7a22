//! Errors of the core: one enum, each variant knowing its [`Fault`] class and its stable API code.

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
    #[error("storage: {0}")]
    Storage(#[source] BoxError),
    #[error("queue: {0}")]
    Queue(String),
    #[error("runtime: {0}")]
    Runtime(String),
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
            Error::Storage(_)
            | Error::Queue(_)
            | Error::Runtime(_)
            | Error::LockLost(_)
            | Error::Secrets(_)
            | Error::Io { .. } => Fault::Platform,
        }
    }

    /// Stable machine-readable code, sent to API clients as `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid(v) => v.code(),
            Error::NameTaken(_) => "NAME_TAKEN",
            Error::RepoNotFound(_) => "REPO_NOT_FOUND",
            Error::BranchNotFound { .. } => "BRANCH_NOT_FOUND",
            Error::NoDefaultBranch(_) => "NO_DEFAULT_BRANCH",
            Error::RepoTooLarge { .. } => "REPO_TOO_LARGE",
            Error::NotFound(_) => "NOT_FOUND",
            Error::Unauthenticated => "UNAUTHENTICATED",
            Error::VersionConflict { .. } => "VERSION_CONFLICT",
            Error::IllegalTransition(_) => "ILLEGAL_TRANSITION",
            Error::Busy(_) => "APP_BUSY",
            Error::LockLost(_) => "LOCK_LOST",
            Error::NotBuilt(_) => "NOT_BUILT",
            Error::NotStopped(_) => "NOT_STOPPED",
            Error::AlreadyStopped => "ALREADY_STOPPED",
            Error::BuildFailed(_) => "BUILD_FAILED",
            Error::StartFailed(_) => "START_FAILED",
            Error::Git { .. } => "GIT_ERROR",
            Error::Storage(_)
            | Error::Queue(_)
            | Error::Runtime(_)
            | Error::Secrets(_)
            | Error::Io { .. } => "INTERNAL",
        }
    }

    /// Wraps a storage driver error.
    pub fn storage(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Error::Storage(Box::new(e))
    }

    /// Wraps an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
