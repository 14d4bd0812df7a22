//! What can go wrong with sealed secrets; each one says what to do about it.

use super::KeyId;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// A value was sealed with a key this process does not have: the wrong `PAAS_SECRET_KEY`, a
    /// lost key file, or a rotation whose new key was not given.
    #[error(
        "a secret in the database ({context}) was sealed with key {found}, which is not \
         configured (this process has {known}); start with that key in PAAS_SECRET_KEY \
         (or its key file), or add it to PAAS_SECRET_KEY_PREVIOUS"
    )]
    UnknownKey {
        found: KeyId,
        known: String,
        context: String,
    },
    /// The key matched by id but the value does not open: it was changed or moved.
    #[error("the secret {context} does not open with key {key}: it was altered or moved")]
    Tampered { key: KeyId, context: String },
    /// Sealed text that is not in the `paas:v1:` format.
    #[error("the secret {context} is not valid sealed text")]
    Malformed { context: String },
    /// A key given in the environment or a key file that is not 32 bytes of hex or base64.
    #[error("{origin} is not a secret key: {why}")]
    BadKey { origin: String, why: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl SecretsError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}
