//! Where the client finds its server and token: `--server`/`PAAS_SERVER` and
//! `--token`/`PAAS_TOKEN` first, then what `paas login` stored in
//! `<config dir>/paas/credentials.toml` (`$XDG_CONFIG_HOME` or `~/.config`), a file only its
//! owner may read (0600, in a 0700 directory). A stored token is only sent to the server it was
//! stored with.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::cli::{ClientOptions, check_server};
use super::failure::Failure;

/// What `paas login` stores. No `Debug`: the token is never printed.
#[derive(Serialize, Deserialize)]
pub struct Credentials {
    pub server: String,
    pub token: String,
}

/// `<config dir>/paas/credentials.toml`.
pub fn path() -> Result<PathBuf, Failure> {
    dirs::config_dir()
        .map(|dir| dir.join("paas").join("credentials.toml"))
        .ok_or_else(|| Failure::Local("no config dir: set HOME or XDG_CONFIG_HOME".into()))
}

/// The stored credentials, if any.
pub fn load() -> Result<Option<Credentials>, Failure> {
    let path = path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(local(&path, "read", &e)),
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        Failure::Local(format!(
            "{} is not a credentials file ({}): run `paas login` again",
            path.display(),
            e.message()
        ))
    })
}

/// Stores `credentials` (replacing the file whole, never readable by others); returns its path.
pub fn save(credentials: &Credentials) -> Result<PathBuf, Failure> {
    let path = path()?;
    let dir = path
        .parent()
        .ok_or_else(|| Failure::Local("the credentials file has no directory".into()))?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| local(dir, "create", &e))?;
    let text = toml::to_string(credentials)
        .map_err(|e| Failure::Local(format!("cannot write the credentials: {e}")))?;
    let partial = dir.join(".credentials.toml.partial");
    let _ = std::fs::remove_file(&partial);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| local(&partial, "create", &e))?;
    // The mode above is masked by the umask; set it exactly.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(|e| local(&partial, "write", &e))?;
    std::fs::rename(&partial, &path).map_err(|e| local(&path, "write", &e))?;
    Ok(path)
}

/// Removes the stored credentials; answers the server they were for, if there were any.
pub fn remove() -> Result<Option<String>, Failure> {
    let stored = load().ok().flatten().map(|c| c.server);
    let path = path()?;
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(Some(stored.unwrap_or_default())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(local(&path, "remove", &e)),
    }
}

/// The server and token a command uses: flags and variables first, then the stored ones.
pub fn resolve(options: &ClientOptions) -> Result<(String, String), Failure> {
    choose(options, load()?)
}

/// [`resolve`] with the stored credentials given.
fn choose(
    options: &ClientOptions,
    stored: Option<Credentials>,
) -> Result<(String, String), Failure> {
    let given = options
        .server
        .as_deref()
        .map(check_server)
        .transpose()
        .map_err(Failure::Usage)?;
    let server = given
        .or_else(|| stored.as_ref().map(|c| c.server.clone()))
        .ok_or(Failure::NotLoggedIn)?;
    let token = options
        .token
        .clone()
        // A stored token goes to the server it was stored for, never to another one.
        .or_else(|| stored.filter(|c| c.server == server).map(|c| c.token))
        .ok_or(Failure::NotLoggedIn)?;
    Ok((server, token))
}

fn local(path: &std::path::Path, what: &str, e: &std::io::Error) -> Failure {
    Failure::Local(format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_come_first_and_a_stored_token_stays_with_its_server() {
        let stored = || {
            Some(Credentials {
                server: "https://a.example".into(),
                token: "stored".into(),
            })
        };
        let options = |server: Option<&str>, token: Option<&str>| ClientOptions {
            server: server.map(str::to_owned),
            token: token.map(str::to_owned),
            json: false,
        };
        let chosen = |o: ClientOptions, s: Option<Credentials>| choose(&o, s).ok();
        assert_eq!(
            chosen(options(None, None), stored()),
            Some(("https://a.example".into(), "stored".into()))
        );
        assert_eq!(
            chosen(options(Some("https://a.example/"), Some("given")), stored()),
            Some(("https://a.example".into(), "given".into()))
        );
        // Another server: the stored token is not sent there.
        assert!(matches!(
            choose(&options(Some("https://b.example"), None), stored()),
            Err(Failure::NotLoggedIn)
        ));
        assert!(matches!(
            choose(&options(None, None), None),
            Err(Failure::NotLoggedIn)
        ));
        assert!(matches!(
            choose(&options(Some("b.example"), Some("t")), None),
            Err(Failure::Usage(_))
        ));
    }
}
