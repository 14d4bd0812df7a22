//! Core errors as GraphQL errors: the message for people, `extensions.code` for programs.
//!
//! This file and [`crate::http_logs`] are the only places where an [`ErrorCode`] becomes
//! something on the wire; both decide by matching on the enum, never on its strings.

use async_graphql::{ErrorExtensionValues, ErrorExtensions};
use paas_core::git::hosts::GitHostError;
use paas_core::{Error, ErrorCode};

/// The message clients get for an internal error, whose details stay in the server log.
pub const INTERNAL_MESSAGE: &str = "internal error; the server log has the details";

/// Converts a core error. Internal errors are logged in full and answered without details, so
/// nothing about the server's insides (paths, SQL) reaches clients.
pub fn gql(e: Error) -> async_graphql::Error {
    let code = e.code();
    let message = if code.is_internal() {
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "internal error");
        INTERNAL_MESSAGE.to_owned()
    } else {
        e.to_string()
    };
    let reset_at = match &e {
        Error::GitHost(GitHostError::RateLimited {
            reset_at: Some(t), ..
        }) => Some(t.to_rfc3339()),
        _ => None,
    };
    let error = coded(code, message);
    match reset_at {
        // When a rate limit lifts, for programs to wait until.
        Some(t) => error.extend_with(|_, ext| ext.set("resetAt", t)),
        None => error,
    }
}

/// An error with a code, for refusals made at the edge.
pub fn coded(code: ErrorCode, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, ext| set_code(ext, code))
}

/// Writes `code` as the error's `extensions.code`: the one place the GraphQL wire form of a
/// code is made.
pub fn set_code(ext: &mut ErrorExtensionValues, code: ErrorCode) {
    ext.set("code", code.as_str());
}

/// `Result` of resolvers.
pub type GqlResult<T> = async_graphql::Result<T>;

/// `.map_err(gql)` for any result carrying a core error.
pub trait OrGql<T> {
    fn gql(self) -> GqlResult<T>;
}

impl<T, E: Into<Error>> OrGql<T> for Result<T, E> {
    fn gql(self) -> GqlResult<T> {
        self.map_err(|e| gql(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::Value;
    use paas_core::model::ValidationError;

    fn code_of(e: Error) -> (String, String) {
        let e = gql(e);
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .cloned()
            .unwrap_or(Value::Null);
        (code.to_string(), e.message)
    }

    #[test]
    fn core_errors_reach_clients_with_their_codes() {
        let cases = [
            (Error::NameTaken("web".into()), "\"NAME_TAKEN\""),
            (Error::Busy("a deploy".into()), "\"APP_BUSY\""),
            (Error::RepoNotFound("u".into()), "\"REPO_NOT_FOUND\""),
            (Error::NoDefaultBranch("u".into()), "\"NO_DEFAULT_BRANCH\""),
            (Error::NotFound("application"), "\"NOT_FOUND\""),
            (Error::Unauthenticated, "\"UNAUTHENTICATED\""),
            (
                Error::Invalid(ValidationError::Name("x".into())),
                "\"INVALID_NAME\"",
            ),
            (
                Error::Invalid(ValidationError::Ports("x".into())),
                "\"INVALID_PORT\"",
            ),
            (
                Error::Invalid(ValidationError::LocalReposDisabled),
                "\"LOCAL_REPOS_DISABLED\"",
            ),
        ];
        for (error, want) in cases {
            let shown = error.to_string();
            let (code, message) = code_of(error);
            assert_eq!(code, want);
            assert_eq!(message, shown, "user errors keep their message");
        }
    }

    #[test]
    fn internal_errors_hide_their_details() {
        let io = std::io::Error::other("/var/lib/paas/secret-path");
        for error in [
            Error::runtime_from("podman create", io),
            Error::queue("redis push: connection refused"),
            Error::storage(std::io::Error::other("SELECT * FROM users")),
        ] {
            let (code, message) = code_of(error);
            assert_eq!(code, "\"INTERNAL\"");
            assert_eq!(message, INTERNAL_MESSAGE);
        }
    }

    #[test]
    fn edge_refusals_carry_their_code() {
        let e = coded(ErrorCode::InvalidCursor, "not a cursor");
        let code = e.extensions.as_ref().and_then(|x| x.get("code")).cloned();
        assert_eq!(code, Some(Value::from("INVALID_CURSOR")));
    }
}
