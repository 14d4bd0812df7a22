//! Values of the layers checked against the type of each key's default: a file's TOML value
//! must have that type, a variable's text is read as it (numbers, switches, comma lists).

use super::load::{ConfigError, Source};

/// A value of the right TOML type for `key` (whose default gives the type).
pub(super) fn check_type(
    key: &str,
    default: &toml::Value,
    value: &toml::Value,
    source: &Source,
) -> Result<(), ConfigError> {
    let fits = match (default, value) {
        (toml::Value::Array(_), toml::Value::Array(items)) => items.iter().all(|i| i.is_str()),
        (d, v) => d.same_type(v),
    };
    if fits {
        Ok(())
    } else {
        Err(ConfigError(format!(
            "{key} ({source}): expected {}, found {value}",
            kind(default)
        )))
    }
}

fn kind(default: &toml::Value) -> &'static str {
    match default {
        toml::Value::Integer(_) => "a whole number",
        toml::Value::Boolean(_) => "true or false",
        toml::Value::Array(_) => "a list of strings",
        _ => "a string",
    }
}

/// A variable's text as a value of `key`'s type: numbers, `true`/`false` (and clap's `1`, `yes`,
/// `on`…), comma-separated lists.
pub(super) fn from_text(
    key: &str,
    default: &toml::Value,
    raw: &str,
    source: &Source,
) -> Result<toml::Value, ConfigError> {
    let bad = || {
        ConfigError(format!(
            "{key} ({source}): expected {}, found `{raw}`",
            kind(default)
        ))
    };
    Ok(match default {
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().map_err(|_| bad())?),
        toml::Value::Boolean(_) => {
            toml::Value::Boolean(match raw.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "y" | "on" => true,
                "0" | "false" | "no" | "n" | "off" => false,
                _ => return Err(bad()),
            })
        }
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_owned()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_owned()),
    })
}
