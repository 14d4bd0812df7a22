//! [`SmtpMailer`]: the [`Mailer`] over SMTP with `lettre`.
//!
//! The server is given as one URL ([`SmtpMailer::new`]):
//! - `smtps://user:pass@host:465`: TLS from the first byte (implicit TLS);
//! - `smtp://user:pass@host:587`: STARTTLS, required (a server that does not offer it fails);
//! - `smtp://host:25?tls=opportunistic`: STARTTLS when offered, plain otherwise;
//! - `smtp://host:25?tls=none`: plain text, for a local relay only.
//!
//! Credentials are percent-decoded from the URL. Every connection is bounded by a timeout.

use std::time::Duration;

use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};

use super::{Mail, MailError, Mailer};
use crate::model::EmailAddress;

/// How long one SMTP conversation may take before it counts as failed.
const TIMEOUT: Duration = Duration::from_secs(15);

/// Sends through one SMTP server, from one address.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

/// The URL as `lettre` reads it: our `smtp://` without `tls` means STARTTLS required (lettre's
/// means plain), `tls=none` means plain.
fn lettre_url(url: &str) -> Result<String, String> {
    let mut parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let tls = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let others: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "tls")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if !others.is_empty() {
        return Err(format!(
            "unknown parameter `{}` (only `tls` is read)",
            others[0].0
        ));
    }
    let tls = match (parsed.scheme(), tls.as_deref()) {
        ("smtps", None) => None,
        ("smtps", Some(t)) => return Err(format!("`tls={t}` does not go with smtps://")),
        ("smtp", None | Some("required")) => Some("required"),
        ("smtp", Some("opportunistic")) => Some("opportunistic"),
        ("smtp", Some("none")) => None,
        ("smtp", Some(t)) => {
            return Err(format!(
                "`tls={t}`: use `required` (the default), `opportunistic` or `none`"
            ));
        }
        (s, _) => return Err(format!("scheme `{s}`: use smtp:// or smtps://")),
    };
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("no host".into());
    }
    parsed.set_query(None);
    if let Some(tls) = tls {
        parsed.query_pairs_mut().append_pair("tls", tls);
    }
    Ok(parsed.to_string())
}

impl SmtpMailer {
    /// A mailer for the server at `url` (see the module doc), sending from `from`
    /// (`paas@example.com` or `Paas <paas@example.com>`). Connects only when sending; call it
    /// inside a Tokio runtime (the connection pool runs there).
    pub fn new(url: &str, from: &str) -> Result<Self, String> {
        let from: Mailbox = from
            .trim()
            .parse()
            .map_err(|e| format!("mail_from {from:?} is not an address: {e}"))?;
        let url = lettre_url(url).map_err(|e| format!("smtp_url: {e}"))?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("smtp_url: {e}"))?
            .timeout(Some(TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to_lettre(&mail.to)))
            .subject(&mail.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| MailError {
                message: format!("the message could not be built: {e}"),
                permanent: true,
            })
    }
}

fn to_lettre(to: &EmailAddress) -> lettre::Address {
    to.address().clone()
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError {
                message: format!("SMTP: {e}"),
                permanent: e.is_permanent(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_say_the_tls_asked() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example.com:587").as_deref(),
            Ok("smtp://u:p@mail.example.com:587?tls=required")
        );
        assert_eq!(
            lettre_url("smtp://mail.example.com:25?tls=opportunistic").as_deref(),
            Ok("smtp://mail.example.com:25?tls=opportunistic")
        );
        assert_eq!(
            lettre_url("smtp://127.0.0.1:2525?tls=none").as_deref(),
            Ok("smtp://127.0.0.1:2525")
        );
        assert_eq!(
            lettre_url("smtps://u:p@mail.example.com").as_deref(),
            Ok("smtps://u:p@mail.example.com")
        );
        for bad in [
            "http://mail.example.com",
            "smtp://mail.example.com?tls=maybe",
            "smtps://mail.example.com?tls=none",
            "smtp://mail.example.com?foo=1",
            "not a url",
        ] {
            assert!(lettre_url(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_sender_is_checked() {
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525?tls=none", "paas@example.com").is_ok());
        assert!(
            SmtpMailer::new("smtp://127.0.0.1:2525?tls=none", "Paas <paas@example.com>").is_ok()
        );
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525?tls=none", "not an address").is_err());
    }
}
