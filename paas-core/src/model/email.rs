//! [`EmailAddress`]: where a user's urgent notifications are mailed.

use std::fmt;

use super::validation::{ValidationError, quote};

/// Longest address accepted (RFC 5321's limit on a path).
pub const MAX_EMAIL_LEN: usize = 254;

/// A syntactically valid email address (`local@domain`), as `lettre` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(lettre::Address);

impl EmailAddress {
    /// Reads an address, trimmed; `INVALID_EMAIL` when it is not one.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let s = s.trim();
        if s.len() > MAX_EMAIL_LEN {
            return Err(ValidationError::Email(format!(
                "{} is longer than {MAX_EMAIL_LEN} bytes",
                quote(s)
            )));
        }
        s.parse::<lettre::Address>()
            .map(Self)
            .map_err(|e| ValidationError::Email(format!("{} is not an address: {e}", quote(s))))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }

    /// The address as `lettre` sends to it.
    pub fn address(&self) -> &lettre::Address {
        &self.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn addresses_are_checked() {
        assert_eq!(
            EmailAddress::parse(" ada@example.com ")
                .expect("valid")
                .as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a b@example.com",
            "ada@exa mple.com",
        ] {
            let e = EmailAddress::parse(bad).expect_err(bad);
            assert_eq!(e.code(), ErrorCode::InvalidEmail, "{bad}");
        }
        let long = format!("{}@example.com", "a".repeat(300));
        assert!(EmailAddress::parse(&long).is_err());
    }
}
