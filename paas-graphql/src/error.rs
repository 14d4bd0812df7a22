//! Core errors as GraphQL errors: the message for people, `extensions.code` for programs.

use async_graphql::ErrorExtensions;
use paas_core::Error;

/// Converts a core error. Internal errors are logged in full and answered without details, so
/// nothing about the server's insides (paths, SQL) reaches clients.
pub fn gql(e: Error) -> async_graphql::Error {
    let code = e.code();
    let message = if code == "INTERNAL" {
        tracing::error!(error = %e, source = ?std::error::Error::source(&e), "internal error");
        "internal error; the server log has the details".to_owned()
    } else {
        e.to_string()
    };
    async_graphql::Error::new(message).extend_with(|_, ext| ext.set("code", code))
}

/// An error with a code, for refusals made at the edge.
pub fn coded(code: &'static str, message: impl Into<String>) -> async_graphql::Error {
    async_graphql::Error::new(message.into()).extend_with(|_, ext| ext.set("code", code))
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
