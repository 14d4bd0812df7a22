use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// A DNS host name (`shop.example.com`): lowercase labels of `[a-z0-9-]` (1–63 each, no
/// leading or trailing `-`), at least two of them, 253 characters at most. Parsed from a custom
/// domain a user adds or from a request's `Host` header (whose port, if any, is dropped first),
/// so the router compares names, never raw header text.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Domain(String);

impl Domain {
    /// Parses a name, lowercasing it and dropping one trailing dot (`example.com.`).
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| {
            Err(ValidationError::Domain(format!(
                "{} {why}",
                super::validation::quote(s)
            )))
        };
        let name = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if name.is_empty() || name.len() > 253 {
            return bad("must be 1 to 253 characters long");
        }
        let labels: Vec<&str> = name.split('.').collect();
        if labels.len() < 2 {
            return bad("must have at least two labels (like example.com)");
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return bad("has a label that is empty or longer than 63 characters");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return bad("may hold only letters, digits, '-' and '.'");
            }
            if label.starts_with('-') || label.ends_with('-') {
                return bad("has a label that starts or ends with '-'");
            }
        }
        if labels.iter().all(|l| l.bytes().all(|b| b.is_ascii_digit())) {
            return bad("is an IP address, not a name");
        }
        Ok(Self(name))
    }

    /// The name of a request's `Host` header value (`Host: Shop.example.com:8000`), its port
    /// dropped. A single label (`localhost`) is a name here too.
    pub fn from_host_header(value: &str) -> Result<Self, ValidationError> {
        let host = match value.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                host
            }
            Some(_) => {
                return Err(ValidationError::Domain(format!(
                    "{} has a bad port",
                    super::validation::quote(value)
                )));
            }
            None => value,
        };
        if !host.contains('.') && super::AppName::parse(&host.to_ascii_lowercase()).is_ok() {
            return Ok(Self(host.to_ascii_lowercase()));
        }
        Self::parse(host)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first label of a name under `parent` (`hello` of `hello.localhost` under
    /// `localhost`); `None` for another name or a deeper one.
    pub fn label_under(&self, parent: &str) -> Option<&str> {
        let label = self.0.strip_suffix(parent)?.strip_suffix('.')?;
        (!label.is_empty() && !label.contains('.')).then_some(label)
    }
}

impl TryFrom<String> for Domain {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Domain> for String {
    fn from(d: Domain) -> Self {
        d.0
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_names_lowercased() {
        assert_eq!(
            Domain::parse("Shop.Example.com.")
                .expect("a domain")
                .as_str(),
            "shop.example.com"
        );
        assert!(Domain::parse("a-b.c1.io").is_ok());
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "a_b.com",
            "a b.com",
            "10.0.0.1",
            "é.com",
            &format!("{}.com", "x".repeat(64)),
            &format!("{}.com", "a.".repeat(130)),
        ] {
            assert!(Domain::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_headers_drop_their_port() {
        let d = Domain::from_host_header("Hello.localhost:8000").expect("a host");
        assert_eq!(d.as_str(), "hello.localhost");
        assert_eq!(d.label_under("localhost"), Some("hello"));
        assert_eq!(
            Domain::from_host_header("localhost")
                .expect("a host")
                .as_str(),
            "localhost"
        );
        assert_eq!(d.label_under("example.com"), None);
        let deep = Domain::parse("a.b.localhost").expect("a domain");
        assert_eq!(deep.label_under("localhost"), None);
        for bad in ["a.com:x", "a.com:", "evil.com/x", "[::1]:80", "a b"] {
            assert!(Domain::from_host_header(bad).is_err(), "{bad}");
        }
    }
}
