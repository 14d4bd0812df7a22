//! The layers, in order: defaults ([`Config::default`]) → the TOML file (`--config` or
//! `PAAS_CONFIG`) → `PAAS_<KEY>` and the conventional variables ([`ALIASES`], `PORT`) → flags.
//! Each value remembers where it came from ([`Source`]). Unknown keys in the file and unknown
//! `PAAS_*` variables are warnings (a typo must not stop a server, but must be seen); a value
//! of the wrong type, or a file that is not TOML, stops the start with one line naming the key
//! and its layer.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::keys::{ALIASES, Config, defaults, env_name, flag_name};
use super::suggest::did_you_mean;
use super::value::{check_type, from_text};

/// The variable naming the config file when `--config` is not given.
pub const CONFIG_ENV: &str = "PAAS_CONFIG";

/// The client commands' variables (`paas apps`, `paas logs`, …): not settings of the server,
/// and no warning when they are set where a server starts (the same shell often runs both).
pub const CLIENT_ENV: &[&str] = &["PAAS_SERVER", "PAAS_TOKEN"];

/// Where a value came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Source {
    #[default]
    Default,
    File(PathBuf),
    Env(String),
    Flag(String),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(path) => write!(f, "file {}", path.display()),
            Source::Env(name) => write!(f, "env {name}"),
            Source::Flag(name) => write!(f, "flag {name}"),
        }
    }
}

/// A configuration that cannot be used: one line naming the key and its layer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub(super) String);

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// The effective configuration, where each value came from, and what was not understood.
pub struct Loaded {
    pub config: Config,
    /// The source of every key.
    pub sources: BTreeMap<String, Source>,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// One line per unknown key or variable.
    pub warnings: Vec<String>,
}

/// What the command line gave: the file flag and the values of the flags that were set.
#[derive(Default)]
pub struct FlagValues {
    pub config: Option<PathBuf>,
    pub values: Vec<(&'static str, toml::Value)>,
}

impl FlagValues {
    /// Records a flag's value when it was given.
    pub fn put<T: serde::Serialize>(&mut self, key: &'static str, value: Option<T>) {
        if let Some(v) = value.and_then(|v| toml::Value::try_from(v).ok()) {
            self.values.push((key, v));
        }
    }
    /// Records a switch (`--no-cache`): present turns it on, absent leaves it to other layers.
    pub fn switch(&mut self, key: &'static str, on: bool) {
        if on {
            self.values.push((key, toml::Value::Boolean(true)));
        }
    }
}

/// Loads the layers with the process's environment.
pub fn load(flags: FlagValues) -> Result<Loaded, ConfigError> {
    let env: Vec<(String, String)> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    load_from(flags, &env)
}

/// Loads the layers with the given environment.
pub fn load_from(flags: FlagValues, env: &[(String, String)]) -> Result<Loaded, ConfigError> {
    let defaults = defaults();
    let mut merged = defaults.clone();
    let mut sources: BTreeMap<String, Source> = defaults
        .keys()
        .map(|k| (k.clone(), Source::Default))
        .collect();
    let mut warnings = Vec::new();
    let lookup = |name: &str| {
        env.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };

    let file = flags
        .config
        .clone()
        .or_else(|| lookup(CONFIG_ENV).map(PathBuf::from));
    if let Some(path) = &file {
        for (key, value) in read_file(path)? {
            let source = Source::File(path.clone());
            match defaults.get(&key) {
                Some(default) => {
                    check_type(&key, default, &value, &source)?;
                    merged.insert(key.clone(), value);
                    sources.insert(key, source);
                }
                None => warnings.push(format!(
                    "unknown key `{key}` in {}{}",
                    path.display(),
                    did_you_mean(&key, defaults.keys().map(String::as_str))
                )),
            }
        }
    }

    for (key, default) in &defaults {
        let own = env_name(key);
        let aliases = ALIASES.iter().filter(|(k, _)| k == key).map(|(_, a)| *a);
        let found = std::iter::once(own.as_str())
            .chain(aliases)
            .find_map(|name| lookup(name).map(|v| (name.to_owned(), v)));
        if let Some((name, raw)) = found {
            let source = Source::Env(name);
            merged.insert(key.clone(), from_text(key, default, &raw, &source)?);
            sources.insert(key.clone(), source);
        } else if key == "listen"
            && let Some(port) = lookup("PORT")
        {
            let port: u16 = port
                .trim()
                .parse()
                .map_err(|_| ConfigError(format!("PORT: `{port}` is not a port number")))?;
            merged.insert(key.clone(), format!("127.0.0.1:{port}").into());
            sources.insert(key.clone(), Source::Env("PORT".into()));
        }
    }
    let known: Vec<String> = defaults.keys().map(|k| env_name(k)).collect();
    for (name, _) in env {
        if name.starts_with("PAAS_")
            && name != CONFIG_ENV
            && !CLIENT_ENV.contains(&name.as_str())
            && !known.contains(name)
        {
            warnings.push(format!(
                "unknown variable {name}{}",
                did_you_mean(name, known.iter().map(String::as_str))
            ));
        }
    }

    for (key, value) in flags.values {
        let source = Source::Flag(flag_name(key));
        let default = defaults
            .get(key)
            .ok_or_else(|| ConfigError(format!("{source} names no setting")))?;
        check_type(key, default, &value, &source)?;
        merged.insert(key.to_owned(), value);
        sources.insert(key.to_owned(), source);
    }

    let config = typed(&defaults, &merged, &sources)?;
    Ok(Loaded {
        config,
        sources,
        file,
        warnings,
    })
}

fn read_file(path: &Path) -> Result<toml::Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    text.parse::<toml::Table>().map_err(|e| {
        let first = e.message().lines().next().unwrap_or("").to_owned();
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        ConfigError(match line {
            Some(line) => format!(
                "the config file {} is not valid TOML (line {line}): {first}",
                path.display()
            ),
            None => format!(
                "the config file {} is not valid TOML: {first}",
                path.display()
            ),
        })
    })
}

/// The typed configuration. A value of the right TOML type may still be refused (a negative
/// number, an address that does not parse, an unknown runtime): the key at fault is found by
/// reading each set value alone over the defaults, so the line names it and its layer.
fn typed(
    defaults: &toml::Table,
    merged: &toml::Table,
    sources: &BTreeMap<String, Source>,
) -> Result<Config, ConfigError> {
    let whole = merged.clone().try_into::<Config>();
    let Err(whole_err) = whole else {
        return whole.map_err(|e| ConfigError(e.to_string()));
    };
    for (key, source) in sources {
        if *source == Source::Default {
            continue;
        }
        let mut one = defaults.clone();
        if let Some(v) = merged.get(key) {
            one.insert(key.clone(), v.clone());
            if let Err(e) = one.try_into::<Config>() {
                let shown = if super::keys::SECRETS.contains(&key.as_str()) {
                    String::new()
                } else {
                    format!(" = {}", super::print::shown(key, v))
                };
                return Err(ConfigError(format!(
                    "{key} ({source}){shown}: {}",
                    e.message().trim()
                )));
            }
        }
    }
    Err(ConfigError(whole_err.message().trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn later_layers_win_and_each_value_knows_its_source() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("paas.toml");
        std::fs::write(
            &file,
            "redis_prefix = \"file\"\nlock_wait_secs = 3\nclaim_after_secs = 7\n",
        )
        .expect("write");
        let mut flags = FlagValues {
            config: Some(file.clone()),
            ..FlagValues::default()
        };
        flags.put("claim_after_secs", Some(9u64));
        let loaded = load_from(
            flags,
            &env(&[
                ("PAAS_LOCK_WAIT_SECS", "4"),
                ("PAAS_CLAIM_AFTER_SECS", "8"),
                ("DATABASE_URL", "postgres://a:b@h/d"),
                ("PAAS_DATABASE_URL", "postgres://c:d@h/d"),
                ("PORT", "9000"),
            ]),
        )
        .expect("loads");
        let c = &loaded.config;
        assert_eq!(c.redis_prefix, "file");
        assert_eq!(c.lock_wait_secs, 4);
        assert_eq!(c.claim_after_secs, 9);
        // The PAAS_ name wins over the conventional one.
        assert_eq!(c.database_url, "postgres://c:d@h/d");
        assert_eq!(c.listen.to_string(), "127.0.0.1:9000");
        let source = |k: &str| loaded.sources.get(k).cloned();
        assert_eq!(source("redis_prefix"), Some(Source::File(file)));
        assert_eq!(
            source("lock_wait_secs"),
            Some(Source::Env("PAAS_LOCK_WAIT_SECS".into()))
        );
        assert_eq!(
            source("claim_after_secs"),
            Some(Source::Flag("--claim-after-secs".into()))
        );
        assert_eq!(source("listen"), Some(Source::Env("PORT".into())));
        assert_eq!(source("runtime"), Some(Source::Default));
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    }

    #[test]
    fn paas_listen_wins_over_port_and_lists_split_on_commas() {
        let loaded = load_from(
            FlagValues::default(),
            &env(&[
                ("PORT", "9000"),
                ("PAAS_LISTEN", "0.0.0.0:7000"),
                ("PAAS_NOMAD_DATACENTERS", "dc1, dc2"),
                ("PAAS_NO_CACHE", "1"),
            ]),
        )
        .expect("loads");
        assert_eq!(loaded.config.listen.to_string(), "0.0.0.0:7000");
        assert_eq!(loaded.config.nomad_datacenters, ["dc1", "dc2"]);
        assert!(loaded.config.no_cache);
    }

    #[test]
    fn unknown_names_are_warned_about_with_a_suggestion() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("paas.toml");
        std::fs::write(&file, "redis_prefx = \"x\"\n[redis]\nurl = \"y\"\n").expect("write");
        let loaded = load_from(
            FlagValues {
                config: Some(file),
                ..FlagValues::default()
            },
            &env(&[("PAAS_LOCK_LEASE_SEC", "5"), ("PAAS_ZZZZ", "1")]),
        )
        .expect("warnings do not stop the start");
        let w = loaded.warnings.join("\n");
        assert!(
            w.contains("unknown key `redis_prefx`") && w.contains("did you mean `redis_prefix`?"),
            "{w}"
        );
        assert!(w.contains("unknown key `redis`"), "{w}");
        assert!(
            w.contains(
                "unknown variable PAAS_LOCK_LEASE_SEC (did you mean `PAAS_LOCK_LEASE_SECS`?)"
            ),
            "{w}"
        );
        assert!(
            w.contains("unknown variable PAAS_ZZZZ") && !w.contains("PAAS_ZZZZ (did"),
            "{w}"
        );
    }

    #[test]
    fn the_client_variables_are_neither_settings_nor_warned_about() {
        let loaded = load_from(
            FlagValues::default(),
            &env(&[("PAAS_SERVER", "http://p.example"), ("PAAS_TOKEN", "t")]),
        )
        .expect("loads");
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert!(
            loaded.sources.values().all(|s| *s == Source::Default),
            "a client variable set a setting"
        );
        for key in defaults().keys() {
            assert!(!CLIENT_ENV.contains(&env_name(key).as_str()), "{key}");
        }
    }

    #[test]
    fn a_bad_value_names_its_key_and_layer_and_hides_secrets() {
        let err = |pairs: &[(&str, &str)]| {
            load_from(FlagValues::default(), &env(pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            err(&[("PAAS_LOCK_LEASE_SECS", "soon")]),
            "lock_lease_secs (env PAAS_LOCK_LEASE_SECS): expected a whole number, found `soon`"
        );
        assert_eq!(
            err(&[("PAAS_RUNTIME", "docker")]),
            "runtime (env PAAS_RUNTIME) = \"docker\": unknown variant `docker`, expected one of `process`, `podman`, `nomad`"
        );
        assert!(err(&[("PORT", "http")]).starts_with("PORT: `http` is not a port number"));
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("paas.toml");
        std::fs::write(&file, "max_connections = \"many\"\n").expect("write");
        let from_file = load_from(
            FlagValues {
                config: Some(file.clone()),
                ..FlagValues::default()
            },
            &[],
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert_eq!(
            from_file,
            format!(
                "max_connections (file {}): expected a whole number, found \"many\"",
                file.display()
            )
        );
    }
}
