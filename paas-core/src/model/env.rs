use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;

/// Most variables one app may set; keeps rows and process environments bounded.
const MAX_VARS: usize = 256;
/// Longest key accepted.
const MAX_KEY_LEN: usize = 256;
/// Longest value accepted (32 KiB).
const MAX_VALUE_LEN: usize = 32 * 1024;
/// Keys the platform sets itself: a user value would be overwritten, so it is refused instead.
const RESERVED: &[&str] = &["PORT"];

/// An environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvKey(String);

impl EnvKey {
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let mut bytes = s.bytes();
        let first_ok = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
        if !first_ok || !bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ValidationError::Env(format!(
                "key {} must match [A-Za-z_][A-Za-z0-9_]*",
                super::validation::quote(s)
            )));
        }
        if s.len() > MAX_KEY_LEN {
            return Err(ValidationError::Env(format!(
                "key is longer than {MAX_KEY_LEN} characters"
            )));
        }
        if RESERVED.contains(&s) {
            return Err(ValidationError::Env(format!(
                "key {s} is set by the platform"
            )));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EnvKey {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<EnvKey> for String {
    fn from(k: EnvKey) -> Self {
        k.0
    }
}

impl fmt::Display for EnvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An app's environment. Values may be secrets: `Debug` prints keys only, and nothing in the
/// platform logs them.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvVars(BTreeMap<EnvKey, String>);

impl EnvVars {
    /// Builds the environment from key/value pairs, refusing bad keys, duplicates and
    /// oversized input.
    pub fn parse<K: AsRef<str>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ValidationError> {
        let mut vars = BTreeMap::new();
        for (k, v) in pairs {
            let key = EnvKey::parse(k.as_ref())?;
            let value = v.into();
            if value.len() > MAX_VALUE_LEN {
                return Err(ValidationError::Env(format!(
                    "value of {key} is longer than {MAX_VALUE_LEN} bytes"
                )));
            }
            if value.contains('\0') {
                return Err(ValidationError::Env(format!(
                    "value of {key} holds a NUL byte"
                )));
            }
            if vars.insert(key.clone(), value).is_some() {
                return Err(ValidationError::Env(format!("key {key} is given twice")));
            }
            if vars.len() > MAX_VARS {
                return Err(ValidationError::Env(format!(
                    "more than {MAX_VARS} variables"
                )));
            }
        }
        Ok(Self(vars))
    }

    /// These variables with `change` applied: its values set (added or replaced), then its
    /// keys removed (a key not set is no error). A key both set and removed, or a result past
    /// the bound on variables, is refused.
    pub fn with(&self, change: &EnvChange) -> Result<Self, ValidationError> {
        if change.unset.len() > MAX_VARS {
            return Err(ValidationError::Env(format!(
                "more than {MAX_VARS} keys to unset"
            )));
        }
        if let Some(key) = change.unset.iter().find(|k| change.set.0.contains_key(*k)) {
            return Err(ValidationError::Env(format!(
                "key {key} is both set and unset"
            )));
        }
        let mut vars = self.0.clone();
        vars.extend(change.set.0.iter().map(|(k, v)| (k.clone(), v.clone())));
        for key in &change.unset {
            vars.remove(key);
        }
        if vars.len() > MAX_VARS {
            return Err(ValidationError::Env(format!(
                "more than {MAX_VARS} variables"
            )));
        }
        Ok(Self(vars))
    }

    pub fn keys(&self) -> impl Iterator<Item = &EnvKey> {
        self.0.keys()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&EnvKey, &String)> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every value of these variables (of 4 bytes or more: shorter ones would
    /// match too much) replaced by `[redacted]`. Platform messages that quote an app's output
    /// (exit reasons, system log lines) go through this, so a secret an app prints does not
    /// spread into the platform's own words.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        let mut values: Vec<&String> = self.0.values().filter(|v| v.len() >= 4).collect();
        // Longest first, so a value containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        for v in values {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), "[redacted]");
            }
        }
        out
    }
}

/// Variables to set and keys to remove, leaving the others as they are: how a client that
/// cannot read values back (they are write-only) changes one variable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvChange {
    pub set: EnvVars,
    pub unset: Vec<EnvKey>,
}

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_sets_and_unsets_leaving_the_rest() {
        let vars = EnvVars::parse([("A", "1"), ("B", "2"), ("C", "3")]).expect("vars");
        let change = EnvChange {
            set: EnvVars::parse([("B", "20"), ("D", "4")]).expect("set"),
            unset: vec![
                EnvKey::parse("C").expect("key"),
                EnvKey::parse("Z").expect("key"),
            ],
        };
        let next = vars.with(&change).expect("change");
        let got: Vec<(&str, &str)> = next.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, [("A", "1"), ("B", "20"), ("D", "4")]);

        let both = EnvChange {
            set: EnvVars::parse([("A", "9")]).expect("set"),
            unset: vec![EnvKey::parse("A").expect("key")],
        };
        assert!(matches!(vars.with(&both), Err(ValidationError::Env(_))));

        let many: Vec<(String, String)> = (0..MAX_VARS)
            .map(|i| (format!("K{i}"), "v".into()))
            .collect();
        let full = EnvVars::parse(many).expect("full");
        let one_more = EnvChange {
            set: EnvVars::parse([("EXTRA", "x")]).expect("set"),
            unset: Vec::new(),
        };
        assert!(matches!(full.with(&one_more), Err(ValidationError::Env(_))));
    }

    #[test]
    fn keys_follow_the_shell_rule() {
        for ok in ["A", "_x", "DATABASE_URL", "a1"] {
            assert!(EnvKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "É", "PORT"] {
            assert!(EnvKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn duplicates_and_debug() {
        assert!(EnvVars::parse([("A", "1"), ("A", "2")]).is_err());
        let env = EnvVars::parse([("TOKEN", "hunter2")]).expect("valid");
        assert!(!format!("{env:?}").contains("hunter2"));
    }

    #[test]
    fn scrub_replaces_values_longest_first() {
        let env =
            EnvVars::parse([("A", "hunter2"), ("B", "hunter2-extra"), ("C", "x")]).expect("valid");
        assert_eq!(
            env.scrub("pw hunter2-extra and hunter2, x"),
            "pw [redacted] and [redacted], x"
        );
    }
}
