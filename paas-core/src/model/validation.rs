use std::fmt;

use crate::error::ErrorCode;

/// How much of a refused input an error quotes: enough to recognise it, never the whole of a
/// hostile one (a 10 MB name must not come back as a 10 MB error).
pub const QUOTE_CHARS: usize = 64;

/// An input quoted in an error message: `"…"` with escapes, cut after [`QUOTE_CHARS`]
/// characters with its full length said.
pub struct Quoted<'a>(pub &'a str);

/// Quotes `s` for an error message (see [`Quoted`]).
pub fn quote(s: &str) -> Quoted<'_> {
    Quoted(s)
}

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(QUOTE_CHARS) {
            None => write!(f, "{:?}", self.0),
            Some((cut, _)) => {
                let head = &self.0[..cut];
                let quoted = format!("{head:?}");
                let open = quoted.strip_suffix('"').unwrap_or(&quoted);
                write!(f, "{open}…\" ({} bytes)", self.0.len())
            }
        }
    }
}

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
    #[error("invalid domain: {0}")]
    Domain(String),
    #[error("invalid scaling: {0}")]
    Scaling(String),
    #[error("invalid health check: {0}")]
    HealthCheck(String),
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
    pub fn code(&self) -> ErrorCode {
        match self {
            ValidationError::Name(_) => ErrorCode::InvalidName,
            ValidationError::Port(_) => ErrorCode::InvalidPort,
            ValidationError::Env(_) => ErrorCode::InvalidEnv,
            ValidationError::GitUrl(_) => ErrorCode::InvalidRepository,
            ValidationError::Branch(_) => ErrorCode::InvalidBranch,
            ValidationError::Commit(_) => ErrorCode::InvalidCommit,
            ValidationError::Language(_) => ErrorCode::InvalidLanguage,
            ValidationError::Resources(_) => ErrorCode::InvalidResources,
            ValidationError::Ports(_) => ErrorCode::InvalidPort,
            ValidationError::Domain(_) => ErrorCode::InvalidDomain,
            ValidationError::Scaling(_) => ErrorCode::InvalidScaling,
            ValidationError::HealthCheck(_) => ErrorCode::InvalidHealthCheck,
            ValidationError::Id(_) => ErrorCode::InvalidId,
            ValidationError::Timestamp(_) => ErrorCode::InvalidTimestamp,
            ValidationError::Limit(_) => ErrorCode::InvalidLimit,
            ValidationError::LocalReposDisabled => ErrorCode::LocalReposDisabled,
        }
    }
}

#[cfg(test)]
mod quote_tests {
    use super::*;

    #[test]
    fn short_inputs_are_quoted_whole_and_long_ones_cut() {
        assert_eq!(quote("ab\"c").to_string(), r#""ab\"c""#);
        let long = "é".repeat(100_000);
        let q = quote(&long).to_string();
        assert!(q.len() < 200, "{q}");
        assert!(
            q.starts_with("\"éé") && q.ends_with("…\" (200000 bytes)"),
            "{q}"
        );
    }
}
