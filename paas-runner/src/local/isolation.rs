//! Keeping local apps away from the server and from each other.
//!
//! When the server runs as root, every build step and every instance of an app runs as that
//! app's own unprivileged user: uid = gid = [`BASE_UID`] + a hash of the app id (no passwd entry
//! is needed, nothing is added to `/etc/passwd`), no supplementary groups. Its checkout is
//! handed to that user (0700) inside the apps dir (0711: reachable, not listable), which lies
//! outside the data dir (0700, root's): the app reaches neither `paas.db`, the key file, the logs,
//! nor another app's checkout, nor the environment of processes of other users in `/proc`.
//!
//! Where bubblewrap (`bwrap`) is installed and works here (user namespaces), the app also runs
//! in a sandbox: its own PID namespace (`/proc` shows only its processes), a private `/tmp`,
//! `/usr`, `/etc` and the libraries read-only, its checkout the only writable place; the data
//! dir and the apps dir are not mounted. The network is the host's (the router reaches apps
//! on `127.0.0.1:<port>`).
//!
//! Not isolated (see the README): the network (apps may connect to anything the host reaches,
//! including each other's ports and local databases), CPU and memory (no limits are applied),
//! world-readable host files. Podman is the runtime for mutually untrusted apps.
//!
//! Assumptions: two apps share a uid only if their ids hash alike (1 in 2^30 per pair).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use paas_core::model::AppId;
use paas_core::{Error, Result};
use sha2::{Digest, Sha256};
use tokio::process::Command;

/// First uid of app users: above the ranges of people, system users and usual subuid ranges.
pub const BASE_UID: u32 = 1_000_000_000;
/// Number of app uids.
const UID_SPAN: u32 = 1 << 30;

/// Directories of the host given to the sandbox, read-only, where they exist.
const READ_ONLY: &[&str] = &["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/etc"];

/// How apps are kept apart. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Isolation {
    mode: Mode,
}

#[derive(Clone, Debug, Default)]
enum Mode {
    /// Apps run as the server's user (a server not run as root cannot switch users).
    #[default]
    Off,
    /// Apps run as their own users, in bubblewrap when `bwrap` is set.
    Users { bwrap: Option<PathBuf> },
}

impl Isolation {
    /// Apps run as the server's own user.
    pub fn off() -> Self {
        Self::default()
    }

    /// Own users when the server runs as root, plus (with `sandbox`) bubblewrap when it is on
    /// the `PATH` and works on this machine (tried once, as an unprivileged user).
    pub fn detect(sandbox: bool) -> Self {
        if !nix::unistd::geteuid().is_root() {
            return Self::off();
        }
        let bwrap = if sandbox {
            find_on_path("bwrap").filter(|b| bwrap_works(b))
        } else {
            None
        };
        tracing::info!(
            sandbox = bwrap.is_some(),
            "apps run as their own users (uid {BASE_UID} and up)"
        );
        if sandbox && bwrap.is_none() {
            tracing::warn!(
                "bubblewrap (bwrap) is not installed or cannot create namespaces here: apps run \
                 as their own users, without a sandbox"
            );
        }
        Self {
            mode: Mode::Users { bwrap },
        }
    }

    /// Whether apps run as their own users (their checkouts must then live in an apps dir
    /// outside the data dir, see [`Isolation::prepare_apps_dir`]).
    pub fn is_on(&self) -> bool {
        matches!(self.mode, Mode::Users { .. })
    }

    /// Whether apps also run in bubblewrap.
    pub fn sandboxed(&self) -> bool {
        matches!(self.mode, Mode::Users { bwrap: Some(_) })
    }

    /// The uid (and gid) of an app.
    pub fn uid(app: AppId) -> u32 {
        let digest = Sha256::digest(app.as_uuid().as_bytes());
        let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
        BASE_UID + n % UID_SPAN
    }

    /// Makes the dir checkouts go to: 0711, so app users reach their own checkout in it but
    /// cannot list it; every parent must let others pass.
    pub fn prepare_apps_dir(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o711))
            .map_err(|e| Error::io(format!("setting the mode of {}", dir.display()), e))?;
        let dir = std::fs::canonicalize(dir)
            .map_err(|e| Error::io(format!("resolving {}", dir.display()), e))?;
        for parent in dir.ancestors().skip(1) {
            let mode = std::fs::metadata(parent)
                .map(|m| m.permissions().mode())
                .unwrap_or(0);
            if mode & 0o001 == 0 {
                return Err(Error::runtime(format!(
                    "apps run as their own users, so their dir {} must be reachable by them, \
                     but {} is closed to other users (mode {:o}): choose another apps dir \
                     (PAAS_APPS_DIR) or open it with chmod o+x",
                    dir.display(),
                    parent.display(),
                    mode & 0o777
                )));
            }
        }
        Ok(())
    }

    /// Gives a checkout to its app's user: everything in it owned by the app, the dir 0700.
    pub fn hand_over(&self, app: AppId, dir: &Path) -> Result<()> {
        if !self.is_on() {
            return Ok(());
        }
        let uid = Self::uid(app);
        if std::fs::metadata(dir).is_ok_and(|m| std::os::unix::fs::MetadataExt::uid(&m) == uid) {
            return Ok(());
        }
        chown_tree(dir, uid)
            .map_err(|e| Error::io(format!("handing over {}", dir.display()), e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(format!("setting the mode of {}", dir.display()), e))
    }

    /// `sh -c script` in `dir`, as the app's user and in the sandbox when isolation is on.
    /// The environment is the caller's to set (it starts as the server's: clear it).
    /// [`Lifetime`] says whether the process may outlive the server.
    pub fn shell(&self, app: AppId, dir: &Path, script: &str, lifetime: Lifetime) -> Command {
        let mut cmd = match &self.mode {
            Mode::Off => Command::new("sh"),
            Mode::Users { bwrap: None } => Command::new("sh"),
            Mode::Users { bwrap: Some(bwrap) } => {
                let mut cmd = Command::new(bwrap);
                cmd.args(sandbox_args(dir));
                if lifetime == Lifetime::Server {
                    // The sandbox dies with the server even when the server is killed.
                    cmd.arg("--die-with-parent");
                }
                cmd.arg("--").arg("sh");
                cmd
            }
        };
        cmd.arg("-c").arg(script).current_dir(dir);
        if self.is_on() {
            let uid = Self::uid(app);
            cmd.uid(uid).gid(uid);
        }
        cmd
    }
}

/// Whether a process may outlive the server that started it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifetime {
    /// An app's instance: it keeps serving while the server restarts, which adopts it.
    Own,
    /// A build step: nothing would take it over, so it ends with the server.
    Server,
}

/// bubblewrap's arguments: new namespaces but the network, the host's system read-only, `dir`
/// writable at its own path, nothing else of the host's disk.
fn sandbox_args(dir: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["--unshare-all", "--share-net"]
        .into_iter()
        .map(Into::into)
        .collect();
    for ro in READ_ONLY {
        args.extend(["--ro-bind-try".into(), (*ro).into(), (*ro).into()]);
    }
    for (flag, path) in [("--proc", "/proc"), ("--dev", "/dev"), ("--tmpfs", "/tmp")] {
        args.extend([flag.into(), path.into()]);
    }
    args.extend([
        "--bind".into(),
        dir.into(),
        dir.into(),
        "--chdir".into(),
        dir.into(),
    ]);
    args
}

/// Whether bubblewrap can make its namespaces here, as an unprivileged user.
fn bwrap_works(bwrap: &Path) -> bool {
    use std::os::unix::process::CommandExt;
    let nobody = 65534;
    std::process::Command::new(bwrap)
        .args(sandbox_args(Path::new("/tmp")))
        .args(["--", "true"])
        .uid(nobody)
        .gid(nobody)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// `chown -R uid:uid dir`, not following symlinks (a checkout's links may point anywhere).
fn chown_tree(dir: &Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(dir, Some(uid), Some(uid))?;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            chown_tree(&path, uid)?;
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(uid))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_uids_are_unprivileged_and_stable() {
        let a = AppId::new();
        assert_eq!(Isolation::uid(a), Isolation::uid(a));
        assert!(Isolation::uid(a) >= BASE_UID);
        assert_ne!(Isolation::uid(a), Isolation::uid(AppId::new()));
        assert!(!Isolation::off().is_on());
    }
}
