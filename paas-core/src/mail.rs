//! The [`Mailer`] port: one message to one address, sent now or refused with a reason. Urgent
//! notifications go through it (`outbox::mail`), and so will add-on credentials.
//! Adapter: [`smtp::SmtpMailer`] (SMTP through `lettre`, STARTTLS or implicit TLS).

pub mod smtp;

use async_trait::async_trait;

use crate::model::EmailAddress;

/// A plain-text message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    pub to: EmailAddress,
    pub subject: String,
    pub body: String,
}

/// Why a mail was not sent.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MailError {
    pub message: String,
    /// The server refused the message for good (a 5xx answer, a bad address): retrying the
    /// same mail cannot help.
    pub permanent: bool,
}

/// Sends mail. `send` returns once the server accepted the message or refused it; callers that
/// must not wait (the platform's flows) queue the work instead (see `outbox`).
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(&self, mail: &Mail) -> Result<(), MailError>;
}
