//! `paas login` and `paas logout`.

use std::io::{BufRead, IsTerminal};

use serde_json::json;

use crate::client::cli::ClientOptions;
use crate::client::credentials::{self, Credentials};
use crate::client::failure::Failure;
use crate::client::http::Api;
use crate::client::output::Output;
use crate::client::queries::{Me, me};

/// Checks a token against `server` (`{ me { name } }`) and stores both; a refused token
/// stores nothing.
pub async fn login(options: &ClientOptions, out: &Output, server: &str) -> Result<(), Failure> {
    let token = match &options.token {
        Some(token) => token.clone(),
        None => read_secret(&format!("API token for {server}: "))?,
    };
    let token = token.trim().to_owned();
    if token.is_empty() {
        return Err(Failure::Usage("no token given".into()));
    }
    let api = Api::new(server, Some(token.clone()))?;
    let answer = api.run::<Me>(me::Variables).await?;
    let path = credentials::save(&Credentials {
        server: server.to_owned(),
        token,
    })?;
    if out.json {
        out.json_line(&json!({ "server": server, "me": answer.raw["me"] }));
    } else {
        out.line(&format!(
            "Logged in to {server} as {} (credentials in {})",
            answer.data.me.name,
            path.display()
        ));
    }
    Ok(())
}

/// Forgets the stored server and token.
pub fn logout(out: &Output) -> Result<(), Failure> {
    let removed = credentials::remove()?;
    if out.json {
        out.json_line(&json!({ "loggedOut": removed.is_some(), "server": removed }));
    } else {
        match removed {
            Some(server) => out.line(&format!("Logged out of {server}")),
            None => out.line("Not logged in"),
        }
    }
    Ok(())
}

/// A token: prompted for (with `prompt`) without echo on a terminal, else the first line of
/// stdin (so a script can pipe it in).
pub(super) fn read_secret(prompt: &str) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        rpassword::prompt_password(prompt)
            .map_err(|e| Failure::Local(format!("cannot read the token: {e}")))
    } else {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::Local(format!("cannot read the token from stdin: {e}")))?;
        Ok(line)
    }
}
