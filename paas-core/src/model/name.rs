use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// An application name: a DNS label (1–63 of `[a-z0-9-]`, no leading or trailing `-`), so it can
/// name a host, a container and an image tag without escaping.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AppName(String);

impl AppName {
    /// Parses a name, refusing anything that is not a DNS label.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            Err(ValidationError::Name(format!(
                "{} {why}",
                super::validation::quote(s)
            )))
        };
        if s.is_empty() || s.len() > 63 {
            return bad("must be 1 to 63 characters long");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("may hold only lowercase letters, digits and '-'");
        }
        if s.starts_with('-') || s.ends_with('-') {
            return bad("may not start or end with '-'");
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for AppName {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<AppName> for String {
    fn from(n: AppName) -> Self {
        n.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "my-app", "app2", &"x".repeat(63)] {
            assert!(AppName::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "-app",
            "app-",
            "My-App",
            "my_app",
            "a.b",
            "é",
            &"x".repeat(64),
        ] {
            assert!(AppName::parse(bad).is_err(), "{bad}");
        }
    }
}
