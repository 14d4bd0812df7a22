//! The client's commands as clap parses them. Values are checked here (`K=V`, `10m`, a URL)
//! so a mistake is a usage error (exit 2) before anything is sent.

use clap::{Args, Subcommand};

/// Options every client command takes (global: before or after the command).
#[derive(Args, Clone, Debug, Default)]
#[command(next_help_heading = "Client options")]
pub struct ClientOptions {
    /// The server to talk to (default: the one `paas login` stored).
    #[arg(long, global = true, env = "PAAS_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// The API token (default: the one `paas login` stored).
    #[arg(long, global = true, env = "PAAS_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Print the API's data as JSON (a stream: one JSON object per line).
    #[arg(long, global = true)]
    pub json: bool,
}

/// The long names of [`ClientOptions`] (they are no setting of the server).
pub const CLIENT_FLAGS: &[&str] = &["server", "token", "json"];

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Client: log in to a paas server (the token is read without echo, or from stdin when it
    /// is not a terminal) and keep the server and token in ~/.config/paas/credentials.toml.
    Login {
        /// The server's API address, e.g. https://paas.example.com.
        #[arg(value_parser = server_url)]
        server_url: String,
    },
    /// Client: forget the stored server and token.
    Logout,
    /// Client: list your apps (name, status, URL).
    Apps,
    /// Client: create an app from a git repository and follow it until it runs.
    Create(CreateArgs),
    /// Client: build the app again (its branch head, or --commit) and roll it out.
    Deploy {
        /// The app's name.
        app: String,
        /// Build this commit instead of the branch head.
        #[arg(long)]
        commit: Option<String>,
        /// Answer at once instead of following the deploy to its end.
        #[arg(long)]
        no_wait: bool,
    },
    /// Client: show an app's status, URL, instances and last deployment.
    Status {
        /// The app's name.
        app: String,
        /// Print a line per status change until the app settles (exit 1 if it ends FAILED).
        #[arg(long)]
        watch: bool,
    },
    /// Client: print an app's log (-f to follow it live, --build for the build log).
    Logs(LogsArgs),
    /// Client: list, set or unset an app's environment variables (values are write-only).
    Env {
        #[command(subcommand)]
        command: EnvCommand,
    },
    /// Client: restart an app's instances from their current image.
    Restart {
        /// The app's name.
        app: String,
        #[arg(long)]
        no_wait: bool,
    },
    /// Client: run an earlier deployment's image again (default: the newest earlier build other
    /// than the one running).
    Rollback {
        /// The app's name.
        app: String,
        /// The deployment's id (`paas status --json` lists them).
        deployment: Option<String>,
        #[arg(long)]
        no_wait: bool,
    },
    /// Client: delete an app (asks to type its name unless --yes).
    Delete {
        /// The app's name.
        app: String,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
    /// Client: print the app's URL.
    Open {
        /// The app's name.
        app: String,
    },
    /// Client: give an app a webhook for GitHub, Gitea/Forgejo or GitLab pushes and print its
    /// URL and secret (shown this once; run again to rotate), or remove it with --delete.
    Webhook {
        /// The app's name.
        app: String,
        /// Remove the app's webhook instead.
        #[arg(long)]
        delete: bool,
    },
    /// Client: store your token for a git host (read without echo, or from stdin), so
    /// `paas repos` lists your repositories and private ones clone with it.
    GitToken {
        /// github or gitea (Forgejo too).
        #[arg(value_parser = ["github", "gitea"])]
        provider: String,
        /// The host's API URL: GitHub Enterprise's `https://HOST/api/v3`, or your Gitea's
        /// address (required for gitea).
        #[arg(long, value_parser = server_url)]
        base_url: Option<String>,
        /// Remove the stored token instead.
        #[arg(long, conflicts_with = "base_url")]
        remove: bool,
    },
    /// Client: list the repositories your stored git host token can see, latest update first.
    Repos {
        /// github or gitea.
        #[arg(long, default_value = "github", value_parser = ["github", "gitea"])]
        provider: String,
        /// Keep those whose owner/name holds each of these words.
        #[arg(long)]
        search: Option<String>,
        /// How many, at most 500.
        #[arg(short = 'n', long = "limit", default_value_t = 30,
              value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// A DNS label: 1–63 of a-z, 0-9 and -.
    pub name: String,
    /// The git repository's URL.
    #[arg(long)]
    pub repo: String,
    /// Default: the repository's default branch.
    #[arg(long)]
    pub branch: Option<String>,
    /// The port the app listens on (default: the platform picks one and passes it in $PORT).
    #[arg(long)]
    pub port: Option<u16>,
    /// An environment variable, KEY=VALUE (repeat for more).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
    pub env: Vec<(String, String)>,
    /// Redeploy on every new commit of the branch (deploy on push).
    #[arg(long)]
    pub auto_deploy: bool,
    /// Answer with the new app at once instead of following it until it runs.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    pub app: String,
    /// Keep printing new lines as the app writes them (Ctrl-C ends).
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Lines from this time on: RFC 3339 (2026-01-02T15:04:05Z) or an age (30s, 10m, 2h, 1d).
    #[arg(long, value_parser = since)]
    pub since: Option<String>,
    /// The build log of what the app runs last (a rollback's or env change's: its origin's
    /// build), to the end of the build.
    #[arg(long, conflicts_with_all = ["follow", "since"])]
    pub build: bool,
    /// How many lines, at most 5000 (default: the last 100; with --since, every line).
    #[arg(short = 'n', long = "lines", value_parser = clap::value_parser!(u32).range(1..=5000))]
    pub lines: Option<u32>,
}

#[derive(Subcommand, Debug)]
pub enum EnvCommand {
    /// The keys of the app's variables (values are never shown).
    List { app: String },
    /// Set variables, keeping the others; the app restarts with them.
    Set {
        /// The app's name.
        app: String,
        #[arg(required = true, value_name = "KEY=VALUE", value_parser = key_value)]
        vars: Vec<(String, String)>,
        #[arg(long)]
        no_wait: bool,
    },
    /// Remove variables, keeping the others; the app restarts without them.
    Unset {
        /// The app's name.
        app: String,
        #[arg(required = true, value_name = "KEY")]
        keys: Vec<String>,
        #[arg(long)]
        no_wait: bool,
    },
}

/// `KEY=VALUE` (the value may hold `=`).
fn key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("`{text}` is not KEY=VALUE")),
    }
}

/// An `http://` or `https://` address, without its trailing slash.
fn server_url(text: &str) -> Result<String, String> {
    let text = text.trim().trim_end_matches('/');
    if (text.starts_with("http://") || text.starts_with("https://")) && text.contains("//") {
        Ok(text.to_owned())
    } else {
        Err(format!("`{text}` is not an http:// or https:// address"))
    }
}

/// The server address of `--server`/`PAAS_SERVER`, checked like `login`'s.
pub fn check_server(text: &str) -> Result<String, String> {
    server_url(text)
}

/// `--since`: an RFC 3339 time as given, or an age before now as RFC 3339 (nanoseconds, UTC).
fn since(text: &str) -> Result<String, String> {
    since_at(text, chrono::Utc::now())
}

fn since_at(text: &str, now: chrono::DateTime<chrono::Utc>) -> Result<String, String> {
    let text = text.trim();
    if chrono::DateTime::parse_from_rfc3339(text).is_ok() {
        return Ok(text.to_owned());
    }
    let bad = || format!("`{text}` is neither RFC 3339 nor an age like 30s, 10m, 2h or 1d");
    let unit_at = text.len().checked_sub(1).ok_or_else(bad)?;
    let (number, unit) = text.split_at(unit_at);
    let number: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => number,
        "m" => number.checked_mul(60).ok_or_else(bad)?,
        "h" => number.checked_mul(3600).ok_or_else(bad)?,
        "d" => number.checked_mul(86_400).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let at = now - chrono::TimeDelta::try_seconds(seconds).ok_or_else(bad)?;
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_before_anything_is_sent() {
        assert_eq!(key_value("A=b=c"), Ok(("A".to_owned(), "b=c".to_owned())));
        assert!(key_value("=x").is_err() && key_value("AB").is_err());
        assert_eq!(
            server_url("https://p.example/"),
            Ok("https://p.example".into())
        );
        assert!(server_url("p.example").is_err());
        let now = chrono::DateTime::parse_from_rfc3339("2026-01-02T10:00:00Z")
            .expect("time")
            .to_utc();
        assert_eq!(
            since_at("10m", now),
            Ok("2026-01-02T09:50:00.000000000Z".into())
        );
        assert_eq!(
            since_at("2h", now),
            Ok("2026-01-02T08:00:00.000000000Z".into())
        );
        assert_eq!(
            since_at("2026-01-01T00:00:00Z", now),
            Ok("2026-01-01T00:00:00Z".into())
        );
        assert!(since_at("10x", now).is_err() && since_at("m", now).is_err());
    }
}
