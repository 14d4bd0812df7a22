//! A failed git run as one of the platform's typed errors. Nothing a repository does reaches
//! the API as anything but one of these.

use super::run::{Failure, Output};
use crate::error::{Error, Fault};
use crate::model::GitUrl;

/// What was being done, for the messages.
#[derive(Clone, Copy, Debug)]
pub(super) enum Step {
    /// Reading the refs or fetching a branch: the remote answers.
    Remote,
    /// Checking out what was fetched: only our disk and the repository's content are involved.
    Checkout,
}

const MB: u64 = 1024 * 1024;

fn platform(message: String) -> Error {
    Error::Git {
        message,
        fault: Fault::Platform,
        source: None,
    }
}

/// The first line git wrote that says what went wrong (`fatal:` or `error:`), else the first.
fn reason(stderr: &str) -> &str {
    let lines = || stderr.lines().map(str::trim).filter(|l| !l.is_empty());
    lines()
        .find(|l| l.starts_with("fatal:") || l.starts_with("error:"))
        .or_else(|| lines().next())
        .unwrap_or("no message")
}

/// Faults of the way to the repository that may pass by themselves.
fn transient(stderr: &str) -> bool {
    [
        "timed out",
        "Connection reset",
        "early EOF",
        "The requested URL returned error: 50",
        "Temporary failure in name resolution",
    ]
    .iter()
    .any(|p| stderr.contains(p))
}

/// A run that did not finish.
pub(super) fn failure(url: &GitUrl, f: Failure, limit_bytes: u64) -> Error {
    match f {
        Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => {
            platform("the git command-line client is not installed (or not on PATH)".into())
        }
        Failure::Spawn(e) | Failure::Io(e) => Error::Git {
            message: format!("running git: {e}"),
            fault: Fault::Platform,
            source: Some(Box::new(e)),
        },
        Failure::TimedOut(after) => platform(format!(
            "reading {url} took longer than {} s and was stopped",
            after.as_secs()
        )),
        Failure::OutputTooLarge(limit) => Error::RepoTooLarge {
            url: url.to_string(),
            what: format!("it lists more than {limit} bytes of refs"),
        },
        Failure::DiskTooLarge(used) => Error::RepoTooLarge {
            url: url.to_string(),
            what: format!(
                "its checkout passed {} MB of disk, and a checkout may use at most {} MB",
                used / MB,
                limit_bytes / MB
            ),
        },
    }
}

/// A run that exited unsuccessfully.
pub(super) fn exited(url: &GitUrl, step: Step, out: &Output) -> Error {
    use std::os::unix::process::ExitStatusExt;
    let why = reason(&out.stderr);
    if let Some(signal) = out.status.signal() {
        // git itself crashed on this repository (the server did not).
        tracing::warn!(%url, signal, "git was killed by a signal");
        return platform(format!("git stopped with signal {signal} reading {url}"));
    }
    match step {
        Step::Checkout => Error::BuildFailed(format!("checking out {url}: {why}")),
        Step::Remote if transient(&out.stderr) => platform(format!("could not reach {url}: {why}")),
        Step::Remote => {
            tracing::debug!(%url, reason = why, "repository not readable");
            Error::RepoNotFound(url.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reason_is_the_fatal_line() {
        assert_eq!(
            reason("warning: x\nfatal: couldn't find remote ref refs/heads/a\n"),
            "fatal: couldn't find remote ref refs/heads/a"
        );
        assert_eq!(reason("\n  something\n"), "something");
        assert_eq!(reason(""), "no message");
    }
}
