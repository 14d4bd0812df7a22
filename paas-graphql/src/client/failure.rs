//! What went wrong in a client command, and the exit code it gives (documented in `paas
//! --help` and the README, so scripts can rely on them).

/// The exit codes of the client commands.
pub mod exit {
    /// The API refused (its code and message shown), or a watched app or task ended FAILED.
    pub const REFUSED: u8 = 1;
    /// A usage error (clap's own exit code for a bad command line).
    pub const USAGE: u8 = 2;
    /// Not logged in, or the token was refused (`UNAUTHENTICATED`).
    pub const UNAUTHENTICATED: u8 = 3;
    /// No such app (`NOT_FOUND`).
    pub const NOT_FOUND: u8 = 4;
    /// The server cannot be reached.
    pub const UNREACHABLE: u8 = 5;
}

use paas_core::ErrorCode;

/// Why a command failed.
#[derive(Debug)]
pub enum Failure {
    /// The API answered an error: its `extensions.code` (as sent: a newer server may send a
    /// code this client does not know) and message.
    Api { code: String, message: String },
    /// No server or token: neither given nor stored by `paas login`.
    NotLoggedIn,
    /// Nothing answered at the server's address.
    Unreachable { server: String, detail: String },
    /// A followed app or task ended failed.
    Failed { reason: String },
    /// Refused before anything was sent.
    Usage(String),
    /// A local problem (the credentials file, a broken answer).
    Local(String),
}

impl Failure {
    /// An error of the API's with one of its codes.
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        Failure::Api {
            code: code.as_str().to_owned(),
            message: message.into(),
        }
    }

    /// The app `name` does not exist (or is not the viewer's), as the API says it.
    pub fn not_found(name: &str) -> Self {
        Self::api(
            ErrorCode::NotFound,
            format!("no application named `{name}`"),
        )
    }

    /// The API's code, when this client knows it.
    fn known_code(&self) -> Option<ErrorCode> {
        match self {
            Failure::Api { code, .. } => {
                ErrorCode::ALL.iter().copied().find(|c| c.as_str() == code)
            }
            _ => None,
        }
    }

    /// The code shown before the message (the API's own code where it answered one).
    pub fn code(&self) -> &str {
        match self {
            Failure::Api { code, .. } => code,
            Failure::NotLoggedIn => "NOT_LOGGED_IN",
            Failure::Unreachable { .. } => "UNREACHABLE",
            Failure::Failed { .. } => "FAILED",
            Failure::Usage(_) => "USAGE",
            Failure::Local(_) => "ERROR",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Failure::Api { message, .. } => message.clone(),
            Failure::NotLoggedIn => "not logged in: run `paas login <server-url>`, or set \
                                     PAAS_SERVER and PAAS_TOKEN"
                .into(),
            Failure::Unreachable { server, detail } => {
                format!("cannot reach the server at {server}: {detail}")
            }
            Failure::Failed { reason } | Failure::Usage(reason) | Failure::Local(reason) => {
                reason.clone()
            }
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Api { .. } => match self.known_code() {
                Some(ErrorCode::Unauthenticated) => exit::UNAUTHENTICATED,
                Some(ErrorCode::NotFound) => exit::NOT_FOUND,
                _ => exit::REFUSED,
            },
            Failure::NotLoggedIn => exit::UNAUTHENTICATED,
            Failure::Unreachable { .. } => exit::UNREACHABLE,
            Failure::Usage(_) => exit::USAGE,
            Failure::Failed { .. } | Failure::Local(_) => exit::REFUSED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_documented_exit_codes() {
        let api = |code: &str| Failure::Api {
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(api("UNAUTHENTICATED").exit_code(), 3);
        assert_eq!(api("NOT_FOUND").exit_code(), 4);
        assert_eq!(api("APP_BUSY").exit_code(), 1);
        assert_eq!(api("A_CODE_OF_A_NEWER_SERVER").exit_code(), 1);
        assert_eq!(Failure::NotLoggedIn.exit_code(), 3);
        let unreachable = Failure::Unreachable {
            server: "http://x".into(),
            detail: "refused".into(),
        };
        assert_eq!(unreachable.exit_code(), 5);
        assert_eq!(Failure::Usage("no".into()).exit_code(), 2);
        assert_eq!(Failure::Failed { reason: "x".into() }.exit_code(), 1);
    }
}
