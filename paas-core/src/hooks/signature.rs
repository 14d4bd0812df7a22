//! Who sent a delivery and whether they hold the hook's secret.
//!
//! Guarantees: a signature is checked over the raw bytes received, before any parsing, and
//! compared in constant time (`hmac`'s `verify_slice`, `subtle` for GitLab's token); a missing
//! or malformed signature fails like a wrong one.

use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;
use subtle::ConstantTimeEq;

/// The git hosts whose push webhooks are understood.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HookProvider {
    /// `X-GitHub-Event`, `X-Hub-Signature-256: sha256=<hex>`, `X-GitHub-Delivery`.
    GitHub,
    /// Gitea and Forgejo: `X-Gitea-Event`, `X-Gitea-Signature: <hex>`, `X-Gitea-Delivery`.
    Gitea,
    /// `X-Gitlab-Event`, `X-Gitlab-Token: <secret>`, `X-Gitlab-Event-UUID`.
    GitLab,
}

/// One delivery as received: the headers that matter and the raw body.
#[derive(Clone, Debug)]
pub struct Delivery<'a> {
    pub provider: HookProvider,
    /// The event's name as the host spells it (`push`, `ping`, `Push Hook`, ...).
    pub event: &'a str,
    /// The signature (GitHub, Gitea) or token (GitLab) header, as sent.
    pub signature: Option<&'a str>,
    /// The host's id of this delivery (the same on a redelivery).
    pub id: Option<&'a str>,
    pub body: &'a [u8],
}

impl<'a> Delivery<'a> {
    /// Reads a delivery from its headers (`header(name)`, case-insensitive names); `None` when
    /// no known host's event header is there. Gitea also sends GitHub's headers, so its own are
    /// looked at first.
    pub fn from_headers(header: impl Fn(&str) -> Option<&'a str>, body: &'a [u8]) -> Option<Self> {
        let of = |provider, event: &str, signature: &str, id: &str| {
            header(event).map(|event| Delivery {
                provider,
                event,
                signature: header(signature),
                id: header(id),
                body,
            })
        };
        of(
            HookProvider::Gitea,
            "x-gitea-event",
            "x-gitea-signature",
            "x-gitea-delivery",
        )
        .or_else(|| {
            of(
                HookProvider::Gitea,
                "x-forgejo-event",
                "x-forgejo-signature",
                "x-forgejo-delivery",
            )
        })
        .or_else(|| {
            of(
                HookProvider::GitLab,
                "x-gitlab-event",
                "x-gitlab-token",
                "x-gitlab-event-uuid",
            )
        })
        .or_else(|| {
            of(
                HookProvider::GitHub,
                "x-github-event",
                "x-hub-signature-256",
                "x-github-delivery",
            )
        })
    }

    /// Whether the delivery was signed (or, for GitLab, carries the token) with `secret`.
    pub fn verify(&self, secret: &str) -> bool {
        let Some(signature) = self.signature else {
            return false;
        };
        match self.provider {
            HookProvider::GitHub => signature
                .strip_prefix("sha256=")
                .is_some_and(|hex| hmac_matches(secret, self.body, hex)),
            HookProvider::Gitea => hmac_matches(secret, self.body, signature),
            HookProvider::GitLab => signature.as_bytes().ct_eq(secret.as_bytes()).into(),
        }
    }

    /// Whether the event is about a pull (merge) request.
    pub fn is_pull_request(&self) -> bool {
        match self.provider {
            HookProvider::GitHub => self.event == "pull_request",
            // Gitea names pushes to a request `pull_request_sync` in some versions.
            HookProvider::Gitea => {
                self.event == "pull_request" || self.event == "pull_request_sync"
            }
            HookProvider::GitLab => self.event == "Merge Request Hook",
        }
    }

    /// Whether the event is a push of a branch or tag.
    pub fn is_push(&self) -> bool {
        match self.provider {
            HookProvider::GitHub | HookProvider::Gitea => self.event == "push",
            HookProvider::GitLab => self.event == "Push Hook" || self.event == "Tag Push Hook",
        }
    }
}

/// Whether `hex` is the HMAC-SHA256 of `body` under `secret`.
fn hmac_matches(secret: &str, body: &[u8], hex: &str) -> bool {
    let Ok(tag) = hex::decode(hex.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// The hex HMAC-SHA256 of `body` under `secret`: what a host sends (tests sign with it).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<&'a str> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
        }
    }

    #[test]
    fn the_hmac_of_rfc_4231_case_2() {
        assert_eq!(
            sign("Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn github_signatures() {
        let body = br#"{"ref":"refs/heads/main"}"#;
        let good = format!("sha256={}", sign("s3cret", body));
        let h = [
            ("X-GitHub-Event", "push"),
            ("X-Hub-Signature-256", good.as_str()),
            ("X-GitHub-Delivery", "d1"),
        ];
        let d = Delivery::from_headers(headers(&h), body).expect("a GitHub delivery");
        assert_eq!(d.provider, HookProvider::GitHub);
        assert_eq!(d.id, Some("d1"));
        assert!(d.is_push());
        assert!(d.verify("s3cret"));
        assert!(!d.verify("other"));
        let tampered = Delivery {
            body: br#"{"ref":"refs/heads/evil"}"#,
            ..d.clone()
        };
        assert!(!tampered.verify("s3cret"));
        let bare = sign("s3cret", body);
        assert!(
            !Delivery {
                signature: Some(&bare),
                ..d.clone()
            }
            .verify("s3cret")
        );
        assert!(
            !Delivery {
                signature: Some("sha256=zz"),
                ..d.clone()
            }
            .verify("s3cret")
        );
        assert!(
            !Delivery {
                signature: None,
                ..d
            }
            .verify("s3cret")
        );
    }

    #[test]
    fn gitea_before_the_github_headers_it_also_sends() {
        let body = b"{}";
        let sig = sign("k", body);
        let h = [
            ("X-GitHub-Event", "push"),
            ("X-Gitea-Event", "push"),
            ("X-Gitea-Signature", sig.as_str()),
            ("X-Gitea-Delivery", "g1"),
        ];
        let d = Delivery::from_headers(headers(&h), body).expect("a Gitea delivery");
        assert_eq!(d.provider, HookProvider::Gitea);
        assert!(d.verify("k"));
        assert!(!d.verify("K"));
    }

    #[test]
    fn gitlab_tokens() {
        let h = [
            ("X-Gitlab-Event", "Push Hook"),
            ("X-Gitlab-Token", "tok"),
            ("X-Gitlab-Event-UUID", "u1"),
        ];
        let d = Delivery::from_headers(headers(&h), b"{}").expect("a GitLab delivery");
        assert_eq!(d.provider, HookProvider::GitLab);
        assert!(d.is_push());
        assert!(d.verify("tok"));
        assert!(!d.verify("to"));
        assert!(!d.verify("tok2"));
    }

    #[test]
    fn no_known_event_header() {
        let h = [("X-Hub-Signature-256", "sha256=00")];
        assert!(Delivery::from_headers(headers(&h), b"{}").is_none());
    }
}
