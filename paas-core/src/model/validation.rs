/// Why a value was refused. Each variant maps to one stable API code.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("invalid name: {0}")]
    Name(String),
    #[error("invalid port: {0}")]
    Port(String),
    #[error("invalid environment variable: {0}")]
    Env(String),
    #[error("invalid repository URL: {0}")]
    GitUrl(String),
    #[error("invalid branch: {0}")]
    Branch(String),
    #[error("invalid commit: {0}")]
    Commit(String),
    #[error("invalid language: {0}")]
    Language(String),
    #[error("invalid resources: {0}")]
    Resources(String),
    #[error("invalid port bindings: {0}")]
    Ports(String),
    #[error("invalid id: {0}")]
    Id(String),
    #[error("invalid timestamp: {0}")]
    Timestamp(String),
    #[error("invalid limit: {0}")]
    Limit(String),
    #[error("local repositories (file://) are turned off on this server")]
    LocalReposDisabled,
}

impl ValidationError {
    /// Stable API code.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::Name(_) => "INVALID_NAME",
            ValidationError::Port(_) => "INVALID_PORT",
            ValidationError::Env(_) => "INVALID_ENV",
            ValidationError::GitUrl(_) => "INVALID_REPOSITORY",
            ValidationError::Branch(_) => "INVALID_BRANCH",
            ValidationError::Commit(_) => "INVALID_COMMIT",
            ValidationError::Language(_) => "INVALID_LANGUAGE",
            ValidationError::Resources(_) => "INVALID_RESOURCES",
            ValidationError::Ports(_) => "INVALID_PORT",
            ValidationError::Id(_) => "INVALID_ID",
            ValidationError::Timestamp(_) => "INVALID_TIMESTAMP",
            ValidationError::Limit(_) => "INVALID_LIMIT",
            ValidationError::LocalReposDisabled => "LOCAL_REPOS_DISABLED",
        }
    }
}
