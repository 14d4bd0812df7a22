//! Printing settings without what must stay private: secrets are never shown, passwords in URLs
//! are masked. Used by `paas config` and by `Debug` of [`super::Config`] and of the settings.

use std::fmt;

use super::keys::{CREDENTIAL_URLS, Config, SECRETS, ordered_keys};
use super::load::Loaded;

/// `scheme://user:***@host/…`: the password of a URL's user info masked (a user name alone
/// is kept); anything without user info unchanged. Also masks `user:password@host` without a
/// scheme (a registry).
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &rest[..at];
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    format!("{scheme}{user}{}", &rest[at..])
}

/// A key's value as it may be shown.
pub fn shown(key: &str, value: &toml::Value) -> String {
    let empty = match value {
        toml::Value::String(s) => s.is_empty(),
        toml::Value::Array(a) => a.is_empty(),
        _ => false,
    };
    if SECRETS.contains(&key) && !empty {
        return "\"(hidden)\"".to_owned();
    }
    match value {
        toml::Value::String(s) if CREDENTIAL_URLS.contains(&key) => {
            toml::Value::String(redact_url(s)).to_string()
        }
        v => v.to_string(),
    }
}

/// `key = value` lines in the struct's order, each followed by `extra(key)`.
fn lines(config: &Config, extra: impl Fn(&str) -> String) -> Vec<String> {
    let table = toml::Table::try_from(config).unwrap_or_default();
    ordered_keys()
        .into_iter()
        .filter_map(|key| {
            let value = table.get(&key)?;
            Some(format!("{key} = {}{}", shown(&key, value), extra(&key)))
        })
        .collect()
}

/// What `paas config` prints: the effective configuration as TOML, with each value's source.
pub fn effective(loaded: &Loaded) -> String {
    let mut out = match &loaded.file {
        Some(path) => format!("# config file: {}\n", path.display()),
        None => "# config file: none (--config or PAAS_CONFIG)\n".to_owned(),
    };
    for line in lines(&loaded.config, |key| {
        let source = loaded.sources.get(key).cloned().unwrap_or_default();
        format!("  # {source}")
    }) {
        out.push_str(&line);
        out.push('\n');
    }
    out
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Config");
        for line in lines(self, |_| String::new()) {
            if let Some((k, v)) = line.split_once(" = ") {
                s.field(k, &format_args!("{v}"));
            }
        }
        s.finish()
    }
}

/// A URL that may hold a password: `Debug` and `Display` mask it; [`CredentialUrl::expose`]
/// gives it whole to the one place that connects with it.
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialUrl(String);

impl CredentialUrl {
    /// `None` for an empty string (the configuration's "not set").
    pub fn new(url: &str) -> Option<Self> {
        (!url.is_empty()).then(|| Self(url.to_owned()))
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CredentialUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_url(&self.0))
    }
}

impl fmt::Debug for CredentialUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", redact_url(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            redact_url("postgres://paas:s3cret@db:5432/paas?sslmode=require"),
            "postgres://paas:***@db:5432/paas?sslmode=require"
        );
        assert_eq!(
            redact_url("redis://:s3cret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact_url("user:pw@registry:5000"),
            "user:***@registry:5000"
        );
        assert_eq!(redact_url("redis://127.0.0.1/"), "redis://127.0.0.1/");
        assert_eq!(
            redact_url("sqlite://d/paas.db?mode=rwc"),
            "sqlite://d/paas.db?mode=rwc"
        );
        assert_eq!(redact_url("postgres://a:b@c/d@e"), "postgres://a:***@c/d@e");
    }

    #[test]
    fn debug_hides_secrets_and_passwords() {
        let config = Config {
            secret_key: "ab".repeat(32),
            nomad_token: "tok3n".into(),
            database_url: "postgres://u:pw9@h/db".into(),
            ..Config::default()
        };
        let debug = format!("{config:?}");
        for secret in ["abab", "tok3n", "pw9"] {
            assert!(!debug.contains(secret), "{debug}");
        }
        assert!(debug.contains("postgres://u:***@h/db"), "{debug}");
        let url = CredentialUrl::new("redis://:pw9@h").expect("set");
        assert!(!format!("{url:?} {url}").contains("pw9"));
    }
}
