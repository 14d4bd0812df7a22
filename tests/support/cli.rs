//! The `paas` command-line client as a user runs it: the real binary as a subprocess, with a
//! home and config dir of its own (where `paas login` keeps its credentials) and none of the
//! test's `PAAS_*` variables.

use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::server::paas_bin;

/// How long one client command may take (a create or deploy follows a build).
const COMMAND_WITHIN: Duration = Duration::from_secs(180);

/// A user's machine: a home dir and the `paas` binary.
pub struct CliUser {
    bin: PathBuf,
    home: tempfile::TempDir,
}

/// What a finished command left.
#[derive(Debug)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Stdout when the command succeeded, else an error with everything it said.
    pub fn ok(self) -> anyhow::Result<String> {
        if self.code != Some(0) {
            bail!(
                "exit {:?}\nstdout: {}\nstderr: {}",
                self.code,
                self.stdout,
                self.stderr
            );
        }
        Ok(self.stdout)
    }
}

impl CliUser {
    pub fn new() -> anyhow::Result<Self> {
        Ok(Self {
            bin: paas_bin()?,
            home: tempfile::tempdir()?,
        })
    }

    /// `$XDG_CONFIG_HOME` of this user.
    fn config_dir(&self) -> PathBuf {
        self.home.path().join(".config")
    }

    /// Where `paas login` keeps the server and token.
    pub fn credentials(&self) -> PathBuf {
        self.config_dir().join("paas").join("credentials.toml")
    }

    /// `paas <args>`, ready to run with this user's home, stdin closed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.config_dir())
            .env_remove("PAAS_SERVER")
            .env_remove("PAAS_TOKEN")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Runs `paas <args>` to its end.
    pub async fn run(&self, args: &[&str]) -> anyhow::Result<Ran> {
        self.run_with_stdin(args, None).await
    }

    /// Runs `paas <args>` with `input` piped on stdin (not a terminal).
    pub async fn run_with_stdin(&self, args: &[&str], input: Option<&str>) -> anyhow::Result<Ran> {
        let mut command = self.command(args);
        if input.is_some() {
            command.stdin(Stdio::piped());
        }
        let mut child = command.spawn()?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin.write_all(input.as_bytes()).await?;
        }
        let output = tokio::time::timeout(COMMAND_WITHIN, child.wait_with_output())
            .await
            .with_context(|| format!("paas {args:?} did not end in time"))??;
        Ok(Ran::from(output))
    }

    /// `paas --json <args>` that must succeed: its stdout as one JSON document.
    pub async fn json(&self, args: &[&str]) -> anyhow::Result<Value> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.run(&all).await?.ok()?;
        serde_json::from_str(&stdout).with_context(|| format!("not one JSON document: {stdout}"))
    }

    /// `paas --json <args>` that must succeed: its stdout as JSON lines.
    pub async fn json_lines(&self, args: &[&str]) -> anyhow::Result<Vec<Value>> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let stdout = self.run(&all).await?.ok()?;
        json_lines(&stdout)
    }

    /// `paas login <server>` with `token` piped on stdin.
    pub async fn login(&self, server: &str, token: &str) -> anyhow::Result<Ran> {
        self.run_with_stdin(&["login", server], Some(&format!("{token}\n")))
            .await
    }
}

/// Every line of `text` parsed as JSON.
pub fn json_lines(text: &str) -> anyhow::Result<Vec<Value>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("not JSON: {l}")))
        .collect()
}
