//! One `git` child process, fenced in: an isolated environment, its own process group (killed
//! whole on a timeout, on too much output, on too much disk, or when the caller gives up), and
//! bounded reads of its output.
//!
//! Guarantees: a run ends by its deadline; at most `max_stdout` bytes of standard output and
//! [`STDERR_KEEP`] bytes of standard error are held in memory; with a watched directory, the
//! run is stopped soon after the directory passes its size limit (it is measured every
//! [`WATCH_EVERY`], so it may overshoot by what git writes in that time).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::usage::disk_usage;

/// Standard error kept for the error message (the rest is read and dropped).
pub(super) const STDERR_KEEP: usize = 16 * 1024;

/// How often a watched directory is measured.
const WATCH_EVERY: Duration = Duration::from_millis(100);

/// Why a run did not give an exit status.
#[derive(Debug)]
pub(super) enum Failure {
    /// `git` could not be started.
    Spawn(std::io::Error),
    TimedOut(Duration),
    /// Standard output passed its bound.
    OutputTooLarge(usize),
    /// The watched directory passed its bound (bytes used when seen).
    DiskTooLarge(u64),
    /// Reading the child's pipes or waiting for it failed.
    Io(std::io::Error),
}

/// What a finished run gave.
#[derive(Debug)]
pub(super) struct Output {
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    /// The start of standard error, lossily decoded.
    pub stderr: String,
}

/// A `git` invocation to run.
pub(super) struct Run {
    pub args: Vec<OsString>,
    /// Extra environment (e.g. credentials as `GIT_CONFIG_*`, never on the command line).
    pub env: Vec<(String, String)>,
    pub deadline: tokio::time::Instant,
    pub max_stdout: usize,
    /// A directory whose disk use is bounded while git runs.
    pub watch: Option<(PathBuf, u64)>,
    /// Protocols git may use (`GIT_ALLOW_PROTOCOL`).
    pub protocols: &'static str,
}

/// Kills the process group on drop unless disarmed: also when the caller's future is dropped
/// (a client gone), so no git is left running for nobody.
struct Group(Option<Pid>);

impl Group {
    fn kill(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = killpg(pid, Signal::SIGKILL);
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The settings every git run gets on its command line (see [`command`]).
const SETTINGS: [&str; 14] = [
    "-c",
    "core.symlinks=false",
    "-c",
    "submodule.recurse=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "credential.helper=",
    "-c",
    "maintenance.auto=false",
    "-c",
    "gc.auto=0",
];

/// The environment every git run gets: nothing of the server's but what running git needs, no
/// system or user configuration, no prompts.
fn command(run: &Run) -> Command {
    let mut cmd = Command::new("git");
    cmd.env_clear();
    for key in ["PATH", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND", "TMPDIR"] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    if std::env::var_os("GIT_SSH_COMMAND").is_none() {
        // No password or host-key prompt on a terminal the server may have.
        cmd.env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes");
    }
    cmd.envs([
        // No home: curl would send the server's `~/.netrc` passwords to any host a user names,
        // and git would read files from it. (ssh finds its keys through the user database.)
        ("HOME", "/nonexistent"),
        ("LC_ALL", "C"),
        ("GIT_CONFIG_NOSYSTEM", "1"),
        ("GIT_CONFIG_GLOBAL", "/dev/null"),
        ("GIT_TERMINAL_PROMPT", "0"),
        ("GIT_NO_REPLACE_OBJECTS", "1"),
        ("GIT_ALLOW_PROTOCOL", run.protocols),
    ]);
    cmd.envs(run.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    // Symbolic links are checked out as plain files holding their target, so nothing in a
    // checkout points out of it; submodules are never fetched; no hooks run. No maintenance
    // either: a fetch would start `git maintenance run --auto --detach`, a process of its own
    // session that outlives the run (and its group's kill) and may write in the checkout while
    // it is built or removed; a checkout lives for one build and needs none.
    cmd.args(SETTINGS);
    cmd.args(&run.args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    cmd
}

/// Runs git to its end or to the first bound it passes.
pub(super) async fn run(run: Run) -> Result<Output, Failure> {
    let mut child = command(&run).spawn().map_err(Failure::Spawn)?;
    let mut group = Group(
        child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw),
    );
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let max = run.max_stdout;
    let timeout = run
        .deadline
        .saturating_duration_since(tokio::time::Instant::now());
    let outcome = tokio::select! {
        r = async {
            let (out, err) = tokio::try_join!(read_capped(stdout, max), read_head(stderr))?;
            let status = child.wait().await.map_err(Failure::Io)?;
            Ok((status, out, err))
        } => r,
        () = tokio::time::sleep_until(run.deadline) => Err(Failure::TimedOut(timeout)),
        used = watch(run.watch.clone()) => Err(Failure::DiskTooLarge(used)),
    };
    match outcome {
        Ok((status, stdout, stderr)) => {
            // The leader is gone; anything it left behind in its group goes too.
            group.kill();
            Ok(Output {
                status,
                stdout,
                stderr,
            })
        }
        Err(e) => {
            group.kill();
            let _ = child.wait().await;
            Err(e)
        }
    }
}

async fn read_capped(pipe: Option<impl AsyncRead + Unpin>, max: usize) -> Result<Vec<u8>, Failure> {
    let mut out = Vec::new();
    let Some(pipe) = pipe else { return Ok(out) };
    // One byte more than allowed tells "exactly at the bound" from "past it".
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    pipe.take(limit)
        .read_to_end(&mut out)
        .await
        .map_err(Failure::Io)?;
    if out.len() > max {
        return Err(Failure::OutputTooLarge(max));
    }
    Ok(out)
}

async fn read_head(pipe: Option<impl AsyncRead + Unpin>) -> Result<String, Failure> {
    let Some(mut pipe) = pipe else {
        return Ok(String::new());
    };
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = pipe.read(&mut buf).await.map_err(Failure::Io)?;
        if n == 0 {
            return Ok(String::from_utf8_lossy(&kept).into_owned());
        }
        let room = STDERR_KEEP.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
}

/// Resolves with the bytes used once `dir` uses more than its bound; never without one.
async fn watch(watch: Option<(PathBuf, u64)>) -> u64 {
    let Some((dir, limit)) = watch else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(WATCH_EVERY).await;
        let d = dir.clone();
        let used = tokio::task::spawn_blocking(move || disk_usage(&d, limit))
            .await
            .unwrap_or(0);
        if used > limit {
            return used;
        }
    }
}

/// `git --version`'s answer, e.g. `(2, 47)`.
pub(super) fn parse_version(out: &str) -> Option<(u32, u32)> {
    let v = out.trim().strip_prefix("git version ")?;
    let mut parts = v.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What git itself reads for each setting given on the command line.
    #[tokio::test]
    async fn every_run_has_no_hooks_symlinks_or_background_maintenance() {
        let dir = tempfile::tempdir().expect("a temp dir");
        for (key, want) in [
            ("core.symlinks", "false"),
            ("core.hooksPath", "/dev/null"),
            ("maintenance.auto", "false"),
            ("gc.auto", "0"),
        ] {
            let mut args: Vec<OsString> = vec!["-C".into(), dir.path().into()];
            args.extend(["config", "--get", key].map(OsString::from));
            let out = run(Run {
                args,
                env: Vec::new(),
                deadline: tokio::time::Instant::now() + Duration::from_secs(10),
                max_stdout: 1024,
                watch: None,
                protocols: "file",
            })
            .await
            .expect("git ran");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), want, "{key}");
        }
    }

    #[test]
    fn versions() {
        assert_eq!(parse_version("git version 2.47.3\n"), Some((2, 47)));
        assert_eq!(
            parse_version("git version 2.39.5 (Apple Git-154)"),
            Some((2, 39))
        );
        assert_eq!(parse_version("nonsense"), None);
    }
}
